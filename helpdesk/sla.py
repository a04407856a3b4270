"""The SLA clock: business-time arithmetic on a calendar, the ticket clock rules the
services call, the Q objects triage filters on, and the beat sweep that warns before a
breach and records and notifies a breach.

Decisions, in one place:

- **Business time is real elapsed time inside working intervals.** Intervals are
  wall-clock times in the calendar's time zone, so 09:00–17:00 means 09:00–17:00 local on
  both sides of a DST change; an interval that spans a change (02:00–04:00 on the night
  the clocks move) counts the hours that really pass (1 in spring, 3 in autumn).
  Wall-clock times that do not exist (the skipped hour) are read with the offset before
  the change, as `zoneinfo` does with fold=0.
- **A calendar with no BusinessHours rows works all day, every day**, its holidays still
  excepted. Refusing would make a half-configured calendar stop every SLA; 24×7 is what
  an admin who has entered no hours most likely means.
- An interval ending at 23:59:59 or later ends at midnight, so a night shift can be entered
  as Mon 22:00–23:59:59 plus Tue 00:00–06:00 without losing a second (the model only
  allows end > start within one day).
- Holidays are whole local dates: every interval of that date is skipped.
- **Pauses** (pending, on hold) stop the resolution clock only. The first-response clock
  keeps running: a ticket parked before anyone answered the caller still owes an answer.
- **Reopening** (resolved/closed → an open status) never moves `resolution_due`: the time
  it spent resolved counted, because the caller's problem was not in fact solved. If the
  target has passed, the ticket is breached at once and the next sweep records it.
- **"Due soon"** means within the policy's `warn_before_minutes` of *business* time, as the
  admin help text promises: at 16:30 on a Friday, a target due at 09:30 on Monday has one
  business hour left, so the warning goes out while someone is at work to act on it.
- **"Breached"** means a target was missed: overdue now, met late, or recorded by the
  sweep. A recorded breach stands even if a later priority change moves the due date,
  because it has been notified and belongs to the ticket's history.
- `sla_warned_at` is one field for both targets: it is cleared when the first response is
  given, so the resolution target gets its own warning later.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Prefetch, Q, prefetch_related_objects
from django.template.loader import render_to_string
from django.utils import timezone

from config.models import BusinessCalendar, BusinessHours, Holiday
from helpdesk.models import SLAPolicy, SLATarget, Ticket, TicketEvent

Status = Ticket.Status
PAUSED_STATUSES = frozenset({Status.PENDING, Status.ON_HOLD})
CLOSED_STATUSES = frozenset(Ticket.CLOSED_STATUSES)

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
TARGET_LABELS = {FIRST_RESPONSE: "First response", RESOLUTION: "Resolution"}

# The values sla_state() returns, for filters and badges.
BREACHED, DUE_SOON, PAUSED, MET, OK = "breached", "due_soon", "paused", "met", "ok"

# Interval ends at or after this time of day mean "until midnight".
_END_OF_DAY = time(23, 59, 59)
_WHOLE_DAY: tuple[time, time | None] = (time(0), None)


# --- Business-time arithmetic -------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """A calendar loaded into memory: what the arithmetic runs on, with no queries.

    `week[weekday]` holds that day's merged intervals as (start, end) wall-clock times;
    end None means midnight at the end of the day."""

    tz: zoneinfo.ZoneInfo
    week: tuple[tuple[tuple[time, time | None], ...], ...]
    holidays: frozenset[date]

    @classmethod
    def build(
        cls,
        time_zone: str,
        hours: Iterable[tuple[int, time, time]] = (),
        holidays: Iterable[date] = (),
    ) -> Schedule:
        """From plain data: `hours` as (weekday 0=Mon, start, end) rows, in any order,
        overlapping or touching rows allowed."""
        days: list[list[tuple[time, time | None]]] = [[] for _ in range(7)]
        for weekday, start, end in hours:
            days[weekday].append((start, None if end >= _END_OF_DAY else end))
        if not any(days):
            days = [[_WHOLE_DAY] for _ in range(7)]
        return cls(
            tz=zoneinfo.ZoneInfo(time_zone),
            week=tuple(_merged(day) for day in days),
            holidays=frozenset(holidays),
        )

    @classmethod
    def from_calendar(cls, calendar: BusinessCalendar) -> Schedule:
        """Reads `calendar.hours` and `calendar.holidays`: free when prefetched, two
        queries otherwise."""
        return cls.build(
            calendar.time_zone,
            ((row.weekday, row.start, row.end) for row in calendar.hours.all()),
            (holiday.date for holiday in calendar.holidays.all()),
        )

    @property
    def always_open(self) -> bool:
        """Working every second: the arithmetic is then plain time arithmetic."""
        return not self.holidays and all(day == (_WHOLE_DAY,) for day in self.week)

    def intervals_from(self, start: datetime) -> Iterator[tuple[datetime, datetime | None]]:
        """Working intervals as UTC (start, end) pairs, in order, clipped to begin no
        earlier than `start`; end None means open for ever (a 24×7 calendar without
        holidays). Endless otherwise: the caller stops."""
        start = start.astimezone(UTC)
        if self.always_open:
            yield start, None
            return
        day = start.astimezone(self.tz).date()
        while True:
            if day not in self.holidays:
                for begin, end in self._day_intervals(day):
                    if end > start:
                        yield max(begin, start), end
            day += timedelta(days=1)

    def _day_intervals(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        for begin_time, end_time in self.week[day.weekday()]:
            begin = datetime.combine(day, begin_time, tzinfo=self.tz).astimezone(UTC)
            if end_time is None:
                end_local = datetime.combine(day + timedelta(days=1), time(), tzinfo=self.tz)
            else:
                end_local = datetime.combine(day, end_time, tzinfo=self.tz)
            end = end_local.astimezone(UTC)
            # Only possible for an interval lying wholly in the hour a DST change skips.
            if end > begin:
                yield begin, end


def _merged(intervals: list[tuple[time, time | None]]) -> tuple[tuple[time, time | None], ...]:
    """Sorted, with overlapping or touching intervals joined, so no second counts twice."""
    merged: list[tuple[time, time | None]] = []
    for start, end in sorted(intervals, key=lambda interval: interval[0]):
        if merged and (merged[-1][1] is None or start <= merged[-1][1]):
            last_start, last_end = merged[-1]
            if last_end is not None and (end is None or end > last_end):
                merged[-1] = (last_start, end)
            continue
        merged.append((start, end))
    return tuple(merged)


def schedule_of(calendar: BusinessCalendar | Schedule) -> Schedule:
    return calendar if isinstance(calendar, Schedule) else Schedule.from_calendar(calendar)


def _require_aware(*moments: datetime) -> None:
    for moment in moments:
        if timezone.is_naive(moment):
            raise ValueError(f"{moment!r} is naive; SLA arithmetic needs aware datetimes")


def add_business_seconds(
    calendar: BusinessCalendar | Schedule, start: datetime, seconds: int
) -> datetime:
    """The moment (UTC) when `seconds` of business time have passed after `start`.

    Lands at the end of an interval rather than the start of the next when the time runs
    out exactly there (Friday 17:00, not Monday 09:00). Zero seconds gives `start`, even
    outside business hours. Precondition: `start` is aware, `seconds` ≥ 0."""
    _require_aware(start)
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    remaining = timedelta(seconds=seconds)
    if not remaining:
        return start.astimezone(UTC)
    for begin, end in schedule_of(calendar).intervals_from(start):
        if end is None or remaining <= end - begin:
            return begin + remaining
        remaining -= end - begin
    raise AssertionError("intervals_from() never ends")  # pragma: no cover


def business_seconds_between(
    calendar: BusinessCalendar | Schedule, start: datetime, end: datetime
) -> int:
    """Whole seconds of business time in [start, end); 0 when end ≤ start.
    Precondition: both aware."""
    _require_aware(start, end)
    if end <= start:
        return 0
    total = timedelta()
    for begin, finish in schedule_of(calendar).intervals_from(start):
        if begin >= end:
            break
        total += min(finish or end, end) - begin
        if finish is None or finish >= end:
            break
    return int(total.total_seconds())


def next_business_moment(calendar: BusinessCalendar | Schedule, moment: datetime) -> datetime:
    """`moment` itself when it is inside working hours, else when work next starts."""
    _require_aware(moment)
    begin, _end = next(schedule_of(calendar).intervals_from(moment))
    return begin


class CalendarCache:
    """Schedules by calendar id, each loaded once. Made for one sweep or one page, not
    kept across them, so an admin's edit shows in the next one."""

    def __init__(self):
        self._schedules: dict[int, Schedule] = {}
        self._thresholds: dict[tuple[int, int, datetime], datetime] = {}

    def preload(self, calendars: Iterable[BusinessCalendar]) -> None:
        """Load many calendars in two queries (hours, holidays) whatever their number."""
        missing = {calendar.pk: calendar for calendar in calendars}
        for pk in self._schedules:
            missing.pop(pk, None)
        # Unordered: Schedule.build sorts, and the models' default ordering would join the
        # calendar table only to sort by its name.
        prefetch_related_objects(
            list(missing.values()),
            Prefetch("hours", queryset=BusinessHours.objects.order_by()),
            Prefetch("holidays", queryset=Holiday.objects.order_by()),
        )
        for pk, calendar in missing.items():
            self._schedules[pk] = Schedule.from_calendar(calendar)

    def get(self, calendar: BusinessCalendar) -> Schedule:
        if calendar.pk not in self._schedules:
            self.preload([calendar])
        return self._schedules[calendar.pk]

    def warn_threshold(self, policy: SLAPolicy, now: datetime) -> datetime:
        """The latest due date that counts as due soon at `now` under `policy`: every
        due in [now, threshold] has at most warn_before_minutes of business time left.

        That is now plus the warning time in business time, moved on to when work next
        starts, since no business time passes in between. Reads `policy.calendar`
        (select_related it)."""
        key = (policy.calendar_id, policy.warn_before_minutes, now)
        if key not in self._thresholds:
            schedule = self.get(policy.calendar)
            reached = add_business_seconds(schedule, now, policy.warn_before_minutes * 60)
            self._thresholds[key] = next_business_moment(schedule, reached)
        return self._thresholds[key]


