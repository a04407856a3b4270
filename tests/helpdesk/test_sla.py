"""The SLA clock: business-time arithmetic, the clock rules, states and filters, the sweep.

Time is passed in explicitly (`now`); the office calendar works Monday to Friday,
09:00–17:00 in Europe/Berlin. March 2025: Friday 28th, clocks go forward on Sunday 30th.
"""

import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from config.celery import app as celery_app
from helpdesk import sla
from helpdesk.models import Ticket, TicketEvent
from helpdesk.services import ticket_create, ticket_update
from helpdesk.sla import (
    CalendarCache,
    Schedule,
    add_business_seconds,
    breached_q,
    business_seconds_between,
    due_soon_q,
    next_business_moment,
    sla_state,
    sla_states,
    sla_sweep,
    ticket_first_response,
    ticket_priority_changed,
    ticket_start_clock,
    ticket_status_changed,
)
from tests import factories
from tests.helpdesk.sla_factories import (
    BusinessCalendarFactory,
    BusinessHoursFactory,
    office_calendar,
    office_policy,
)

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600
OFFICE = Schedule.build("Europe/Berlin", [(day, time(9), time(17)) for day in range(5)])


def berlin(day: int, hour: int, minute: int = 0, month: int = 3, year: int = 2025) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


# March 2025 in the office: Mon 24 … Fri 28, weekend 29–30 (DST starts on the 30th), Mon 31.
MON, TUE, FRI, NEXT_MON = 24, 25, 28, 31


# --- Business-time arithmetic -------------------------------------------------------------


def test_adding_time_inside_one_working_day_is_plain_addition():
    assert add_business_seconds(OFFICE, berlin(MON, 10), 2 * HOUR) == berlin(MON, 12)


def test_time_left_at_closing_carries_over_to_the_next_morning():
    assert add_business_seconds(OFFICE, berlin(MON, 16), 2 * HOUR) == berlin(TUE, 10)


def test_time_running_out_at_closing_lands_at_closing_not_next_opening():
    assert add_business_seconds(OFFICE, berlin(FRI, 16), HOUR) == berlin(FRI, 17)


def test_the_weekend_does_not_count():
    friday = datetime(2025, 3, 21, 16, tzinfo=BERLIN)
    assert add_business_seconds(OFFICE, friday, 2 * HOUR) == berlin(MON, 10)
    assert business_seconds_between(OFFICE, friday, berlin(MON, 10)) == 2 * HOUR


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (berlin(MON, 20), berlin(TUE, 9, 30)),  # evening: from next opening
        (berlin(TUE, 3), berlin(TUE, 9, 30)),  # small hours: from this morning's opening
        (datetime(2025, 3, 22, 11, tzinfo=BERLIN), berlin(MON, 9, 30)),  # Saturday
    ],
)
def test_a_start_outside_hours_counts_from_the_next_opening(start, expected):
    assert add_business_seconds(OFFICE, start, 30 * 60) == expected


def test_holidays_are_skipped_whole():
    easter_monday = date(2025, 4, 21)
    calendar = Schedule.build(
        "Europe/Berlin",
        [(day, time(9), time(17)) for day in range(5)],
        holidays=[easter_monday],
    )
    good_friday_eve = datetime(
        2025, 4, 17, 16, tzinfo=BERLIN
    )  # Thursday; Friday is no holiday here
    assert add_business_seconds(calendar, good_friday_eve, 10 * HOUR) == datetime(
        2025, 4, 22, 10, tzinfo=BERLIN
    )
    assert (
        business_seconds_between(
            calendar,
            datetime(2025, 4, 21, 0, tzinfo=BERLIN),
            datetime(2025, 4, 22, 0, tzinfo=BERLIN),
        )
        == 0
    )


def test_several_intervals_a_day_skip_the_lunch_break():
    split = Schedule.build("UTC", [(0, time(9), time(12)), (0, time(13), time(17))])
    monday = datetime(2025, 3, 24, tzinfo=UTC)
    assert add_business_seconds(split, monday.replace(hour=11, minute=30), HOUR) == monday.replace(
        hour=13, minute=30
    )
    assert business_seconds_between(split, monday.replace(hour=11), monday.replace(hour=14)) == (
        2 * HOUR
    )


