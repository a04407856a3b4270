"""Forecasts through the dependency graph: each open task's earliest start and finish, the
critical path, and each milestone's forecast date.

Three layers, each usable on its own:

- **Working-day arithmetic** on a `WorkingCalendar` (pure, no queries):
  `next_working_day`, `add_working_days`, `working_days_between`.
- **`forecast()`**, the critical-path method on plain data (pure, no queries).
- **`project_reschedule()`**: loads one project in a fixed number of queries, runs
  `forecast()`, writes back only what changed and announces every milestone whose
  forecast moved through the outbox. `projects.services` calls it inside its transactions.

Decisions, in one place:

- **Whole working days.** Scheduling counts working days, not business seconds (that is
  the SLA clock in helpdesk.sla). A working day is a weekday with at least one
  BusinessHours row in the project's calendar (Monday to Friday when it has no rows, or
  when the project has no calendar) that is not one of the calendar's holidays. "Today"
  is today in the calendar's time zone (the site's TIME_ZONE without a calendar).
- **Durations** are `estimate_hours` divided by the assignee's hours per working day,
  rounded up to whole working days: a task with any estimate takes at least one day; a
  task without an estimate takes none (finish = start, like a milestone). Hours per day
  = `Capacity.hours_per_week` / the number of working weekdays of the capacity's own
  calendar (the project's calendar when it has none). Without a capacity, unassigned, or
  with a capacity of 0 h/week (no sensible rate), 8 h/day. The dates themselves are
  counted on the project's calendar; a person's own holidays are not modelled.
- **Time points.** Internally a task occupies working days [start, start + days); its
  finish *boundary* is the end of its last day. The four dependency types are the
  textbook constraints on those boundaries, with the lag in working days (negative = a
  lead): FS: succ.start ≥ pred.finish + lag; SS: succ.start ≥ pred.start + lag;
  FF: succ.finish ≥ pred.finish + lag; SF: succ.finish ≥ pred.start + lag. So FS with lag
  0 starts the successor on the working day after the predecessor's last day, and FS
  with lag 2 leaves two working days between. The stored `forecast_finish` is the last
  working day of the task (its start for a task of 0 days).
- **Open tasks** start no earlier than today, no earlier than their own `start_date` (the
  first working day on or after it), and no earlier than every predecessor allows.
- **Completed tasks are fixed at their actual dates**: finish = the local date of
  `completed_at` (even a Saturday, if that is when it was done); start = their last
  forecast start when that is not after the finish (the best record of when work began),
  else the finish moved back by their duration. Their successors are constrained by
  those real dates (in practice "today" wins), nothing constrains them, and they are
  never critical: a finished task cannot delay anything.
- **Critical path**: a backward pass from the project's end (the latest finish of an open
  task) gives each open task its latest start; zero total float (latest start = earliest
  start) marks it critical.
- **Milestones**: forecast = the latest `forecast_finish` of its open tasks; with no open
  task, its target date. A completed milestone keeps whatever forecast it had.
- **Write-back** touches only rows whose computed values differ from the stored ones: all
  tasks in one `UPDATE … FROM unnest(…)` statement (Django's `bulk_update` builds a CASE
  with one branch per row, quadratic: 2,000 rows took seconds against 0.1 s for this),
  milestones (few) with `bulk_update`.
  Forecast fields are computed, so neither `Task.version` nor `updated_at` moves: a
  reschedule must not make someone's open edit form stale.
- **Events**: one MILESTONE_FORECAST_CHANGED outbox row per milestone whose forecast
  changed (also from "none" to a date, e.g. a new milestone), with the same payload keys
  as MILESTONE_RESCHEDULED (`old_date`/`new_date`, here forecast dates) plus `target_date`.
- **Concurrency**: the project row is locked (`FOR UPDATE`) before anything is read, so
  two reschedules of one project run one after the other and the second sees what the
  first committed; the work runs in a savepoint (or its own transaction when the caller
  has none).
"""

from __future__ import annotations

import math
import zoneinfo
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from config.models import BusinessHours, Holiday
from projects.models import Capacity, Dependency, Milestone, Project, ProjectEvent, Task
from projects.services import _events

MONDAY_TO_FRIDAY = (0, 1, 2, 3, 4)
DEFAULT_HOURS_PER_DAY = Decimal(8)
ONE_DAY = timedelta(days=1)
LAST_DAY = date(9999, 12, 1)  # leaves room for holidays after it