# --- Clock rules the services call -----------------------------------------------------------


def _target_for(policy_id: int | None, priority: str) -> SLATarget | None:
    if policy_id is None:
        return None
    return (
        SLATarget.objects.select_related("policy__calendar")
        .filter(policy_id=policy_id, priority=priority)
        .first()
    )


def ticket_start_clock(ticket: Ticket, now: datetime) -> None:
    """Give a new ticket its queue's default policy and due dates, counted from `now`.

    Precondition: `ticket` is unsaved, with queue and priority set. No default policy:
    the SLA fields stay empty. A policy without a target for this priority: the policy is
    kept (so a later change to a priority that has one starts the clock) but no dates."""
    ticket.sla_policy_id = ticket.queue.default_sla_policy_id
    target = _target_for(ticket.sla_policy_id, ticket.priority)
    if target is None:
        return
    schedule = Schedule.from_calendar(target.policy.calendar)
    ticket.first_response_due = add_business_seconds(
        schedule, now, target.first_response_minutes * 60
    )
    ticket.resolution_due = add_business_seconds(schedule, now, target.resolution_minutes * 60)


def ticket_status_changed(ticket: Ticket, old: str, new: str, now: datetime) -> list[str]:
    """Apply the clock rules of a status change; returns the fields changed, for the
    caller to save. Precondition: the caller holds the row lock and has set
    `ticket.status = new`.

    - active → pending/on hold: the resolution clock pauses;
    - pending/on hold → active: it resumes, `resolution_due` moving on by the business
      time it stood still (also added up in `sla_paused_seconds`);
    - → resolved/closed: `resolved_at = now` (kept when moving between the two); a pause
      ends without moving the due date;
    - resolved/closed → open status: `resolved_at` is cleared and `resolution_due` stays
      where it was (see the module docstring)."""
    changed: list[str] = []
    if new in CLOSED_STATUSES:
        if old not in CLOSED_STATUSES or ticket.resolved_at is None:
            ticket.resolved_at = now
            changed.append("resolved_at")
        if ticket.sla_paused_at is not None:
            ticket.sla_paused_at = None
            changed.append("sla_paused_at")
        return changed

    if old in CLOSED_STATUSES:
        ticket.resolved_at = None
        changed.append("resolved_at")

    has_clock = ticket.sla_policy_id is not None and ticket.resolution_due is not None
    if new in PAUSED_STATUSES:
        if has_clock and ticket.sla_paused_at is None:
            ticket.sla_paused_at = now
            changed.append("sla_paused_at")
    elif ticket.sla_paused_at is not None:
        if has_clock:
            schedule = Schedule.from_calendar(ticket.sla_policy.calendar)
            paused = business_seconds_between(schedule, ticket.sla_paused_at, now)
            ticket.resolution_due = add_business_seconds(schedule, ticket.resolution_due, paused)
            ticket.sla_paused_seconds += paused
            changed += ["resolution_due", "sla_paused_seconds"]
        ticket.sla_paused_at = None
        changed.append("sla_paused_at")
    return changed