def test_overlapping_rows_count_each_second_once():
    overlapping = Schedule.build("UTC", [(0, time(9), time(13)), (0, time(12), time(17))])
    monday = datetime(2025, 3, 24, tzinfo=UTC)
    assert business_seconds_between(overlapping, monday, monday + timedelta(days=1)) == 8 * HOUR


def test_a_night_shift_across_midnight_loses_no_second():
    # The model needs end > start, so a night shift is Mon 22:00–23:59:59 + Tue 00:00–06:00.
    nights = Schedule.build("UTC", [(0, time(22), time(23, 59, 59)), (1, time(0), time(6))])
    monday_23h = datetime(2025, 3, 24, 23, tzinfo=UTC)
    assert add_business_seconds(nights, monday_23h, 2 * HOUR) == datetime(
        2025, 3, 25, 1, tzinfo=UTC
    )


def test_office_hours_stay_local_across_the_spring_dst_change():
    # Friday 16:00 CET (15:00 UTC) + 2 h → Monday 10:00 CEST, which is 08:00 UTC, not 09:00.
    due = add_business_seconds(OFFICE, berlin(FRI, 16), 2 * HOUR)
    assert due == datetime(2025, 3, 31, 8, tzinfo=UTC)
    assert due.astimezone(BERLIN).hour == 10


def test_office_hours_stay_local_across_the_autumn_dst_change():
    friday = berlin(24, 16, month=10)  # CEST
    assert add_business_seconds(OFFICE, friday, 2 * HOUR) == datetime(2025, 10, 27, 9, tzinfo=UTC)


@pytest.mark.parametrize(("month", "day", "real_hours"), [(3, 30, 5), (10, 26, 7)])
def test_an_interval_spanning_the_dst_change_counts_the_hours_that_really_pass(
    month, day, real_hours
):
    # Sunday 00:00–06:00 local: the clocks skip 02:00–03:00 in March and repeat it in October.
    sunday_nights = Schedule.build("Europe/Berlin", [(6, time(0), time(6))])
    sunday = datetime(2025, month, day, tzinfo=BERLIN)
    assert business_seconds_between(sunday_nights, sunday, sunday + timedelta(days=1)) == (
        real_hours * HOUR
    )


def test_a_calendar_without_hours_works_around_the_clock_but_keeps_its_holidays():
    always = Schedule.build("Europe/Berlin")
    saturday_noon = berlin(29, 12)
    # 24 real hours, though Sunday has only 23 on the wall clock: 13:00 CEST on Sunday.
    assert add_business_seconds(always, saturday_noon, 24 * HOUR) == saturday_noon.astimezone(
        UTC
    ) + timedelta(hours=24)
    with_holiday = Schedule.build("Europe/Berlin", holidays=[date(2025, 3, 30)])
    assert add_business_seconds(with_holiday, saturday_noon, 24 * HOUR) == berlin(NEXT_MON, 12)


@pytest.mark.parametrize(
    "seconds", [0, 1, 59, HOUR, 8 * HOUR, 8 * HOUR + 1, 41 * HOUR, 2000 * HOUR]
)
@pytest.mark.parametrize(
    "start", [berlin(MON, 8), berlin(MON, 12, 15), berlin(FRI, 16, 59), berlin(29, 10)]
)
def test_counting_back_what_was_added_gives_the_same_seconds(start, seconds):
    assert business_seconds_between(
        OFFICE, start, add_business_seconds(OFFICE, start, seconds)
    ) == (seconds)


def test_no_time_passes_backwards_and_zero_seconds_stay_put():
    assert business_seconds_between(OFFICE, berlin(TUE, 12), berlin(MON, 12)) == 0
    sunday = berlin(30, 12)
    assert add_business_seconds(OFFICE, sunday, 0) == sunday


def test_naive_datetimes_and_negative_seconds_are_refused():
    with pytest.raises(ValueError, match="naive"):
        add_business_seconds(OFFICE, datetime(2025, 3, 24, 10), 60)
    with pytest.raises(ValueError, match="negative"):
        add_business_seconds(OFFICE, berlin(MON, 10), -1)


def test_next_business_moment_is_now_inside_hours_else_the_next_opening():
    assert next_business_moment(OFFICE, berlin(MON, 10)) == berlin(MON, 10)
    assert next_business_moment(OFFICE, berlin(FRI, 17)) == berlin(NEXT_MON, 9)


# --- Calendars from the database -------------------------------------------------------------


