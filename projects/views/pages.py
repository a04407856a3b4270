"""The project pages: list, home, create and edit, milestones, risks, status updates,
workload and the post-project review.

Who may do what, on every page: agents and project managers read (a project's pages are
working pages for staff; stakeholders read status pages instead), the owner, the team and
project managers change. The project is always taken through projects.access first, so a
project someone may not see is a 404 whatever their role, and every write goes through
projects.services. A form with errors comes back with status 400 and what was typed.
"""

import copy
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, Sum, Window
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import dateformat, timezone
from django.views.decorators.http import require_POST

from config.decorators import role_required
from config.forms import add_service_errors
from config.roles import is_project_manager, is_staff_role
from projects import services
from projects.access import can_plan, get_project_page_for
from projects.forms import (
    LessonForm,
    MilestoneForm,
    ProjectFilterForm,
    ProjectForm,
    RescheduleForm,
    RiskForm,
    StatusUpdateForm,
    person_label,
)
from projects.models import (
    Capacity,
    MilestoneSlip,
    Project,
    ProjectEvent,
    Risk,
    StatusUpdate,
    Task,
)
from projects.selectors import name_cursor, name_cursor_decode, open_milestones

STAFF_ONLY = "Projects are for agents and project managers."
staff_only = role_required(is_staff_role, STAFF_ONLY)
pms_only = role_required(is_project_manager, "Only project managers start projects.")

User = get_user_model()


# --- Access -------------------------------------------------------------------------


def _project_context(request, project: Project, tab: str, *, planner: bool | None = None):
    """What every project page's head (templates/projects/_head.html) needs."""
    if planner is None:
        planner = can_plan(request.user, project)
    return {"project": project, "tab": tab, "can_plan": planner}


def _status_for(request) -> int:
    """A form shown again after a POST failed validation answers 400, else 200."""
    return 400 if request.method == "POST" else 200


# --- The project list ---------------------------------------------------------------

PAGE_SIZE = 100


@staff_only
def project_list(request):
    """Projects with health, status, next milestone, owner and liaison. Filters: status
    (current by default, archived, all), health, mine. Keyset pages by (name, id)."""
    user = request.user
    filter_form = ProjectFilterForm(request.GET)
    filters = filter_form.values()
    projects = (
        Project.objects.visible_to(user)
        .select_related("owner", "liaison")
        .prefetch_related(open_milestones())
        .order_by("name", "id")
    )
    status = filters["status"]
    if status == "archived":
        projects = projects.filter(archived_at__isnull=False)
    elif status != "all":
        projects = projects.filter(archived_at__isnull=True)
        if status:
            projects = projects.filter(status=status)
    if filters["health"]:
        projects = projects.filter(health=filters["health"])
    if filters["mine"]:
        membership = Project.members.through.objects.filter(
            project_id=OuterRef("pk"), user_id=user.pk
        )
        projects = projects.filter(Q(owner=user) | Q(liaison=user) | Exists(membership))
    after = name_cursor_decode(request.GET.get("after", ""))
    if after is not None:
        name, pk = after
        projects = projects.filter(Q(name__gt=name) | Q(name=name, pk__gt=pk))
    page = list(projects[: PAGE_SIZE + 1])
    next_query = ""
    if len(page) > PAGE_SIZE:
        page = page[:PAGE_SIZE]
        params = request.GET.copy()
        params["after"] = name_cursor(page[-1])
        next_query = params.urlencode()
    return render(
        request,
        "projects/project_list.html",
        {
            "projects": page,
            "filter_form": filter_form,
            "filters": filters,
            "next_query": next_query,
            "filtered": bool(status or filters["health"] or filters["mine"]),
            "may_create": is_project_manager(user),
        },
    )


# --- Create, edit, archive ----------------------------------------------------------


def _save_people(project: Project, data: dict, actor) -> None:
    services.members_set(project=project, users=data["members"], actor=actor)
    services.stakeholders_set(project=project, users=data["stakeholders"], actor=actor)


EDITABLE = [field for field in services.PROJECT_FIELDS if field != "health"]