def ticket_first_response(ticket: Ticket, now: datetime) -> list[str]:
    """The first public agent reply stops the first-response clock; returns the fields
    changed. Later replies change nothing. Precondition: the caller holds the row lock."""
    if ticket.first_response_at is not None:
        return []
    ticket.first_response_at = now
    changed = ["first_response_at"]
    if ticket.sla_warned_at is not None:
        # The warning was (most likely) about this target: let the resolution target
        # earn a warning of its own.
        ticket.sla_warned_at = None
        changed.append("sla_warned_at")
    return changed


def ticket_priority_changed(ticket: Ticket, now: datetime) -> list[str]:
    """Recompute the due dates from `created_at` for the new priority's targets; returns
    the fields changed. A target already met (first response given, ticket resolved)
    keeps its due date; time paused so far still counts in the ticket's favour. A
    priority without a target clears the open due dates. Recorded breaches stand.
    Precondition: the ticket is saved, `ticket.priority` is the new priority, and the
    caller holds the row lock. `now` is unused; it is there for symmetry with the others."""
    if ticket.sla_policy_id is None:
        return []
    target = _target_for(ticket.sla_policy_id, ticket.priority)
    schedule = Schedule.from_calendar(target.policy.calendar) if target else None
    changed = []
    if ticket.first_response_at is None:
        due = (
            add_business_seconds(schedule, ticket.created_at, target.first_response_minutes * 60)
            if target
            else None
        )
        if due != ticket.first_response_due:
            ticket.first_response_due = due
            changed.append("first_response_due")
    if ticket.resolved_at is None:
        due = (
            add_business_seconds(
                schedule,
                ticket.created_at,
                target.resolution_minutes * 60 + ticket.sla_paused_seconds,
            )
            if target
            else None
        )
        if due != ticket.resolution_due:
            ticket.resolution_due = due
            changed.append("resolution_due")
    if changed and ticket.sla_warned_at is not None:
        # A warning about the old date says nothing about the new one.
        ticket.sla_warned_at = None
        changed.append("sla_warned_at")
    return changed


