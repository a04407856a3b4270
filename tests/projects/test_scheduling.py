"""Forecasts through the dependency graph: working-day arithmetic, the four dependency
types with lag and lead, calendars, capacity, completed work, milestones, the critical
path, the outbox, query counts, cycles, and the services that trigger a reschedule."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.models import BusinessCalendar, BusinessHours, Holiday
from projects import scheduling, services
from projects.models import Capacity, Column, Dependency, Milestone, ProjectEvent, Task
from projects.scheduling import (
    WorkingCalendar,
    add_working_days,
    duration_days,
    next_working_day,
    project_reschedule,
    working_days_between,
)
from tests import factories

# March 2025: Monday the 3rd is "today" in most tests.
MON, TUE, WED, THU, FRI, SAT, SUN = (date(2025, 3, day) for day in range(3, 10))
NEXT_MON, NEXT_TUE, NEXT_WED, NEXT_THU, NEXT_FRI = (date(2025, 3, day) for day in range(10, 15))
FORECAST_CHANGED = ProjectEvent.Kind.MILESTONE_FORECAST_CHANGED


# --- Working-day arithmetic, no database ---------------------------------------------------

WEEK = WorkingCalendar()  # Monday to Friday


def test_the_next_working_day_of_a_working_day_is_that_day():
    assert next_working_day(WEEK, MON) == MON
    assert next_working_day(WEEK, FRI) == FRI


def test_the_next_working_day_skips_the_weekend_and_holidays():
    assert next_working_day(WEEK, SAT) == NEXT_MON
    assert next_working_day(WorkingCalendar(holidays=[NEXT_MON]), SAT) == NEXT_TUE


def test_adding_working_days_skips_weekends_both_ways():
    assert add_working_days(WEEK, FRI, 1) == NEXT_MON
    assert add_working_days(WEEK, NEXT_MON, -1) == FRI
    assert add_working_days(WEEK, MON, 10) == date(2025, 3, 17)
    assert add_working_days(WEEK, SAT, 1) == NEXT_MON
    assert add_working_days(WEEK, SUN, -1) == FRI
    assert add_working_days(WEEK, SAT, 0) == SAT


def test_adding_working_days_skips_holidays():
    easter = WorkingCalendar(holidays=[date(2025, 4, 18), date(2025, 4, 21)])
    assert add_working_days(easter, date(2025, 4, 17), 1) == date(2025, 4, 22)
    assert add_working_days(easter, date(2025, 4, 22), -1) == date(2025, 4, 17)


def test_working_days_between_counts_the_start_not_the_end():
    assert working_days_between(WEEK, MON, NEXT_MON) == 5
    assert working_days_between(WEEK, SAT, SUN) == 0
    assert working_days_between(WorkingCalendar(holidays=[WED]), MON, NEXT_MON) == 4
    assert working_days_between(WEEK, NEXT_MON, MON) == -5


def test_holidays_on_a_day_off_change_nothing():
    assert WorkingCalendar(holidays=[SAT]).index(NEXT_FRI) == WEEK.index(NEXT_FRI)


def test_an_empty_working_week_means_monday_to_friday():
    assert WorkingCalendar(workdays=()).workdays == (0, 1, 2, 3, 4)


def _brute_add(workdays, holidays, day, steps):
    def working(d):
        return d.weekday() in workdays and d not in holidays

    step = 1 if steps > 0 else -1
    for _ in range(abs(steps)):
        day += timedelta(days=step)
        while not working(day):
            day += timedelta(days=step)
    return day


@pytest.mark.parametrize("workdays", [(0, 1, 2, 3, 4), (0, 1, 3), (5, 6), tuple(range(7))])
def test_the_arithmetic_agrees_with_counting_day_by_day(workdays):
    holidays = {date(2025, 3, day) for day in (4, 5, 13, 14, 15, 24)} | {date(2024, 12, 31)}
    calendar = WorkingCalendar(workdays, holidays)
    for offset in range(-10, 40):
        day = MON + timedelta(days=offset)
        for steps in range(-25, 26):
            assert add_working_days(calendar, day, steps) == _brute_add(
                workdays, holidays, day, steps
            ), (day, steps)
        working = day.weekday() in workdays and day not in holidays
        assert calendar.is_working(day) == working
        if working:
            assert calendar.day(calendar.index(day)) == day
        later = day + timedelta(days=offset % 17)
        expected = sum(
            1
            for n in range((later - day).days)
            if (d := day + timedelta(days=n)).weekday() in workdays and d not in holidays
        )
        assert working_days_between(calendar, day, later) == expected


def test_dates_beyond_the_calendar_saturate_instead_of_crashing():
    assert add_working_days(WEEK, MON, 10**7) == date(9999, 12, 1)
    assert add_working_days(WEEK, MON, -(10**7)) == date(1, 1, 1)


@pytest.mark.parametrize(
    ("hours", "per_day", "days"),
    [(0, 8, 0), ("0.5", 8, 1), (8, 8, 1), ("8.01", 8, 2), (20, 8, 3), (16, 4, 4), (16, 10, 2)],
)
def test_durations_round_up_to_whole_days(hours, per_day, days):
    assert duration_days(Decimal(hours), Decimal(per_day)) == days


# --- Scheduling a project ------------------------------------------------------------------


@pytest.fixture
def project(db):
    project = factories.ProjectFactory(key="NET", name="Network refresh", slug="net")
    Column.objects.create(project=project, name="To do", position=0)
    return project


def make_task(project, title, hours=8, **fields):
    column = project.columns.order_by("position").first()
    rank = f"{Task.objects.filter(project=project).count():06d}"
    return Task.objects.create(
        project=project, column=column, title=title, estimate_hours=hours, rank=rank, **fields
    )


def link(predecessor, successor, type="FS", lag=0):
    return Dependency.objects.create(
        predecessor=predecessor, successor=successor, type=type, lag_days=lag
    )


def dates(task):
    task.refresh_from_db()
    return task.forecast_start, task.forecast_finish


def make_calendar(name="Office", workdays=(0, 1, 2, 3, 4), holidays=(), time_zone="UTC"):
    calendar = BusinessCalendar.objects.create(name=name, time_zone=time_zone)
    BusinessHours.objects.bulk_create(
        BusinessHours(calendar=calendar, weekday=day, start=time(9), end=time(17))
        for day in workdays
    )
    Holiday.objects.bulk_create(
        Holiday(calendar=calendar, date=day, name=f"Holiday {day}") for day in holidays
    )
    return calendar


def test_a_task_starts_today_and_lasts_its_estimate_in_working_days(project):
    task = make_task(project, "Order switches", hours=24)
    project_reschedule(project=project, today=THU)
    assert dates(task) == (THU, NEXT_MON)


def test_a_task_without_an_estimate_finishes_the_day_it_starts(project):
    task = make_task(project, "Sign-off", hours=0)
    project_reschedule(project=project, today=MON)
    assert dates(task) == (MON, MON)


def test_today_on_a_weekend_starts_work_on_monday(project):
    task = make_task(project, "Rack", hours=8)
    project_reschedule(project=project, today=SAT)
    assert dates(task) == (NEXT_MON, NEXT_MON)


# A: 2 days from its start date, next Monday (so Mon 10 – Tue 11); B: 1 day.
@pytest.mark.parametrize(
    ("type", "lag", "b_day"),
    [
        ("FS", 0, NEXT_WED),
        ("FS", 2, NEXT_FRI),
        ("FS", -1, NEXT_TUE),
        ("SS", 0, NEXT_MON),
        ("SS", 1, NEXT_TUE),
        ("SS", -2, THU),
        ("FF", 0, NEXT_TUE),
        ("FF", 1, NEXT_WED),
        ("FF", -2, FRI),
        ("SF", 0, FRI),
        ("SF", 2, NEXT_TUE),
        ("SF", -1, THU),
    ],
)
def test_each_dependency_type_with_lag_and_lead(project, type, lag, b_day):
    a = make_task(project, "Cut over", hours=16, start_date=NEXT_MON)
    b = make_task(project, "Verify", hours=8)
    link(a, b, type, lag)
    project_reschedule(project=project, today=MON)
    assert dates(a) == (NEXT_MON, NEXT_TUE)
    assert dates(b) == (b_day, b_day)


def test_finish_constraints_place_a_long_successor_by_its_end(project):
    a = make_task(project, "Migrate", hours=8, start_date=NEXT_FRI)
    b = make_task(project, "Parallel run", hours=24)
    link(a, b, "FF")
    project_reschedule(project=project, today=MON)
    assert dates(b) == (NEXT_WED, NEXT_FRI)


def test_a_lead_never_starts_work_before_today(project):
    a = make_task(project, "Order", hours=8)
    b = make_task(project, "Prepare", hours=8)
    link(a, b, "SS", -5)
    project_reschedule(project=project, today=WED)
    assert dates(b) == (WED, WED)


def test_the_latest_constraint_wins(project):
    a = make_task(project, "Long", hours=40)
    b = make_task(project, "Short", hours=8)
    c = make_task(project, "After both", hours=8)
    link(a, c)
    link(b, c)
    project_reschedule(project=project, today=MON)
    assert dates(c) == (NEXT_MON, NEXT_MON)


def test_a_start_date_holds_a_task_back_and_moves_off_a_weekend(project):
    held = make_task(project, "Change window", hours=8, start_date=SAT)
    past = make_task(project, "Overdue", hours=8, start_date=date(2025, 1, 6))
    project_reschedule(project=project, today=MON)
    assert dates(held) == (NEXT_MON, NEXT_MON)
    assert dates(past) == (MON, MON)


def test_the_calendar_skips_holidays_in_durations_and_lags(project):
    project.calendar = make_calendar(holidays=[NEXT_MON])
    project.save()
    a = make_task(project, "Install", hours=24, start_date=THU)
    b = make_task(project, "Test", hours=8)
    link(a, b, "FS", 1)
    project_reschedule(project=project, today=MON)
    assert dates(a) == (THU, NEXT_TUE)  # Thu, Fri, (weekend, holiday), Tue
    assert dates(b) == (NEXT_THU, NEXT_THU)  # one working day gap: Wed


def test_a_calendar_of_four_days_never_works_on_friday(project):
    project.calendar = make_calendar(workdays=(0, 1, 2, 3))
    project.save()
    task = make_task(project, "Patch", hours=24)
    project_reschedule(project=project, today=WED)
    assert dates(task) == (WED, NEXT_MON)


def test_a_calendar_with_no_hours_works_monday_to_friday(project):
    project.calendar = make_calendar(workdays=(), holidays=[FRI])
    project.save()
    task = make_task(project, "Patch", hours=24)
    project_reschedule(project=project, today=WED)
    assert dates(task) == (WED, NEXT_MON)


def test_today_is_taken_in_the_calendars_time_zone(project, monkeypatch):
    project.calendar = make_calendar(time_zone="Pacific/Kiritimati")  # UTC+14
    project.save()
    task = make_task(project, "Patch", hours=8)
    # Friday 20:00 in UTC is already Saturday morning on Kiritimati.
    monkeypatch.setattr(timezone, "now", lambda: datetime(2025, 3, 7, 20, tzinfo=UTC))
    project_reschedule(project=project)
    assert dates(task) == (NEXT_MON, NEXT_MON)


def test_an_assignee_with_less_capacity_takes_longer(project):
    part_timer = factories.UserFactory()
    Capacity.objects.create(user=part_timer, hours_per_week=20)  # 4 h a day
    full_timer = factories.UserFactory()  # no capacity row: 8 h a day
    slow = make_task(project, "Document", hours=16, assignee=part_timer)
    fast = make_task(project, "Configure", hours=16, assignee=full_timer)
    unassigned = make_task(project, "Label", hours=16)
    project_reschedule(project=project, today=MON)
    assert dates(slow) == (MON, THU)
    assert dates(fast) == (MON, TUE)
    assert dates(unassigned) == (MON, TUE)


def test_hours_per_day_follow_the_assignees_own_working_week(project):
    four_days = factories.UserFactory()
    Capacity.objects.create(
        user=four_days, hours_per_week=40, calendar=make_calendar(workdays=(0, 1, 2, 3))
    )  # 10 h a day
    task = make_task(project, "Cable", hours=20, assignee=four_days)
    project_reschedule(project=project, today=MON)
    assert dates(task) == (MON, TUE)


def test_a_capacity_of_zero_hours_falls_back_to_a_full_day(project):
    idle = factories.UserFactory()
    Capacity.objects.create(user=idle, hours_per_week=0)
    task = make_task(project, "Cable", hours=16, assignee=idle)
    project_reschedule(project=project, today=MON)
    assert dates(task) == (MON, TUE)


def _done(day):
    return datetime.combine(day, time(15), tzinfo=UTC)


def test_completed_tasks_keep_their_actual_dates_and_constrain_successors(project):
    done = make_task(
        project,
        "Survey",
        hours=80,
        completed_at=_done(date(2025, 2, 26)),
        forecast_start=date(2025, 2, 24),
    )
    early = make_task(project, "Order", hours=8, completed_at=_done(date(2025, 2, 28)))
    ss = make_task(project, "Design", hours=8)
    fs = make_task(project, "Build", hours=8)
    link(done, ss, "SS", 8)  # 24 Feb + 8 working days
    link(done, fs, "FS")
    link(fs, early)  # done before its predecessor: it stays where it is
    project_reschedule(project=project, today=MON)
    assert dates(done) == (date(2025, 2, 24), date(2025, 2, 26))
    assert dates(early) == (date(2025, 2, 28), date(2025, 2, 28))
    assert dates(ss) == (THU, THU)
    assert dates(fs) == (MON, MON)
    assert not Task.objects.get(pk=done.pk).is_critical


def test_a_completed_task_with_no_known_start_is_drawn_its_duration_before_it_finished(
    project,
):
    done = make_task(project, "Survey", hours=24, completed_at=_done(NEXT_MON))
    project_reschedule(project=project, today=NEXT_TUE)
    assert dates(done) == (THU, NEXT_MON)


def test_completed_on_a_weekend_finishes_that_day(project):
    done = make_task(project, "Weekend cut-over", hours=8, completed_at=_done(SAT))
    after = make_task(project, "Check", hours=8)
    link(done, after)
    project_reschedule(project=project, today=FRI)
    assert dates(done) == (FRI, SAT)
    assert dates(after) == (NEXT_MON, NEXT_MON)


def milestone(project, name="Go-live", target=date(2025, 4, 1), **fields):
    return Milestone.objects.create(
        project=project, name=name, baseline_date=target, target_date=target, **fields
    )


def test_a_milestone_is_forecast_at_the_latest_finish_of_its_open_tasks(project):
    go_live = milestone(project)
    make_task(project, "Short", hours=8, milestone=go_live)
    make_task(project, "Long", hours=40, milestone=go_live)
    make_task(project, "Done long ago", hours=8, milestone=go_live, completed_at=_done(FRI))
    make_task(project, "Elsewhere", hours=80)
    moved = project_reschedule(project=project, today=MON)
    go_live.refresh_from_db()
    assert go_live.forecast_date == FRI
    assert moved == [go_live]


def test_a_milestone_without_open_tasks_is_forecast_at_its_target(project):
    empty = milestone(project, "Empty")
    finished = milestone(project, "All done")
    make_task(project, "Done", hours=8, milestone=finished, completed_at=_done(FRI))
    project_reschedule(project=project, today=MON)
    assert Milestone.objects.get(pk=empty.pk).forecast_date == empty.target_date
    assert Milestone.objects.get(pk=finished.pk).forecast_date == finished.target_date


def test_a_completed_milestone_keeps_its_forecast(project):
    closed = milestone(project, completed_at=_done(FRI), forecast_date=FRI)
    make_task(project, "Late extra", hours=80, milestone=closed)
    assert project_reschedule(project=project, today=MON) == []
    closed.refresh_from_db()
    assert closed.forecast_date == FRI


def test_the_critical_path_runs_through_the_longer_branch_of_a_diamond(project):
    start = make_task(project, "Start", hours=8)
    long = make_task(project, "Long branch", hours=24)
    short = make_task(project, "Short branch", hours=8)
    end = make_task(project, "End", hours=8)
    make_task(project, "Unrelated", hours=8)
    for a, b in [(start, long), (start, short), (long, end), (short, end)]:
        link(a, b)
    project_reschedule(project=project, today=MON)
    critical = set(Task.objects.filter(is_critical=True).values_list("title", flat=True))
    assert critical == {"Start", "Long branch", "End"}
    assert dates(end) == (FRI, FRI)


def test_criticality_follows_start_to_start_and_finish_to_finish_links(project):
    a = make_task(project, "Pull cable", hours=40)
    b = make_task(project, "Terminate", hours=16)
    c = make_task(project, "Paperwork", hours=8)
    link(a, b, "FF")  # b must end with a: it drives nothing but finishes last with it
    link(a, c, "SS")
    project_reschedule(project=project, today=MON)
    critical = set(Task.objects.filter(is_critical=True).values_list("title", flat=True))
    assert critical == {"Pull cable", "Terminate"}


def forecast_events():
    return list(ProjectEvent.objects.filter(kind=FORECAST_CHANGED).order_by("id"))


def test_a_changed_forecast_writes_one_event_per_milestone_and_none_when_unchanged(project):
    pm = project.owner
    first = milestone(project, "Pilot", target=date(2025, 3, 14))
    second = milestone(project, "Roll-out", target=date(2025, 4, 30))
    pilot = make_task(project, "Pilot site", hours=16, milestone=first)
    make_task(project, "Roll out", hours=40, milestone=second)

    project_reschedule(project=project, actor=pm, today=MON)
    assert [e.payload["milestone"] for e in forecast_events()] == [first.pk, second.pk]

    assert project_reschedule(project=project, actor=pm, today=MON) == []
    assert len(forecast_events()) == 2

    Task.objects.filter(pk=pilot.pk).update(estimate_hours=32)
    moved = project_reschedule(project=project, actor=pm, today=MON)
    assert [m.pk for m in moved] == [first.pk]
    event = forecast_events()[-1]
    assert len(forecast_events()) == 3
    assert event.actor == pm
    assert event.payload == {
        "milestone": first.pk,
        "name": "Pilot",
        "old_date": TUE.isoformat(),
        "new_date": THU.isoformat(),
        "target_date": "2025-03-14",
    }


def test_only_tasks_whose_forecast_changed_are_written(project, monkeypatch):
    a = make_task(project, "A", hours=40)  # critical before and after
    b = make_task(project, "B", hours=8)
    project_reschedule(project=project, today=MON)
    written = []
    write = scheduling._write_task_forecasts
    monkeypatch.setattr(
        scheduling, "_write_task_forecasts", lambda rows: written.extend(rows) or write(rows)
    )
    Task.objects.filter(pk=b.pk).update(estimate_hours=16)
    project_reschedule(project=project, today=MON)
    assert [pk for pk, _ in written] == [b.pk]
    assert dates(a) == (MON, FRI)
    assert dates(b) == (MON, TUE)


def seed_plan(project, tasks):
    """A plan as a real one looks: a calendar with holidays, people with capacities, a few
    milestones, chains and cross links of every type."""
    project.calendar = make_calendar(project.key, holidays=[NEXT_MON, date(2025, 4, 18)])
    project.save()
    people = factories.UserFactory.create_batch(3)
    Capacity.objects.bulk_create(
        Capacity(user=person, hours_per_week=hours)
        for person, hours in zip(people, (40, 20, 32), strict=True)
    )
    milestones = [milestone(project, f"M{i}", target=date(2025, 6, 1)) for i in range(3)]
    column = project.columns.first()
    rows = Task.objects.bulk_create(
        Task(
            project=project,
            column=column,
            title=f"Task {i}",
            rank=f"{i:06d}",
            estimate_hours=4 * (i % 7),
            assignee=people[i % 4] if i % 4 < 3 else None,
            milestone=milestones[i % 3],
        )
        for i in range(tasks)
    )
    Dependency.objects.bulk_create(
        Dependency(predecessor=rows[i - step], successor=rows[i], type=kind, lag_days=lag)
        for i in range(1, tasks)
        for step, kind, lag in ((1, "FS", 0), (3, "SS", 1), (5, "FF", -1))
        if i - step >= 0
    )


def test_rescheduling_runs_the_same_queries_for_10_and_500_tasks(db):
    counts = []
    for size in (10, 500):
        project = factories.ProjectFactory()
        Column.objects.create(project=project, name="To do")
        seed_plan(project, size)
        with CaptureQueriesContext(connection) as first:
            moved = project_reschedule(project=project, today=MON)
        with CaptureQueriesContext(connection) as again:
            project_reschedule(project=project, today=MON)
        assert len(moved) == 3
        assert Task.objects.filter(project=project, forecast_finish__isnull=True).count() == 0
        counts.append((len(first), len(again)))
    assert counts[0] == counts[1]
    # savepoint, lock, tasks, links, milestones, capacities, hours, holidays, release;
    # the first run also updates tasks and milestones and writes its 3 events at once
    # (reserve three sequence numbers, one multi-row insert).
    assert counts[0] == (13, 9)


def test_a_dependency_cycle_is_refused_naming_its_tasks(project):
    order, rack, cable, label = (
        make_task(project, title) for title in ("Order", "Rack", "Cable", "Label")
    )
    link(order, rack)
    link(rack, cable)
    link(cable, order)
    link(cable, label)  # stuck behind the loop but not part of it
    with pytest.raises(ValueError, match="cycle") as error:
        project_reschedule(project=project, today=MON)
    assert str(error.value) == (
        f"The task dependencies form a cycle: Order (#{order.pk}) → Rack (#{rack.pk}) → "
        f"Cable (#{cable.pk}) → Order (#{order.pk})."
    )
    assert error.value.tasks == [order.pk, rack.pk, cable.pk, order.pk]
    assert not Task.objects.filter(forecast_start__isnull=False).exists()


# --- Through the services, with the real today ---------------------------------------------


@pytest.fixture
def plan(pm):
    project = services.project_create(owner=pm, key="DC", name="Data centre", slug="dc")
    return project, WorkingCalendar(), next_working_day(WorkingCalendar(), timezone.localdate())


def test_services_keep_forecasts_current(plan, pm):
    project, week, first_day = plan
    go_live = services.milestone_create(
        project=project, name="Go-live", target_date=first_day + timedelta(days=90), actor=pm
    )
    build = services.task_create(project=project, title="Build", estimate_hours=16, actor=pm)
    test = services.task_create(
        project=project, title="Test", estimate_hours=8, milestone=go_live, actor=pm
    )
    assert dates(test) == (first_day, first_day)

    services.dependency_add(predecessor=build, successor=test, actor=pm)
    after_build = add_working_days(week, first_day, 2)
    assert dates(build) == (first_day, add_working_days(week, first_day, 1))
    assert dates(test) == (after_build, after_build)
    go_live.refresh_from_db()
    assert go_live.forecast_date == after_build

    events = len(forecast_events())
    services.task_update(task=build, actor=pm, estimate_hours=Decimal(40))
    later = add_working_days(week, first_day, 5)
    assert dates(test) == (later, later)
    go_live.refresh_from_db()
    assert go_live.forecast_date == later
    assert len(forecast_events()) == events + 1
    assert forecast_events()[-1].payload["new_date"] == later.isoformat()
    assert Task.objects.get(pk=build.pk).is_critical


def test_rescheduling_a_milestone_without_tasks_moves_its_forecast(plan, pm):
    project, _, first_day = plan
    target = first_day + timedelta(days=30)
    kick_off = services.milestone_create(
        project=project, name="Kick-off", target_date=target, actor=pm
    )
    assert Milestone.objects.get(pk=kick_off.pk).forecast_date == target
    services.milestone_reschedule(
        milestone=kick_off, target_date=target + timedelta(days=7), reason="Vendor", actor=pm
    )
    kick_off.refresh_from_db()
    assert kick_off.forecast_date == target + timedelta(days=7)
    assert forecast_events()[-1].payload["old_date"] == target.isoformat()


def test_a_new_calendar_moves_the_forecasts(plan, pm):
    project, _, first_day = plan
    task = services.task_create(project=project, title="Rack", estimate_hours=8, actor=pm)
    assert dates(task) == (first_day, first_day)
    services.project_update(
        project=project, actor=pm, calendar=make_calendar("Ops", holidays=[first_day])
    )
    second_day = add_working_days(WorkingCalendar(), first_day, 1)
    assert dates(task) == (second_day, second_day)