@pms_only
def project_create(request):
    form = ProjectForm(request.POST if request.method == "POST" else None, creating=True)
    if request.method == "GET":
        form.initial["owner"] = request.user.pk
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = {name: data[name] for name in ("key", "slug", *EDITABLE)}
        try:
            with transaction.atomic():
                project = services.project_create(owner=data["owner"], actor=request.user, **fields)
                _save_people(project, data, request.user)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except IntegrityError:
            form.add_error(None, "Another project took that key or address a moment ago.")
        else:
            messages.success(request, f"{project.key} created, with a board of four columns.")
            return redirect(project)
    return render(
        request,
        "projects/project_form.html",
        {"form": form, "creating": True},
        status=_status_for(request),
    )


@login_required
def project_edit(request, key):
    project = get_project_page_for(request.user, key, write=True)
    # The form changes the instance it is given while it validates; give it a copy, so
    # the page's head keeps showing the project as it is until the change is saved.
    editable = copy.copy(project)
    form = ProjectForm(
        request.POST if request.method == "POST" else None, instance=editable, creating=False
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                services.project_update(
                    project=project, actor=request.user, **{f: data[f] for f in EDITABLE}
                )
                _save_people(project, data, request.user)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Project saved.")
            return redirect(project)
    context = {"form": form, "creating": False, **_project_context(request, project, "edit")}
    return render(request, "projects/project_form.html", context, status=_status_for(request))


@login_required
@require_POST
def project_archive(request, key):
    project = get_project_page_for(request.user, key, write=True)
    if project.archived_at is not None:
        messages.info(request, f"{project.key} was already archived.")
    else:
        services.project_archive(project=project, actor=request.user)
        messages.success(request, f"{project.key} archived. It stays readable here.")
    return redirect(project)


# --- The project's home -------------------------------------------------------------

RECENT_ACTIVITY = 12
TOP_RISKS = 5


@login_required
def project_detail(request, key):
    """Health, the latest status update, milestones, top risks, progress and activity.
    A constant number of queries, however many milestones, tasks and events."""
    project = get_project_page_for(request.user, key)
    milestones = list(project.milestones.all())
    latest_update = project.status_updates.select_related("author").first()
    top_risks = list(
        project.risks.filter(status=Risk.Status.OPEN)
        .select_related("owner")
        .annotate(score_value=F("probability") * F("impact"), open_total=Window(Count("id")))
        .order_by("-score_value", "-created_at")[:TOP_RISKS]
    )
    progress = project.tasks.aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(completed_at__isnull=False)),
        hours_left=Sum("estimate_hours", filter=Q(completed_at__isnull=True)),
    )
    context = {
        **_project_context(request, project, "overview"),
        "milestones": milestones,
        "latest_update": latest_update,
        "update_overdue": _update_overdue(project, latest_update),
        "top_risks": top_risks,
        "open_risk_count": top_risks[0].open_total if top_risks else 0,
        "progress": progress,
        "activity": project_activity(project),
    }
    return render(request, "projects/project_detail.html", context)


def _update_overdue(project: Project, latest: StatusUpdate | None) -> bool:
    if project.status != Project.Status.ACTIVE or project.archived_at:
        return False
    week_ago = timezone.now() - timedelta(days=7)
    if latest is None:
        return project.created_at < week_ago
    return latest.created_at < week_ago


def _day(value) -> str:
    """An ISO date from an event's payload, as people write it ("4 Mar 2025")."""
    try:
        return dateformat.format(date.fromisoformat(str(value)), "j M Y")
    except ValueError:
        return str(value)


FIELD_LABELS = {
    "name": "name", "description": "description", "status": "status", "health": "health",
    "visibility": "status page visibility", "start_date": "start date",
    "target_date": "target date", "liaison": "liaison", "calendar": "calendar",
}  # fmt: skip
CHOICE_LABELS = {
    "status": dict(Project.Status.choices),
    "health": dict(Project.Health.choices),
    "visibility": {"private": "Private", "stakeholders": "Stakeholders", "public": "Public"},
}


def _describe_change(field, old, new, names) -> str:
    label = FIELD_LABELS.get(field, field.replace("_", " "))
    if field in ("name", "description"):
        return f"edited the {label}"
    if field == "calendar":
        return "changed the calendar"
    if field == "liaison":
        old, new = names.get(old, "nobody"), names.get(new, "nobody")
    elif field in CHOICE_LABELS:
        old, new = CHOICE_LABELS[field].get(old, old), CHOICE_LABELS[field].get(new, new)
    elif field.endswith("_date"):
        old, new = (_day(v) if v else "none" for v in (old, new))
    return f"changed the {label} from {old} to {new}"