# --- State of a ticket, and the same as Q objects ---------------------------------------


def _first_response_breached(ticket: Ticket, now: datetime) -> bool:
    due = ticket.first_response_due
    if due is None:
        return False
    if ticket.first_response_breached_at is not None:
        return True
    if ticket.first_response_at is not None:
        return ticket.first_response_at > due
    end = now if ticket.is_open else ticket.resolved_at
    return end is not None and end > due


def _resolution_breached(ticket: Ticket, now: datetime) -> bool:
    due = ticket.resolution_due
    if due is None:
        return False
    if ticket.resolution_breached_at is not None:
        return True
    if not ticket.is_open:
        return ticket.resolved_at is not None and ticket.resolved_at > due
    paused_at = ticket.sla_paused_at
    return due < now and (paused_at is None or due < paused_at)


def _running_targets(ticket: Ticket) -> list[tuple[str, datetime]]:
    """(target, due) of the targets whose clock runs on an open ticket."""
    running = []
    if ticket.first_response_at is None and ticket.first_response_due is not None:
        running.append((FIRST_RESPONSE, ticket.first_response_due))
    if ticket.sla_paused_at is None and ticket.resolution_due is not None:
        running.append((RESOLUTION, ticket.resolution_due))
    return running


def sla_state(
    ticket: Ticket, now: datetime, *, calendars: CalendarCache | None = None
) -> str | None:
    """ "breached", "due_soon", "paused", "ok" (open tickets), "met" (resolved or closed
    on time), or None when the ticket has no SLA (no policy, or no due dates).

    An open ticket is breached before it is due soon, due soon before paused (the
    first-response clock runs on while paused). Reads `ticket.sla_policy.calendar` only
    to tell "due soon" from "ok": lists should select_related("sla_policy__calendar")
    and share one `calendars` cache, or use sla_states()."""
    if ticket.sla_policy_id is None or (
        ticket.first_response_due is None and ticket.resolution_due is None
    ):
        return None
    if _first_response_breached(ticket, now) or _resolution_breached(ticket, now):
        return BREACHED
    if not ticket.is_open:
        return MET
    dues = [due for _target, due in _running_targets(ticket) if due >= now]
    if dues:
        threshold = (calendars or CalendarCache()).warn_threshold(ticket.sla_policy, now)
        if min(dues) <= threshold:
            return DUE_SOON
    return PAUSED if ticket.sla_paused_at is not None else OK