FS = Dependency.Type.FINISH_TO_START.value
SS = Dependency.Type.START_TO_START.value
FF = Dependency.Type.FINISH_TO_FINISH.value
SF = Dependency.Type.START_TO_FINISH.value


# --- Working-day arithmetic ----------------------------------------------------------------


class WorkingCalendar:
    """Working weekdays and holidays, loaded into memory: the arithmetic runs on it with
    no queries, in O(log holidays) per call whatever the distance.

    Days are numbered by `index(day)`: the number of working days before `day` since
    1 January of year 1 (a Monday). A working day's index is its position; a non-working
    day shares its index with the next working day."""

    __slots__ = ("_before", "_holidays", "workdays")

    def __init__(self, workdays: Iterable[int] = MONDAY_TO_FRIDAY, holidays: Iterable[date] = ()):
        self.workdays: tuple[int, ...] = tuple(sorted(set(workdays))) or MONDAY_TO_FRIDAY
        if not all(0 <= day <= 6 for day in self.workdays):
            raise ValueError(f"weekdays are 0 (Monday) to 6 (Sunday), not {self.workdays}")
        # _before[r]: working weekdays before weekday r in a week.
        self._before = [sum(1 for day in self.workdays if day < r) for r in range(8)]
        # Only holidays on working weekdays change a count.
        self._holidays = sorted(
            {day.toordinal() for day in holidays if day.weekday() in self.workdays}
        )

    def __repr__(self):
        return f"WorkingCalendar(workdays={self.workdays}, holidays={len(self._holidays)})"

    @property
    def days_per_week(self) -> int:
        return len(self.workdays)

    def is_working(self, day: date) -> bool:
        ordinal = day.toordinal()
        if day.weekday() not in self.workdays:
            return False
        at = bisect_left(self._holidays, ordinal)
        return at == len(self._holidays) or self._holidays[at] != ordinal

    def index(self, day: date) -> int:
        """How many working days lie before `day`."""
        ordinal = day.toordinal()
        weeks, weekday = divmod(ordinal - 1, 7)
        weekly = weeks * len(self.workdays) + self._before[weekday]
        return weekly - bisect_left(self._holidays, ordinal)

    def day(self, index: int) -> date:
        """The working day whose index is `index` (the inverse of `index()`). Saturates
        at the first working days of year 1 and December 9999 rather than leaving the
        calendar: an absurd estimate gives an absurd date, not a crash."""
        index = min(max(index, 0), self.index(LAST_DAY))
        # The index-th working weekday, pushed on by the holidays up to it, until the
        # number of holidays up to the candidate no longer grows.
        skipped = 0
        while True:
            weeks, nth = divmod(index + skipped, len(self.workdays))
            ordinal = 1 + weeks * 7 + self.workdays[nth]
            holidays = bisect_right(self._holidays, ordinal)
            if holidays == skipped:
                return date.fromordinal(ordinal)
            skipped = holidays


def next_working_day(calendar: WorkingCalendar, day: date) -> date:
    """`day` itself when it is a working day, else the first working day after it."""
    return calendar.day(calendar.index(day))


def add_working_days(calendar: WorkingCalendar, day: date, days: int) -> date:
    """The working day reached by stepping `days` working days on from `day` (back when
    negative). Zero steps give `day` itself, working or not; from a non-working day the
    first step lands on the next (or, going back, the previous) working day."""
    if days == 0:
        return day
    index = calendar.index(day)
    if days > 0 and not calendar.is_working(day):
        # The next working day already has this index: reaching it is the first step.
        return calendar.day(index + days - 1)
    return calendar.day(index + days)


def working_days_between(calendar: WorkingCalendar, start: date, end: date) -> int:
    """Working days d with start ≤ d < end; negative (the same count) when end < start."""
    return calendar.index(end) - calendar.index(start)


# --- The critical-path method on plain data -----------------------------------------------


class PlanTask(NamedTuple):
    """What scheduling needs of one task. `days`: duration in whole working days.
    `done_on` set = completed that (local) day; `started_on`: its last known start."""

    pk: int
    days: int
    not_before: date | None = None
    done_on: date | None = None
    started_on: date | None = None


