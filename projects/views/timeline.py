"""The project's timeline: a Gantt chart drawn on the server as inline SVG (no script).

Same door as the project page: staff roles read it, anyone else is refused (403), an
unknown project is 404, and anonymous visitors go to the login page. A fixed number of
queries whatever the plan's size: the project, its milestones, its tasks (with their
assignees), its dependencies, and, when it has a calendar, its working days and holidays.
"""

from django.shortcuts import render
from django.utils import timezone

from config.models import BusinessHours, Holiday
from projects import gantt
from projects.access import can_plan, get_project_for
from projects.models import Dependency, Milestone
from projects.selectors import expected_date
from projects.views.pages import staff_only


def _person(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def _days_off(project, start, end):
    """The project's working weekdays and its holidays between `start` and `end`; Monday
    to Friday and none without a calendar (as projects.scheduling counts them)."""
    if project.calendar_id is None:
        return gantt.MONDAY_TO_FRIDAY, ()
    hours = BusinessHours.objects.filter(calendar_id=project.calendar_id)
    weekdays = frozenset(hours.values_list("weekday", flat=True)) or gantt.MONDAY_TO_FRIDAY
    holidays = Holiday.objects.filter(
        calendar_id=project.calendar_id, date__range=(start, end)
    ).values_list("date", flat=True)
    return weekdays, tuple(holidays)


@staff_only
def project_timeline(request, key):
    project = get_project_for(request.user, key)
    today = timezone.localdate()
    milestones = list(project.milestones.order_by(expected_date(), "target_date", "id"))
    tasks = list(
        project.tasks.select_related("assignee").only(
            "id",
            "project_id",
            "title",
            "milestone_id",
            "start_date",
            "due_date",
            "forecast_start",
            "forecast_finish",
            "is_critical",
            "completed_at",
            "assignee__first_name",
            "assignee__last_name",
            "assignee__username",
        )
    )
    links = [
        gantt.LinkIn(predecessor=pred, successor=succ, type=kind)
        for pred, succ, kind in Dependency.objects.filter(successor__project=project).values_list(
            "predecessor_id", "successor_id", "type"
        )
    ]
    chart_tasks = [
        gantt.TaskIn(
            id=task.pk,
            title=task.title,
            milestone_id=task.milestone_id,
            # The computed forecast first; the dates people typed until one exists.
            start=task.forecast_start or task.start_date,
            finish=task.forecast_finish or task.due_date,
            critical=task.is_critical,
            done=task.completed_at is not None,
            assignee=_person(task.assignee),
        )
        for task in tasks
    ]
    chart_milestones = [
        gantt.MilestoneIn(
            id=m.pk,
            name=m.name,
            kind="" if m.kind == Milestone.Kind.REGULAR else m.get_kind_display(),
            baseline=m.baseline_date,
            target=m.target_date,
            forecast=m.forecast_date,
            completed=timezone.localdate(m.completed_at) if m.completed_at else None,
        )
        for m in milestones
    ]
    extra = (project.start_date, project.target_date)
    start, end = gantt.chart_span(chart_milestones, chart_tasks, today, extra_dates=extra)
    weekdays, holidays = _days_off(project, start, end)
    chart = gantt.layout(
        milestones=chart_milestones,
        tasks=chart_tasks,
        links=links,
        today=today,
        extra_dates=extra,
        working_weekdays=weekdays,
        holidays=holidays,
    )
    expected = [m.expected_date for m in milestones]
    context = {
        "project": project,
        "can_plan": can_plan(request.user, project),
        "chart": chart,
        "has_plan": bool(tasks or milestones),
        "task_count": len(tasks),
        "critical_count": sum(task.is_critical for task in tasks),
        "unscheduled_count": sum(1 for t in chart_tasks if t.start is None and t.finish is None),
        "forecast_finish": max(expected) if expected else None,
        "late_milestones": sum(1 for m in chart_milestones if _late(m)),
        "today": today,
    }
    return render(request, "projects/timeline.html", context)


def _late(milestone: gantt.MilestoneIn) -> bool:
    return bool(milestone.forecast and milestone.target and milestone.forecast > milestone.target)