@pytest.mark.django_db
def test_a_calendar_loads_its_hours_and_holidays_in_two_queries(django_assert_num_queries):
    calendar = office_calendar(holidays=[date(2025, 3, 31)])
    BusinessHoursFactory(calendar=calendar, weekday=5, start=time(10), end=time(12))
    with django_assert_num_queries(2):
        schedule = Schedule.from_calendar(calendar)
    assert schedule.week[5] == ((time(10), time(12)),)
    assert add_business_seconds(schedule, berlin(FRI, 16), 2 * HOUR) == berlin(29, 11)
    # Monday 31st is a holiday: Saturday 10–12 then Tuesday.
    assert add_business_seconds(schedule, berlin(FRI, 16), 4 * HOUR) == berlin(1, 10, month=4)


@pytest.mark.django_db
def test_the_calendar_cache_loads_many_calendars_once(django_assert_num_queries):
    calendars = [office_calendar() for _ in range(3)]
    cache = CalendarCache()
    with django_assert_num_queries(2):
        cache.preload(calendars)
    with django_assert_num_queries(0):
        for calendar in calendars:
            cache.get(calendar)


# --- Clock rules ---------------------------------------------------------------------------


@pytest.fixture
def policy(db):
    """P1: 30 min / 4 h, P3: 1 h / 8 h, no P4; warns 30 business minutes ahead."""
    return office_policy(warn_before_minutes=30)


@pytest.fixture
def sla_queue(queue, policy):
    queue.default_sla_policy = policy
    queue.save(update_fields=["default_sla_policy"])
    return queue


def new_ticket(queue, *, now, priority="P3", **fields) -> Ticket:
    """A ticket started the way ticket_create starts one, at `now`, saved."""
    ticket = factories.TicketFactory.build(queue=queue, priority=priority, **fields)
    ticket.requester.save()
    ticket_start_clock(ticket, now)
    ticket.save()
    Ticket.objects.filter(pk=ticket.pk).update(created_at=now)
    ticket.created_at = now
    return ticket


def change_status(ticket: Ticket, new: str, now: datetime) -> list[str]:
    old, ticket.status = ticket.status, new
    return ticket_status_changed(ticket, old, new, now)


@pytest.mark.parametrize(
    ("priority", "first_response_due", "resolution_due"),
    [
        ("P1", berlin(MON, 10, 30), berlin(MON, 14)),
        ("P3", berlin(MON, 11), berlin(TUE, 10)),
    ],
)
def test_the_clock_starts_with_the_queue_policy_target_for_the_priority(
    sla_queue, policy, priority, first_response_due, resolution_due
):
    ticket = new_ticket(sla_queue, now=berlin(MON, 10), priority=priority)
    assert ticket.sla_policy == policy
    assert (ticket.first_response_due, ticket.resolution_due) == (
        first_response_due,
        resolution_due,
    )


def test_a_queue_without_policy_gives_no_sla(queue):
    ticket = new_ticket(queue, now=berlin(MON, 10))
    assert ticket.sla_policy is None
    assert (ticket.first_response_due, ticket.resolution_due) == (None, None)
    assert sla_state(ticket, berlin(MON, 10)) is None


def test_a_priority_without_target_keeps_the_policy_but_has_no_dates(sla_queue, policy):
    ticket = new_ticket(sla_queue, now=berlin(MON, 10), priority="P4")
    assert ticket.sla_policy == policy
    assert (ticket.first_response_due, ticket.resolution_due) == (None, None)
    assert sla_state(ticket, berlin(MON, 10)) is None


def test_ticket_create_starts_the_clock(queue):
    around_the_clock = office_policy(calendar=BusinessCalendarFactory())
    queue.default_sla_policy = around_the_clock
    queue.save(update_fields=["default_sla_policy"])
    ticket = ticket_create(queue=queue, subject="VPN down", requester_email="c@example.org")
    ticket.refresh_from_db()
    assert ticket.sla_policy == around_the_clock
    # A calendar without hours works around the clock: 60 minutes are 60 minutes.
    assert abs(ticket.first_response_due - ticket.created_at - timedelta(minutes=60)) < timedelta(
        seconds=5
    )