def _describe_event(event: ProjectEvent, names: dict) -> tuple[str, str]:
    """(what happened, a detail line or "") for one outbox event, in words."""
    payload = event.payload or {}
    kind = event.kind
    name = payload.get("name", "a milestone")
    if kind == ProjectEvent.Kind.MILESTONE_COMPLETED:
        return f"completed “{name}”", ""
    if kind == ProjectEvent.Kind.MILESTONE_FORECAST_CHANGED:
        new, old = payload.get("new_date"), payload.get("old_date")
        if new and old:
            return f"Forecast of “{name}” moved from {_day(old)} to {_day(new)}", ""
        if new:
            return f"Forecast of “{name}” set to {_day(new)}", ""
        return f"Forecast of “{name}” cleared", ""
    if kind == ProjectEvent.Kind.STATUS_UPDATE_PUBLISHED:
        health = dict(Project.Health.choices).get(payload.get("health"), "")
        return f"published a status update: {health}" if health else "published a status update", ""
    if kind == ProjectEvent.Kind.MILESTONE_RESCHEDULED:
        old, new = _day(payload.get("old_date", "")), _day(payload.get("new_date", ""))
        return f"moved “{name}” from {old} to {new}", payload.get("reason", "")
    if payload.get("change") == "created":
        return "created the project", ""
    if payload.get("change") == "archived":
        return "archived the project", ""
    changes = payload.get("changes") or {}
    if changes:
        return "; ".join(
            _describe_change(field, *values, names)
            for field, values in changes.items()
            if isinstance(values, list) and len(values) == 2
        ) or "changed the project", ""
    return event.get_kind_display().lower(), ""


def project_activity(project: Project, limit: int = RECENT_ACTIVITY) -> list[dict]:
    """The latest plan changes in words: outbox events and milestone slips (a slip carries
    who and why even when no event was written for it), newest first. Three queries at
    most, whatever the history's length."""
    events = list(
        project.events.exclude(kind=ProjectEvent.Kind.MILESTONE_RESCHEDULED)
        .select_related("actor")
        .order_by("-id")[:limit]
    )
    slips = list(
        MilestoneSlip.objects.filter(milestone__project=project)
        .select_related("milestone", "author")
        .order_by("-created_at", "-id")[:limit]
    )
    liaison_ids = {
        pk
        for event in events
        for pk in ((event.payload or {}).get("changes") or {}).get("liaison", [])
        if isinstance(pk, int)
    }
    names = {}
    if liaison_ids:
        names = {user.pk: person_label(user) for user in User.objects.filter(pk__in=liaison_ids)}
    # A forecast that merely followed a moved target (no tasks push it) says nothing the
    # slip does not already say.
    followed = {(slip.milestone_id, slip.new_date.isoformat()) for slip in slips}
    items = []
    for event in events:
        payload = event.payload or {}
        computed = event.kind == ProjectEvent.Kind.MILESTONE_FORECAST_CHANGED
        if computed and (payload.get("milestone"), payload.get("new_date")) in followed:
            continue
        text, detail = _describe_event(event, names)
        items.append(
            {"when": event.created_at, "who": None if computed else event.actor, "text": text,
             "detail": detail, "kind": event.kind, "computed": computed}
        )  # fmt: skip
    for slip in slips:
        items.append(
            {
                "when": slip.created_at,
                "who": slip.author,
                "text": f"moved “{slip.milestone.name}” from {_day(slip.old_date)} "
                f"to {_day(slip.new_date)}",
                "detail": slip.reason,
                "kind": "slip",
                "days": slip.days,
            }
        )
    items.sort(key=lambda item: item["when"], reverse=True)
    return items[:limit]


# --- Milestones ---------------------------------------------------------------------