def sla_states(tickets: Iterable[Ticket], now: datetime) -> dict[int, str | None]:
    """sla_state() of many tickets by pk, in at most two queries (the calendars' hours and
    holidays) whatever their number. Precondition: the tickets were fetched with
    select_related("sla_policy__calendar")."""
    tickets = list(tickets)
    calendars = CalendarCache()
    calendars.preload(
        {
            t.sla_policy.calendar_id: t.sla_policy.calendar for t in tickets if t.sla_policy_id
        }.values()
    )
    return {ticket.pk: sla_state(ticket, now, calendars=calendars) for ticket in tickets}


_OPEN = ~Q(status__in=Ticket.CLOSED_STATUSES)
_CLOSED = Q(status__in=Ticket.CLOSED_STATUSES)
_RESOLUTION_RUNNING = Q(sla_paused_at__isnull=True)


def breached_q(now: datetime) -> Q:
    """Tickets whose SLA is breached at `now`: the same set as sla_state() == "breached"."""
    first_response = Q(first_response_due__isnull=False) & (
        Q(first_response_breached_at__isnull=False)
        | Q(first_response_at__gt=F("first_response_due"))
        | Q(first_response_at__isnull=True)
        & (
            _OPEN & Q(first_response_due__lt=now)
            | _CLOSED & Q(resolved_at__gt=F("first_response_due"))
        )
    )
    resolution = Q(resolution_due__isnull=False) & (
        Q(resolution_breached_at__isnull=False)
        | _CLOSED & Q(resolved_at__gt=F("resolution_due"))
        | _OPEN
        & Q(resolution_due__lt=now)
        & (_RESOLUTION_RUNNING | Q(resolution_due__lt=F("sla_paused_at")))
    )
    return Q(sla_policy__isnull=False) & (first_response | resolution)


def _running_due_between(start: datetime, end: datetime) -> Q:
    """A target whose clock runs falls due in [start, end]."""
    return Q(
        first_response_at__isnull=True,
        first_response_due__gte=start,
        first_response_due__lte=end,
    ) | (_RESOLUTION_RUNNING & Q(resolution_due__gte=start, resolution_due__lte=end))


def _policy_thresholds(now: datetime, calendars: CalendarCache) -> dict[datetime, list[int]]:
    """Policy ids grouped by their warn threshold at `now`: three queries in all."""
    policies = list(SLAPolicy.objects.select_related("calendar"))
    calendars.preload({policy.calendar_id: policy.calendar for policy in policies}.values())
    groups: dict[datetime, list[int]] = {}
    for policy in policies:
        groups.setdefault(calendars.warn_threshold(policy, now), []).append(policy.pk)
    return groups


def _warn_window_q(now: datetime, calendars: CalendarCache) -> Q:
    """Open tickets with a running target inside their own policy's warning window."""
    windows = Q(pk__in=[])
    for threshold, policy_ids in _policy_thresholds(now, calendars).items():
        windows |= Q(sla_policy_id__in=policy_ids) & _running_due_between(now, threshold)
    return _OPEN & windows