def test_pending_pauses_and_resuming_extends_resolution_by_business_time_only(sla_queue):
    ticket = new_ticket(sla_queue, now=berlin(MON, 10))  # resolution due Tue 10:00
    assert change_status(ticket, "pending", berlin(MON, 16)) == ["sla_paused_at"]
    assert ticket.sla_paused_at == berlin(MON, 16)
    # Paused Mon 16:00 → Tue 11:00: 1 h on Monday, 2 h on Tuesday; the night is free.
    changed = change_status(ticket, "open", berlin(TUE, 11))
    assert set(changed) == {"resolution_due", "sla_paused_seconds", "sla_paused_at"}
    assert ticket.resolution_due == berlin(TUE, 13)
    assert ticket.sla_paused_seconds == 3 * HOUR
    assert ticket.sla_paused_at is None
    assert ticket.first_response_due == berlin(MON, 11)  # the first-response clock ran on


def test_a_pause_over_the_weekend_extends_by_the_working_hours_in_it(sla_queue):
    ticket = new_ticket(sla_queue, now=berlin(FRI, 10))  # resolution due Mon 31st 10:00
    change_status(ticket, "on_hold", berlin(FRI, 16))
    change_status(ticket, "pending", berlin(29, 12))  # still paused: nothing changes
    assert ticket.sla_paused_at == berlin(FRI, 16)
    change_status(ticket, "open", berlin(NEXT_MON, 10))
    assert ticket.sla_paused_seconds == 2 * HOUR
    assert ticket.resolution_due == berlin(NEXT_MON, 12)


def test_resolving_ends_a_pause_without_extending_and_records_when(sla_queue):
    ticket = new_ticket(sla_queue, now=berlin(MON, 10))
    change_status(ticket, "pending", berlin(MON, 12))
    assert set(change_status(ticket, "resolved", berlin(TUE, 15))) == {
        "resolved_at",
        "sla_paused_at",
    }
    assert (ticket.resolved_at, ticket.sla_paused_at) == (berlin(TUE, 15), None)
    assert ticket.resolution_due == berlin(TUE, 10)
    assert change_status(ticket, "closed", berlin(TUE, 16)) == []
    assert ticket.resolved_at == berlin(TUE, 15)


def test_reopening_after_the_target_passed_shows_the_ticket_breached(sla_queue):
    ticket = new_ticket(sla_queue, now=berlin(MON, 10))
    ticket_first_response(ticket, berlin(MON, 10, 30))
    change_status(ticket, "resolved", berlin(MON, 15))
    assert sla_state(ticket, berlin(TUE, 12)) == "met"
    assert change_status(ticket, "open", berlin(TUE, 12)) == ["resolved_at"]
    assert ticket.resolved_at is None
    assert ticket.resolution_due == berlin(TUE, 10)
    assert sla_state(ticket, berlin(TUE, 12)) == "breached"


def test_the_first_public_reply_stops_the_first_response_clock_once(sla_queue):
    ticket = new_ticket(sla_queue, now=berlin(MON, 10))
    ticket.sla_warned_at = berlin(MON, 10, 5)
    assert ticket_first_response(ticket, berlin(MON, 10, 20)) == [
        "first_response_at",
        "sla_warned_at",
    ]
    assert ticket.first_response_at == berlin(MON, 10, 20)
    # The warning was about the first response; the resolution target may earn its own.
    assert ticket.sla_warned_at is None
    assert ticket_first_response(ticket, berlin(MON, 10, 40)) == []
    assert ticket.first_response_at == berlin(MON, 10, 20)
    assert sla_state(ticket, berlin(MON, 12)) == "ok"  # first response met, 11:00 long gone


def test_a_priority_change_recomputes_from_creation_with_the_pauses_so_far(sla_queue):
    ticket = new_ticket(sla_queue, now=berlin(MON, 10))
    change_status(ticket, "pending", berlin(MON, 11))
    change_status(ticket, "open", berlin(MON, 12))  # 1 h paused
    ticket.priority = "P1"
    assert set(ticket_priority_changed(ticket, berlin(MON, 12))) == {
        "first_response_due",
        "resolution_due",
    }
    assert ticket.first_response_due == berlin(MON, 10, 30)
    assert ticket.resolution_due == berlin(MON, 15)  # 4 h target + 1 h paused


def test_a_priority_change_keeps_a_met_first_response_and_a_target_less_priority_clears(
    sla_queue,
):
    ticket = new_ticket(sla_queue, now=berlin(MON, 10), priority="P1")
    ticket_first_response(ticket, berlin(MON, 10, 10))
    ticket.sla_warned_at = berlin(MON, 13)
    ticket.priority = "P3"
    assert set(ticket_priority_changed(ticket, berlin(MON, 13))) == {
        "resolution_due",
        "sla_warned_at",
    }
    assert (ticket.first_response_due, ticket.resolution_due) == (
        berlin(MON, 10, 30),
        berlin(TUE, 10),
    )
    ticket.priority = "P4"
    ticket_priority_changed(ticket, berlin(MON, 13))
    assert ticket.resolution_due is None
    assert ticket.first_response_due == berlin(MON, 10, 30)  # met: stays on record