@login_required
def milestones(request, key):
    """Every milestone with baseline, target, forecast, slip and its history of moves;
    planners add milestones here (the first target becomes the baseline)."""
    project = get_project_page_for(request.user, key, write=request.method == "POST")
    form = MilestoneForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            milestone = services.milestone_create(
                project=project,
                name=data["name"],
                target_date=data["target_date"],
                kind=data["kind"],
                actor=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Milestone “{milestone.name}” added.")
            return redirect("projects:milestones", project.key)
    rows = project.milestones.prefetch_related(_slips_prefetch())
    context = {
        **_project_context(request, project, "milestones"),
        "milestones": rows,
        "form": form,
    }
    return render(request, "projects/milestones.html", context, status=_status_for(request))


def _slips_prefetch():
    return Prefetch("slips", queryset=MilestoneSlip.objects.select_related("author"))


@login_required
def milestone_reschedule(request, key, pk):
    project = get_project_page_for(request.user, key, write=True)
    milestone = get_object_or_404(project.milestones.prefetch_related(_slips_prefetch()), pk=pk)
    form = RescheduleForm(
        request.POST if request.method == "POST" else None,
        milestone=milestone,
        initial={"target_date": milestone.target_date},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            moved = services.milestone_reschedule(
                milestone=milestone,
                target_date=data["target_date"],
                reason=data["reason"],
                actor=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                f"“{moved.name}” moved to {_day(moved.target_date)}; the help desk hears of it.",
            )
            return redirect("projects:milestones", project.key)
    context = {
        **_project_context(request, project, "milestones", planner=True),
        "milestone": milestone,
        "form": form,
    }
    return render(
        request, "projects/milestone_reschedule.html", context, status=_status_for(request)
    )


@login_required
@require_POST
def milestone_complete(request, key, pk):
    project = get_project_page_for(request.user, key, write=True)
    milestone = get_object_or_404(project.milestones, pk=pk)
    if milestone.completed_at is not None:
        messages.info(request, f"“{milestone.name}” was already complete.")
    else:
        services.milestone_complete(milestone=milestone, actor=request.user)
        messages.success(request, f"“{milestone.name}” is complete.")
    return redirect("projects:milestones", project.key)


# --- Risks --------------------------------------------------------------------------


def risk_level(score: int) -> str:
    """The band of a probability × impact score on the 5×5 matrix."""
    if score >= 20:
        return "extreme"
    if score >= 10:
        return "high"
    if score >= 5:
        return "medium"
    return "low"


RISK_LEVEL_LABELS = {"low": "Low", "medium": "Medium", "high": "High", "extreme": "Extreme"}


def heat_map(counts: dict[tuple[int, int], int]) -> list[dict]:
    """Rows of the 5×5 matrix, impact 5 (top) to 1, each with cells for probability 1–5."""
    rows = []
    for impact in range(5, 0, -1):
        cells = []
        for probability in range(1, 6):
            score = probability * impact
            level = risk_level(score)
            cells.append(
                {
                    "probability": probability,
                    "impact": impact,
                    "score": score,
                    "level": level,
                    "level_label": RISK_LEVEL_LABELS[level],
                    "count": counts.get((probability, impact), 0),
                }
            )
        rows.append({"impact": impact, "cells": cells})
    return rows


def _int_param(request, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() and 1 <= int(value) <= 5 else None


@login_required
def risks(request, key):
    """The register: a heat map of open risks and the list (a cell filters it); planners
    add risks here."""
    project = get_project_page_for(request.user, key, write=request.method == "POST")
    form = RiskForm(request.POST if request.method == "POST" else None, creating=True)
    if request.method == "POST" and form.is_valid():
        try:
            risk = services.risk_save(project=project, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Risk “{risk.title}” added (score {risk.score}).")
            return redirect("projects:risks", project.key)
    counts = {
        (row["probability"], row["impact"]): row["n"]
        for row in project.risks.filter(status=Risk.Status.OPEN)
        .values("probability", "impact")
        .annotate(n=Count("id"))
        .order_by()
    }
    cell = (_int_param(request, "p"), _int_param(request, "i"))
    listed = project.risks.select_related("owner").annotate(
        score_value=F("probability") * F("impact")
    )
    if None not in cell:
        listed = listed.filter(probability=cell[0], impact=cell[1])
    listed = listed.order_by("status", "-score_value", "-created_at")
    all_risks = list(listed)
    for risk in all_risks:
        risk.level = risk_level(risk.score)
    context = {
        **_project_context(request, project, "risks"),
        "heat_map": heat_map(counts),
        "open_count": sum(counts.values()),
        "open_risks": [r for r in all_risks if r.status == Risk.Status.OPEN],
        "closed_risks": [r for r in all_risks if r.status == Risk.Status.CLOSED],
        "cell": cell if None not in cell else None,
        "form": form,
        "today": timezone.localdate(),
    }
    return render(request, "projects/risks.html", context, status=_status_for(request))


@login_required
def risk_edit(request, key, pk):
    project = get_project_page_for(request.user, key, write=True)
    risk = get_object_or_404(project.risks, pk=pk)
    form = RiskForm(request.POST if request.method == "POST" else None, instance=risk)
    if request.method == "POST" and form.is_valid():
        try:
            services.risk_save(project=project, actor=request.user, risk=risk, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Risk saved.")
            return redirect("projects:risks", project.key)
    context = {**_project_context(request, project, "risks", planner=True), "form": form}
    context["risk"] = risk
    return render(request, "projects/risk_form.html", context, status=_status_for(request))


@login_required
@require_POST
def risk_close(request, key, pk):
    project = get_project_page_for(request.user, key, write=True)
    risk = get_object_or_404(project.risks, pk=pk)
    if risk.status == Risk.Status.CLOSED:
        messages.info(request, f"“{risk.title}” was already closed.")
    else:
        services.risk_save(
            project=project, actor=request.user, risk=risk, status=Risk.Status.CLOSED
        )
        messages.success(request, f"“{risk.title}” closed.")
    return redirect("projects:risks", project.key)


# --- Status updates -----------------------------------------------------------------

UPDATES_PAGE = 20


@login_required
def status_updates(request, key):
    """Publish (planners) and read the weekly updates, newest first. There is no edit:
    a published update stays as it was; a correction is a new one."""
    project = get_project_page_for(request.user, key, write=request.method == "POST")
    form = StatusUpdateForm(
        request.POST if request.method == "POST" else None, initial={"health": project.health}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.status_update_publish(
                project=project,
                health=form.cleaned_data["health"],
                summary=form.cleaned_data["summary"],
                actor=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Status update published; the project's health follows it.")
            return redirect("projects:updates", project.key)
    updates = project.status_updates.select_related("author").order_by("-id")
    before = request.GET.get("before", "")
    if before.isdigit():
        updates = updates.filter(pk__lt=int(before))
    page = list(updates[: UPDATES_PAGE + 1])
    older = page[UPDATES_PAGE - 1].pk if len(page) > UPDATES_PAGE else None
    context = {
        **_project_context(request, project, "updates"),
        "updates": page[:UPDATES_PAGE],
        "older": older,
        "form": form,
        "paged": before.isdigit(),
    }
    return render(request, "projects/status_updates.html", context, status=_status_for(request))


# --- Workload -----------------------------------------------------------------------

WORKLOAD_WEEKS = 8
DEFAULT_CAPACITY = Decimal(40)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def spread_hours(
    hours: Decimal, *, start: date | None, finish: date | None, due: date | None, weeks: list[date]
) -> tuple[dict[int, Decimal], Decimal]:
    """Where a task's estimate falls among `weeks` (their Mondays): evenly over the working
    days of its forecast when scheduling computed one, else in the week of its due date,
    else this week. Work dated before this week is still owed, so it counts this week.
    Returns ({week index: hours}, hours after the last week)."""
    first, end = weeks[0], weeks[-1] + timedelta(days=7)
    if start or finish:
        start, finish = start or finish, finish or start
        if finish < start:
            finish = start
        span = (finish - start).days + 1
        days = [start + timedelta(days=n) for n in range(span)]
        days = [day for day in days if day.weekday() < 5] or [start]
    else:
        days = [due or first]
    share = hours / len(days)
    placed: dict[int, Decimal] = defaultdict(Decimal)
    later = Decimal(0)
    for day in days:
        day = max(day, first)
        if day >= end:
            later += share
        else:
            placed[(day - first).days // 7] += share
    return placed, later


def _capacity_of(user) -> Decimal:
    try:
        return user.capacity.hours_per_week
    except Capacity.DoesNotExist:
        return DEFAULT_CAPACITY


@role_required(is_staff_role, "The workload is for project managers and agents.")
def workload(request):
    """Each person's hours per ISO week for the next eight weeks, from the estimates of
    their open tasks across projects, against their capacity. Four to six queries."""
    today = timezone.localdate()
    weeks = [week_start(today) + timedelta(weeks=n) for n in range(WORKLOAD_WEEKS)]
    projects = list(
        Project.objects.visible_to(request.user)
        .filter(archived_at__isnull=True)
        .exclude(status__in=[Project.Status.DONE, Project.Status.CANCELLED])
        .order_by("name")
        .values_list("pk", "key", "name")
    )
    chosen_key = request.GET.get("project", "")
    chosen = next((p for p in projects if p[1] == chosen_key), None)
    tasks = Task.objects.filter(
        project_id__in=[p[0] for p in projects],
        completed_at__isnull=True,
        assignee__isnull=False,
        estimate_hours__gt=0,
    ).values_list(
        "assignee_id", "project_id", "estimate_hours", "forecast_start", "forecast_finish",
        "due_date",
    )  # fmt: skip
    load: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * WORKLOAD_WEEKS)
    later: dict[int, Decimal] = defaultdict(Decimal)
    task_counts: dict[int, int] = defaultdict(int)
    in_chosen: set[int] = set()
    for assignee, project_id, hours, start, finish, due in tasks:
        placed, beyond = spread_hours(hours, start=start, finish=finish, due=due, weeks=weeks)
        for index, share in placed.items():
            load[assignee][index] += share
        later[assignee] += beyond
        task_counts[assignee] += 1
        if chosen and project_id == chosen[0]:
            in_chosen.add(assignee)
    if chosen:
        members = Project.members.through.objects.filter(project_id=chosen[0])
        people_filter = Q(pk__in=in_chosen) | Q(pk__in=members.values("user_id"))
    else:
        people_filter = Q(pk__in=list(load)) | Q(capacity__isnull=False)
    people = (
        User.objects.filter(people_filter, is_active=True)
        .select_related("capacity")
        .order_by("first_name", "last_name", "username")
    )
    rows = []
    for person in people:
        capacity = _capacity_of(person)
        cells = []
        for index, hours in enumerate(load.get(person.pk, [Decimal(0)] * WORKLOAD_WEEKS)):
            ratio = float(hours / capacity) if capacity else (1.0 if hours else 0.0)
            cells.append(
                {
                    "week": weeks[index],
                    "hours": hours,
                    "free": capacity - hours,
                    "percent": round(ratio * 100),
                    "bar": min(100, round(ratio * 100)),
                    "over": hours > capacity,
                }
            )
        rows.append(
            {
                "person": person,
                "capacity": capacity,
                "cells": cells,
                "later": later.get(person.pk, Decimal(0)),
                "tasks": task_counts.get(person.pk, 0),
                "over_weeks": sum(1 for cell in cells if cell["over"]),
            }
        )
    context = {
        "rows": rows,
        "weeks": [(week, week.isocalendar().week) for week in weeks],
        "this_week": weeks[0],
        "projects": projects,
        "chosen": chosen,
        "over_count": sum(1 for row in rows if row["over_weeks"]),
    }
    return render(request, "projects/workload.html", context)


# --- Post-project review ------------------------------------------------------------


def milestone_outcomes(milestones) -> list[dict]:
    """Each milestone's baseline against what happened: the day it was completed, or the
    date now expected for one still open; with the difference in calendar days."""
    rows = []
    for milestone in milestones:
        if milestone.completed_at:
            actual, done = timezone.localdate(milestone.completed_at), True
        else:
            actual, done = milestone.expected_date, False
        rows.append(
            {
                "milestone": milestone,
                "actual": actual,
                "done": done,
                "days": (actual - milestone.baseline_date).days,
            }
        )
    return rows


@login_required
def review(request, key):
    """The post-project review: baseline against actual dates, and lessons learned."""
    project = get_project_page_for(request.user, key, write=request.method == "POST")
    form = LessonForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        services.lesson_add(project=project, text=form.cleaned_data["text"], actor=request.user)
        messages.success(request, "Lesson added.")
        return redirect("projects:review", project.key)
    outcomes = milestone_outcomes(project.milestones.all())
    late = [row for row in outcomes if row["days"] > 0]
    context = {
        **_project_context(request, project, "review"),
        "outcomes": outcomes,
        "summary": {
            "total": len(outcomes),
            "done": sum(1 for row in outcomes if row["done"]),
            "on_time": len(outcomes) - len(late),
            "late": len(late),
            "worst": max((row["days"] for row in late), default=0),
            "baseline_end": max((row["milestone"].baseline_date for row in outcomes), default=None),
            "actual_end": max((row["actual"] for row in outcomes), default=None),
        },
        "lessons": project.lessons.select_related("author"),
        "form": form,
    }
    return render(request, "projects/review.html", context, status=_status_for(request))