def due_soon_q(now: datetime, within: timedelta | None = None) -> Q:
    """Open, not breached tickets with a running target due in the next `within` of wall
    time, or, with `within` None, inside each policy's own warning window in business
    time: the same set as sla_state() == "due_soon". With None it reads the policies and
    their calendars (three queries) to build the Q."""
    if within is None:
        window = _warn_window_q(now, CalendarCache())
    else:
        window = _OPEN & Q(sla_policy__isnull=False) & _running_due_between(now, now + within)
    return window & ~breached_q(now)


# --- The sweep and its e-mails --------------------------------------------------------------


def _time_zone(name: str | None) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)


def format_due(due: datetime, tz: zoneinfo.ZoneInfo) -> str:
    """ "Mon 31 Mar 2025, 10:00 CEST": a due date as the calendar's people read it."""
    return due.astimezone(tz).strftime("%a %d %b %Y, %H:%M %Z")


def _claim_breaches(now: datetime) -> list[tuple[int, list[str]]]:
    """Record every new breach; returns (ticket id, breached targets) pairs.

    Rows being edited are skipped (SKIP LOCKED) and caught by the next sweep; a row this
    sweep locked is claimed by it alone, and once committed its breached_at is set, so a
    second sweep finds nothing to do. The breach time recorded is the due date: the
    moment the target was actually missed, however late the sweep runs."""
    first_response = Q(
        first_response_breached_at__isnull=True,
        first_response_at__isnull=True,
        first_response_due__lt=now,
    )
    resolution = (
        Q(resolution_breached_at__isnull=True, resolution_due__lt=now)
        # Paused in time: the clock stands still. Paused too late: breached all the same.
        & (_RESOLUTION_RUNNING | Q(resolution_due__lt=F("sla_paused_at")))
    )
    rows = list(
        Ticket.objects.open()
        .filter(sla_policy__isnull=False)
        .filter(first_response | resolution)
        .select_for_update(skip_locked=True, of=("self",))
        .values_list(
            "pk",
            "first_response_at",
            "first_response_due",
            "first_response_breached_at",
            "resolution_due",
            "resolution_breached_at",
            "sla_paused_at",
            "sla_policy__calendar__time_zone",
        )
        .order_by()
    )
    first_response_ids, resolution_ids, events, claimed = [], [], [], []
    for pk, fr_at, fr_due, fr_breached, res_due, res_breached, paused_at, tz_name in rows:
        tz = _time_zone(tz_name)
        targets = []
        if fr_breached is None and fr_at is None and fr_due is not None and fr_due < now:
            targets.append(FIRST_RESPONSE)
            first_response_ids.append(pk)
            events.append((pk, FIRST_RESPONSE, fr_due, tz))
        if (
            res_breached is None
            and res_due is not None
            and res_due < now
            and (paused_at is None or res_due < paused_at)
        ):
            targets.append(RESOLUTION)
            resolution_ids.append(pk)
            events.append((pk, RESOLUTION, res_due, tz))
        claimed.append((pk, targets))
    if first_response_ids:
        Ticket.objects.filter(pk__in=first_response_ids).update(
            first_response_breached_at=F("first_response_due")
        )
    if resolution_ids:
        Ticket.objects.filter(pk__in=resolution_ids).update(
            resolution_breached_at=F("resolution_due")
        )
    if events:
        TicketEvent.objects.bulk_create(
            TicketEvent(
                ticket_id=pk,
                kind=TicketEvent.Kind.SYSTEM,
                public=False,  # for agents only: never shown or sent to the caller
                body=f"SLA breached: the {TARGET_LABELS[target].lower()} target was due "
                f"{format_due(due, tz)}.",
                changes={f"{target}_breached_at": [None, due.isoformat()]},
            )
            for pk, target, due, tz in events
        )
    return claimed


def _claim_warnings(now: datetime) -> list[int]:
    """Mark open, not yet warned tickets with a target inside its warning window as
    warned; returns their ids. Claimed like breaches (SKIP LOCKED, then the update)."""
    window = _warn_window_q(now, CalendarCache())
    ids = list(
        Ticket.objects.filter(sla_warned_at__isnull=True)
        .filter(window)
        .select_for_update(skip_locked=True, of=("self",))
        .values_list("pk", flat=True)
        .order_by()
    )
    if ids:
        Ticket.objects.filter(pk__in=ids).update(sla_warned_at=now)
    return ids