class Link(NamedTuple):
    """`successor` depends on `predecessor` by `type` (FS, SS, FF, SF), `lag` working days."""

    predecessor: int
    successor: int
    type: str = FS
    lag: int = 0


class Forecast(NamedTuple):
    start: date
    finish: date
    critical: bool


class DependencyCycle(ValueError):
    """The dependencies loop; `tasks` holds the pks along the loop, first one repeated."""

    def __init__(self, tasks: list[int], names: dict[int, str] | None = None):
        self.tasks = tasks
        names = names or {}
        path = " → ".join(f"{names[pk]} (#{pk})" if pk in names else f"#{pk}" for pk in tasks)
        super().__init__(f"The task dependencies form a cycle: {path}.")


def duration_days(estimate_hours: Decimal | float | int, hours_per_day: Decimal) -> int:
    """Whole working days for an estimate: rounded up, at least 1 for any estimate, 0
    without one."""
    estimate = (
        estimate_hours if isinstance(estimate_hours, Decimal) else Decimal(str(estimate_hours))
    )
    if estimate <= 0:
        return 0
    return max(1, math.ceil(estimate / hours_per_day))


# Which end of the predecessor a link type measures from, and which end of the successor
# it constrains (True: the finish).
_ENDS = {FS: (True, False), SS: (False, False), FF: (True, True), SF: (False, True)}


def forecast(
    tasks: Iterable[PlanTask], links: Iterable[Link], calendar: WorkingCalendar, today: date
) -> dict[int, Forecast]:
    """Earliest start and finish and criticality of every task (see the module's
    decisions). Links to tasks not in `tasks` are ignored. Raises DependencyCycle."""
    # Positions in plain lists rather than dicts and objects: this runs on every change
    # to a plan, and a plan can have thousands of tasks.
    tasks = list(tasks)
    links = list(links)
    count = len(tasks)
    position = {task.pk: i for i, task in enumerate(tasks)}
    days = [task.days for task in tasks]
    done = [task.done_on is not None for task in tasks]
    # successors[i]: (successor, measured from the predecessor's finish?, offset) where
    # the successor's start ≥ (predecessor's start or finish) + offset; the offset folds
    # the lag and, for a constraint on the successor's finish, its duration.
    successors: list[list[tuple[int, bool, int]]] = [[] for _ in range(count)]
    waiting = [0] * count  # predecessors not yet placed
    for link in links:
        pred, succ = position.get(link.predecessor), position.get(link.successor)
        if pred is None or succ is None:
            continue
        from_finish, to_finish = _ENDS[link.type]
        offset = link.lag - days[succ] if to_finish else link.lag
        successors[pred].append((succ, from_finish, offset))
        waiting[succ] += 1

    # Forward pass in Kahn's order: a task is placed once all its predecessors are, and
    # then pushes its constraints onto its successors' earliest start.
    floor = calendar.index(today)
    earliest = [floor] * count
    for i, task in enumerate(tasks):
        if task.not_before is not None:
            earliest[i] = max(floor, calendar.index(task.not_before))
    start = [0] * count
    end = [0] * count  # the finish boundary: start + days for open tasks
    done_start: dict[int, date] = {}
    order = [i for i in range(count) if not waiting[i]]
    for i in order:  # `order` grows while we walk it
        if done[i]:
            task = tasks[i]
            # The end of the day it was done: the working days up to and including it.
            end[i] = calendar.index(task.done_on + ONE_DAY)
            done_start[i] = _actual_start(task, calendar, end[i])
            start[i] = calendar.index(done_start[i])
        else:
            start[i] = earliest[i]
            end[i] = start[i] + days[i]
        for succ, from_finish, offset in successors[i]:
            bound = (end[i] if from_finish else start[i]) + offset
            if bound > earliest[succ]:
                earliest[succ] = bound
            waiting[succ] -= 1
            if not waiting[succ]:
                order.append(succ)
    if len(order) < count:
        stuck = {tasks[i].pk for i in range(count) if waiting[i]}
        raise DependencyCycle(_a_cycle(stuck, links))

    # Backward pass: the latest start each open task may have without moving the end of
    # the project (the latest finish of an open task). Completed tasks take no part.
    project_end = max((end[i] for i in range(count) if not done[i]), default=0)
    latest = [project_end - days[i] for i in range(count)]
    for i in reversed(order):
        if done[i]:
            continue
        for succ, from_finish, offset in successors[i]:
            if done[succ]:
                continue
            limit = latest[succ] - offset - (days[i] if from_finish else 0)
            if limit < latest[i]:
                latest[i] = limit

    # Many tasks share dates: convert each index once.
    day_of = {index: calendar.day(index) for index in {*start, *(e - 1 for e in end)}}
    result = {}
    for i, task in enumerate(tasks):
        if done[i]:
            result[task.pk] = Forecast(done_start[i], task.done_on, False)
        else:
            first = day_of[start[i]]
            finish = day_of[end[i] - 1] if days[i] else first
            result[task.pk] = Forecast(first, finish, latest[i] <= start[i])
    return result