def test_ticket_update_applies_the_clock_rules_and_saves_them(sla_queue):
    ticket = new_ticket(sla_queue, now=berlin(MON, 10))
    ticket_update(ticket=ticket, actor=None, version=None, status="pending")
    ticket.refresh_from_db()
    assert ticket.sla_paused_at is not None
    ticket_update(ticket=ticket, actor=None, version=None, priority="P1")
    ticket.refresh_from_db()
    assert ticket.first_response_due == berlin(MON, 10, 30)


# --- States and filters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "changes", "expected"),
    [
        (berlin(MON, 10, 5), {}, "ok"),
        (berlin(MON, 10, 45), {}, "due_soon"),  # first response at 11:00
        (berlin(MON, 11, 1), {}, "breached"),
        (berlin(MON, 10, 45), {"first_response_at": berlin(MON, 10, 40)}, "ok"),
        (berlin(MON, 12), {"first_response_at": berlin(MON, 11, 30)}, "breached"),  # late
        # Resolution due Tue 10:00.
        (berlin(TUE, 9, 40), {"first_response_at": berlin(MON, 10, 40)}, "due_soon"),
        (berlin(MON, 15), {"first_response_at": berlin(MON, 10, 40)}, "ok"),
        (
            berlin(TUE, 12),
            {"first_response_at": berlin(MON, 10, 40), "sla_paused_at": berlin(MON, 16)},
            "paused",
        ),
        (
            berlin(TUE, 12),
            {"first_response_at": berlin(MON, 10, 40), "sla_paused_at": berlin(TUE, 11)},
            "breached",  # paused after the target had passed
        ),
        (
            berlin(MON, 10, 45),
            {"sla_paused_at": berlin(MON, 10, 30)},
            "due_soon",  # pausing does not stop the first-response clock
        ),
        (
            berlin(TUE, 12),
            {
                "first_response_at": berlin(MON, 10, 40),
                "status": "resolved",
                "resolved_at": berlin(MON, 16),
            },
            "met",
        ),
        (
            berlin(TUE, 12),
            {
                "first_response_at": berlin(MON, 10, 40),
                "status": "closed",
                "resolved_at": berlin(TUE, 11),
            },
            "breached",
        ),
        (
            berlin(MON, 10, 5),
            {"first_response_breached_at": berlin(MON, 10)},
            "breached",  # a recorded breach stands
        ),
    ],
)
def test_sla_state(sla_queue, now, changes, expected):
    ticket = new_ticket(sla_queue, now=berlin(MON, 10))
    for field, value in changes.items():
        setattr(ticket, field, value)
    assert sla_state(ticket, now) == expected


def test_due_soon_is_counted_in_business_time_over_the_weekend(sla_queue):
    ticket = new_ticket(sla_queue, now=berlin(FRI, 9, 15))  # first response due Fri 10:15
    ticket_first_response(ticket, berlin(FRI, 10))
    ticket.save()
    # Resolution due Monday 09:15: 64 wall hours away at Friday 16:50, but 25 business minutes.
    assert ticket.resolution_due == berlin(NEXT_MON, 9, 15)
    assert sla_state(ticket, berlin(FRI, 16, 50)) == "due_soon"
    assert sla_state(ticket, berlin(FRI, 16, 40)) == "ok"
    assert Ticket.objects.filter(due_soon_q(berlin(FRI, 16, 50))).get() == ticket
    assert not Ticket.objects.filter(due_soon_q(berlin(FRI, 16, 40)))
    # The wall-time variant sees it only within the hour before.
    assert not Ticket.objects.filter(due_soon_q(berlin(FRI, 16, 50), within=timedelta(hours=1)))
    assert Ticket.objects.filter(due_soon_q(berlin(NEXT_MON, 8, 30), within=timedelta(hours=1)))