@shared_task(name="helpdesk.tasks.sla_sweep", ignore_result=True)
def sla_sweep(now: datetime | None = None) -> dict[str, int]:
    """Run by beat every SLA_SWEEP_SECONDS: record and notify new breaches, then warn
    about targets close to breaching. Safe to run twice or in parallel; a constant
    number of queries whatever the number of tickets. `now` is for tests."""
    now = now or timezone.now()
    with transaction.atomic():
        # Breaches first: a target already missed gets a breach notice, not a warning.
        breaches = _claim_breaches(now)
        warned = _claim_warnings(now)
        for ticket_id, targets in breaches:
            transaction.on_commit(functools.partial(send_sla_breach.delay, ticket_id, targets))
        for ticket_id in warned:
            transaction.on_commit(functools.partial(send_sla_warning.delay, ticket_id))
    return {"breached": sum(len(targets) for _, targets in breaches), "warned": len(warned)}


def _ticket_for_mail(ticket_id: int) -> Ticket | None:
    return (
        Ticket.objects.select_related("queue", "assignee", "sla_policy__calendar")
        .filter(pk=ticket_id)
        .first()
    )


def _agent_recipients(ticket: Ticket) -> list[str]:
    """The assignee, or with none every agent of the queue. Agents only: SLA mail is
    internal and never goes to the requester."""
    if ticket.assignee is not None and ticket.assignee.is_active and ticket.assignee.email:
        return [ticket.assignee.email]
    return list(
        get_user_model()
        .objects.filter(helpdesk_queues=ticket.queue, is_active=True)
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
        .distinct()
    )


def _send_agent_mail(ticket: Ticket, subject: str, template: str, context: dict) -> bool:
    recipients = _agent_recipients(ticket)
    if not recipients:
        return False
    context = {
        "ticket": ticket,
        "ticket_url": settings.SITE_URL + ticket.get_absolute_url(),
        **context,
    }
    EmailMessage(
        subject=f"{subject}: {ticket.reference} {ticket.subject}",
        body=render_to_string(template, context),
        to=recipients,
        # Keeps auto-responders (and our own inbound mail) from answering it.
        headers={"Auto-Submitted": "auto-generated"},
    ).send()
    return True


def _deadline(target: str, due: datetime, tz: zoneinfo.ZoneInfo) -> dict[str, str]:
    return {"label": TARGET_LABELS[target], "due": format_due(due, tz)}


@shared_task(name="helpdesk.tasks.send_sla_warning", ignore_result=True)
def send_sla_warning(ticket_id: int) -> None:
    """E-mail the assignee (or the queue's agents) that the ticket's running targets are
    close to breaching, with the due date of each. Nothing when the ticket has been
    resolved since the sweep, or no clock runs any more."""
    ticket = _ticket_for_mail(ticket_id)
    if ticket is None or not ticket.is_open or ticket.sla_policy is None:
        return
    tz = _time_zone(ticket.sla_policy.calendar.time_zone)
    deadlines = [_deadline(target, due, tz) for target, due in _running_targets(ticket)]
    if deadlines:
        _send_agent_mail(
            ticket, "SLA due soon", "helpdesk/email/sla_warning.txt", {"deadlines": deadlines}
        )


@shared_task(name="helpdesk.tasks.send_sla_breach", ignore_result=True)
def send_sla_breach(ticket_id: int, targets: list[str]) -> None:
    """E-mail the assignee (or the queue's agents) that `targets` ("first_response",
    "resolution") of the ticket were breached."""
    ticket = _ticket_for_mail(ticket_id)
    if ticket is None or ticket.sla_policy is None:
        return
    tz = _time_zone(ticket.sla_policy.calendar.time_zone)
    # The recorded breach times are the due dates as they stood when missed.
    dues = {
        FIRST_RESPONSE: ticket.first_response_breached_at,
        RESOLUTION: ticket.resolution_breached_at,
    }
    deadlines = [_deadline(target, dues[target], tz) for target in targets if dues.get(target)]
    if deadlines:
        _send_agent_mail(
            ticket, "SLA breached", "helpdesk/email/sla_breach.txt", {"deadlines": deadlines}
        )