def _actual_start(task: PlanTask, calendar: WorkingCalendar, end: int) -> date:
    """A completed task's start: its last forecast start if not after its finish, else
    its finish moved back by its duration."""
    if task.started_on is not None and task.started_on <= task.done_on:
        return task.started_on
    if task.days == 0:
        return task.done_on
    return min(calendar.day(end - task.days), task.done_on)


def _a_cycle(stuck: set[int], links: Iterable[Link]) -> list[int]:
    """One loop among the tasks Kahn could not place. Each of them still waits for a
    predecessor that is stuck too, so walking back from any of them must come round."""
    waits_for: dict[int, int] = {}
    for link in links:
        if link.successor in stuck and link.predecessor in stuck:
            waits_for.setdefault(link.successor, link.predecessor)
    path: list[int] = []
    seen: dict[int, int] = {}
    pk = min(stuck)
    while pk not in seen:
        seen[pk] = len(path)
        path.append(pk)
        pk = waits_for[pk]
    loop = path[seen[pk] :]
    # Walking back listed successors first; show the loop in the order work flows,
    # from its oldest task.
    loop.reverse()
    first = loop.index(min(loop))
    loop = loop[first:] + loop[:first]
    return [*loop, loop[0]]


# --- One project, from the database and back -----------------------------------------------


def project_reschedule(
    *, project: Project, actor=None, today: date | None = None
) -> list[Milestone]:
    """Recompute every task's forecast and critical flag and every open milestone's
    forecast date; write back what changed; one MILESTONE_FORECAST_CHANGED outbox event
    per milestone whose forecast moved. Returns those milestones (their new forecast set).

    A fixed number of queries whatever the size of the plan. Safe inside the caller's
    transaction (it locks the project row for the rest of it). `today` is for tests;
    by default today in the calendar's time zone. Raises DependencyCycle (a ValueError)
    naming the tasks if the dependencies loop."""
    with transaction.atomic():
        calendar_id, time_zone = (
            Project.objects.select_for_update(of=("self",))
            .filter(pk=project.pk)
            .values_list("calendar_id", "calendar__time_zone")
            .get()
        )
        tz = zoneinfo.ZoneInfo(time_zone) if time_zone else timezone.get_default_timezone()
        if today is None:
            today = timezone.localtime(timezone.now(), tz).date()

        rows = list(
            Task.objects.filter(project_id=project.pk)
            .order_by()
            .values_list(
                "pk",
                "assignee_id",
                "estimate_hours",
                "start_date",
                "completed_at",
                "milestone_id",
                "forecast_start",
                "forecast_finish",
                "is_critical",
            )
        )
        links = [
            Link(pred, succ, kind, lag)
            for pred, succ, kind, lag in Dependency.objects.filter(successor__project_id=project.pk)
            .order_by()
            .values_list("predecessor_id", "successor_id", "type", "lag_days")
        ]
        milestones = list(Milestone.objects.filter(project_id=project.pk))
        calendar, rates = _load_calendar_and_rates(
            calendar_id, {row[1] for row in rows if row[1] is not None}
        )

        plan = []
        durations: dict[tuple[Decimal, Decimal], int] = {}  # few distinct pairs in a plan
        for pk, assignee, estimate, not_before, completed_at, _, started, _, _ in rows:
            rate = rates.get(assignee, DEFAULT_HOURS_PER_DAY)
            days = durations.get((estimate, rate))
            if days is None:
                days = durations[estimate, rate] = duration_days(estimate, rate)
            done_on = None if completed_at is None else _local_date(completed_at, tz)
            plan.append(PlanTask(pk, days, not_before, done_on, started))
        try:
            forecasts = forecast(plan, links, calendar, today)
        except DependencyCycle as cycle:
            names = dict(Task.objects.filter(pk__in=cycle.tasks).values_list("pk", "title"))
            raise DependencyCycle(cycle.tasks, names) from None

        changed_tasks = []
        latest: dict[int, date] = {}  # milestone → latest finish of its open tasks
        for pk, _, _, _, completed_at, milestone_id, start, finish, critical in rows:
            new = forecasts[pk]
            if (new.start, new.finish, new.critical) != (start, finish, critical):
                changed_tasks.append((pk, new))
            if completed_at is None and milestone_id is not None:
                latest[milestone_id] = max(new.finish, latest.get(milestone_id, new.finish))
        _write_task_forecasts(changed_tasks)

        moved = []
        for milestone in milestones:
            if milestone.completed_at is not None:
                continue
            new_date = latest.get(milestone.pk, milestone.target_date)
            if new_date != milestone.forecast_date:
                moved.append((milestone, milestone.forecast_date))
                milestone.forecast_date = new_date
        if moved:
            Milestone.objects.bulk_update([m for m, _ in moved], ["forecast_date"])
        for milestone, _ in moved:
            milestone.project = project  # spares the caller a query per milestone
        _events(
            project,
            ProjectEvent.Kind.MILESTONE_FORECAST_CHANGED,
            actor,
            [
                {
                    "milestone": milestone.pk,
                    "name": milestone.name,
                    "old_date": old_date.isoformat() if old_date else None,
                    "new_date": milestone.forecast_date.isoformat(),
                    "target_date": milestone.target_date.isoformat(),
                }
                for milestone, old_date in moved
            ],
        )
        return [milestone for milestone, _ in moved]