def test_the_filters_select_exactly_the_tickets_whose_badge_says_so(
    sla_queue, django_assert_num_queries
):
    """Every state on one list: breached_q and due_soon_q agree with sla_state()."""
    start = berlin(MON, 10)
    cases = [
        {},
        {"first_response_at": berlin(MON, 10, 40)},
        {"first_response_at": berlin(MON, 11, 30)},
        {"first_response_at": berlin(MON, 10, 40), "sla_paused_at": berlin(MON, 16)},
        {"first_response_at": berlin(MON, 10, 40), "sla_paused_at": berlin(TUE, 11)},
        {"sla_paused_at": berlin(MON, 10, 30)},
        {"first_response_at": berlin(MON, 10, 40), "status": "resolved", "resolved_at": start},
        {"status": "closed", "resolved_at": berlin(TUE, 11)},
        {"status": "closed", "resolved_at": berlin(MON, 10, 30)},
        {"first_response_breached_at": berlin(MON, 11)},
        {"resolution_breached_at": berlin(TUE, 10), "first_response_at": berlin(MON, 10, 40)},
    ]
    tickets = [new_ticket(sla_queue, now=start) for _ in cases]
    for ticket, changes in zip(tickets, cases, strict=True):
        Ticket.objects.filter(pk=ticket.pk).update(**changes)
    new_ticket(sla_queue, now=start, priority="P4")  # policy, but no dates
    factories.TicketFactory(queue=sla_queue)  # no policy at all
    seen_states = set()
    for now in [berlin(MON, 10, 5), berlin(MON, 10, 45), berlin(TUE, 9, 40), berlin(TUE, 12)]:
        listed = list(Ticket.objects.select_related("sla_policy__calendar"))
        with django_assert_num_queries(2):
            states = sla_states(listed, now)
        seen_states |= set(states.values())
        assert set(Ticket.objects.filter(breached_q(now)).values_list("pk", flat=True)) == {
            pk for pk, state in states.items() if state == "breached"
        }
        assert set(Ticket.objects.filter(due_soon_q(now)).values_list("pk", flat=True)) == {
            pk for pk, state in states.items() if state == "due_soon"
        }
    assert seen_states == {"breached", "due_soon", "paused", "met", "ok", None}


# --- The sweep -------------------------------------------------------------------------------


@pytest.fixture
def run_tasks_here():
    """Run .delay()ed tasks in this process, so on-commit callbacks send their mail into
    the locmem outbox. (The real worker round trip is tested in tests/reliability.)"""
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


def test_the_sweep_warns_the_assignee_once(
    sla_queue, agent, requester, mailoutbox, django_capture_on_commit_callbacks, run_tasks_here
):
    ticket = new_ticket(sla_queue, now=berlin(MON, 10), assignee=agent, requester=requester)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert sla_sweep(now=berlin(MON, 10, 30)) == {"breached": 0, "warned": 1}
    assert len(callbacks) == 1
    ticket.refresh_from_db()
    assert ticket.sla_warned_at == berlin(MON, 10, 30)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert sla_sweep(now=berlin(MON, 10, 40)) == {"breached": 0, "warned": 0}
    assert callbacks == []

    [mail] = mailoutbox
    assert mail.to == [agent.email]
    assert requester.email not in mail.recipients()
    assert ticket.reference in mail.subject
    assert ticket.subject in mail.body
    assert "First response due: Mon 24 Mar 2025, 11:00 CET" in mail.body
    assert settings.SITE_URL + ticket.get_absolute_url() in mail.body
    assert mail.extra_headers["Auto-Submitted"] == "auto-generated"


def test_the_warning_goes_to_the_queue_agents_when_nobody_is_assigned(sla_queue, agent, mailoutbox):
    colleague = factories.AgentFactory()
    sla_queue.members.add(colleague)
    ticket = new_ticket(sla_queue, now=berlin(MON, 10))
    sla.send_sla_warning(ticket.pk)
    [mail] = mailoutbox
    assert sorted(mail.to) == sorted([agent.email, colleague.email])


def test_the_sweep_records_a_breach_once_with_one_internal_note_and_one_mail(
    sla_queue, agent, mailoutbox, django_capture_on_commit_callbacks, run_tasks_here
):
    ticket = new_ticket(sla_queue, now=berlin(MON, 10), assignee=agent)
    ticket.sla_warned_at = berlin(MON, 10, 30)
    ticket.save(update_fields=["sla_warned_at"])
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            sla_sweep(now=berlin(MON, 11, 1))
    ticket.refresh_from_db()
    assert ticket.first_response_breached_at == berlin(MON, 11)  # when it was missed
    assert ticket.resolution_breached_at is None
    [event] = TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.SYSTEM)
    assert event.public is False
    assert "first response" in event.body
    assert "Mon 24 Mar 2025, 11:00 CET" in event.body
    [mail] = mailoutbox
    assert mail.to == [agent.email]
    assert "First response was due: Mon 24 Mar 2025, 11:00 CET" in mail.body
    assert "Resolution" not in mail.body