def _local_date(moment: datetime, tz) -> date:
    return timezone.localtime(moment, tz).date()


def _load_calendar_and_rates(
    calendar_id: int | None, assignees: set[int]
) -> tuple[WorkingCalendar, dict[int, Decimal]]:
    """The project's working calendar and each assignee's hours per working day: three
    queries at most (capacities, weekdays of the calendars involved, holidays)."""
    capacities = []
    if assignees:
        capacities = list(
            Capacity.objects.filter(user_id__in=assignees).values_list(
                "user_id", "hours_per_week", "calendar_id"
            )
        )
    calendar_ids = {calendar_id, *(row[2] for row in capacities)} - {None}
    weekdays: dict[int, set[int]] = {pk: set() for pk in calendar_ids}
    if calendar_ids:
        for pk, weekday in (
            BusinessHours.objects.filter(calendar_id__in=calendar_ids)
            .order_by()
            .values_list("calendar_id", "weekday")
            .distinct()
        ):
            weekdays[pk].add(weekday)
    holidays = []
    if calendar_id is not None:
        holidays = Holiday.objects.filter(calendar_id=calendar_id).values_list("date", flat=True)
    calendar = WorkingCalendar(weekdays.get(calendar_id, ()), holidays)

    rates = {}
    for user_id, per_week, own_calendar in capacities:
        if per_week is None or per_week <= 0:
            continue  # no usable rate: the default applies
        if own_calendar is None:
            days = calendar.days_per_week
        else:  # the same rule as the project's: no rows mean Monday to Friday
            days = len(weekdays[own_calendar]) or len(MONDAY_TO_FRIDAY)
        rates[user_id] = per_week / days
    return calendar, rates


def _write_task_forecasts(changed: list[tuple[int, Forecast]]) -> None:
    """One UPDATE for any number of tasks."""
    if not changed:
        return
    # The table name from the model (the columns are the fields' own names); values as
    # parameters: one statement, four arrays, however many rows.
    table = Task._meta.db_table
    sql = (
        f'UPDATE "{table}" AS t SET forecast_start = v.start, '  # noqa: S608
        "forecast_finish = v.finish, is_critical = v.critical "
        "FROM unnest(%s::bigint[], %s::date[], %s::date[], %s::boolean[]) "
        "AS v(id, start, finish, critical) WHERE t.id = v.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                [pk for pk, _ in changed],
                [new.start for _, new in changed],
                [new.finish for _, new in changed],
                [new.critical for _, new in changed],
            ],
        )