def test_both_targets_missed_make_two_notes_and_one_mail(
    sla_queue, agent, mailoutbox, django_capture_on_commit_callbacks, run_tasks_here
):
    ticket = new_ticket(sla_queue, now=berlin(MON, 10), assignee=agent)
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_sweep(now=berlin(TUE, 10, 1)) == {"breached": 2, "warned": 0}
    bodies = sorted(ticket.events.filter(kind="system").values_list("body", flat=True))
    assert len(bodies) == 2
    assert "first response" in bodies[0]
    assert "resolution" in bodies[1]
    [mail] = mailoutbox
    assert "First response was due" in mail.body
    assert "Resolution was due: Tue 25 Mar 2025, 10:00 CET" in mail.body


def test_the_sweep_leaves_paused_resolved_and_slaless_tickets_alone(
    sla_queue, queue, django_capture_on_commit_callbacks
):
    paused = new_ticket(
        sla_queue,
        now=berlin(MON, 10),
        first_response_at=berlin(MON, 10, 10),
        sla_paused_at=berlin(MON, 12),
        status="pending",
    )
    resolved = new_ticket(
        sla_queue, now=berlin(MON, 10), status="resolved", resolved_at=berlin(MON, 10, 30)
    )
    other_queue = factories.QueueFactory()
    factories.TicketFactory(queue=other_queue, first_response_due=berlin(MON, 11))  # no policy
    with django_capture_on_commit_callbacks() as callbacks:
        assert sla_sweep(now=berlin(TUE, 12)) == {"breached": 0, "warned": 0}
    assert callbacks == []
    paused.refresh_from_db()
    resolved.refresh_from_db()
    assert paused.resolution_breached_at is None
    assert resolved.first_response_breached_at is None


def test_a_paused_ticket_still_breaches_its_first_response(
    sla_queue, django_capture_on_commit_callbacks
):
    ticket = new_ticket(
        sla_queue, now=berlin(MON, 10), status="pending", sla_paused_at=berlin(MON, 10, 5)
    )
    with django_capture_on_commit_callbacks():
        assert sla_sweep(now=berlin(MON, 12)) == {"breached": 1, "warned": 0}
    ticket.refresh_from_db()
    assert ticket.first_response_breached_at == berlin(MON, 11)
    assert ticket.resolution_breached_at is None


def test_the_sweep_runs_the_same_queries_for_one_ticket_as_for_thirty(
    sla_queue, django_capture_on_commit_callbacks
):
    def sweep_count(count: int) -> int:
        for _ in range(count):
            new_ticket(sla_queue, now=berlin(MON, 9))  # first response missed at 11:00
            new_ticket(sla_queue, now=berlin(MON, 10, 30))  # first response due 11:30
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks():
            result = sla_sweep(now=berlin(MON, 11, 5))
        assert result == {"breached": count, "warned": count}
        return len(queries)

    assert sweep_count(1) == sweep_count(30)


def test_an_email_task_for_a_ticket_gone_meanwhile_does_nothing(mailoutbox, db):
    sla.send_sla_warning(987654)
    sla.send_sla_breach(987654, ["resolution"])
    assert mailoutbox == []


@pytest.mark.django_db(transaction=True)
def test_a_ticket_locked_by_another_transaction_is_skipped_and_caught_next_time(
    sla_queue, mailoutbox, run_tasks_here
):
    ticket = new_ticket(sla_queue, now=berlin(MON, 9))
    locked, release = threading.Event(), threading.Event()

    def hold_the_row():
        try:
            with transaction.atomic():
                Ticket.objects.select_for_update().get(pk=ticket.pk)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(10)
        assert sla_sweep(now=berlin(MON, 11, 5)) == {"breached": 0, "warned": 0}
    finally:
        release.set()
        holder.join()
    assert sla_sweep(now=berlin(MON, 11, 5)) == {"breached": 1, "warned": 0}
    assert len(mailoutbox) == 1  # sent on commit, by the eager task
