"""The promise ledger: which promises are kept, broken or pending, accuracy per project,
and the one action that tells every caller whose date no longer holds, once."""

from datetime import datetime, time

import pytest
from django.utils import timezone

from config.celery import app as celery_app
from helpdesk.models import TicketEvent
from liaison import ledger
from liaison.models import ProjectDesk, Promise
from projects.models import MilestoneSlip
from tests import factories
from tests.liaison import test_inbox
from tests.liaison.test_inbox import days

pytestmark = pytest.mark.django_db

# The cast of the liaison tests (see tests/liaison/test_inbox.py).
liaison, desk_project, promise = test_inbox.liaison, test_inbox.desk_project, test_inbox.promise


@pytest.fixture
def run_tasks_here():
    """Run .delay()ed tasks in this process, so on-commit callbacks send their mail into
    the locmem outbox (as tests/helpdesk/test_sla.py does)."""
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


@pytest.fixture(autouse=True)
def mail_settings(settings):
    settings.SITE_URL = "https://help.example.org"


def completed_on(day):
    """A completion moment late on `day`, local time: still that day."""
    return timezone.make_aware(datetime.combine(day, time(22, 30)))


# --- Ledger maths -----------------------------------------------------------------------


def test_kept_broken_and_pending_follow_the_plan(desk_project, promise):
    done_early = factories.MilestoneFactory(
        project=desk_project, target_date=days(-10), completed_at=completed_on(days(-12))
    )
    done_late = factories.MilestoneFactory(
        project=desk_project, target_date=days(-3), completed_at=completed_on(days(-3))
    )
    slipping = factories.MilestoneFactory(
        project=desk_project, target_date=days(10), forecast_date=days(20)
    )
    stale = factories.MilestoneFactory(project=desk_project, target_date=days(-2))

    promise(done_early, days(-12))  # kept: done on the very day promised
    promise(done_early, days(-11))  # kept
    promise(done_late, days(-5))  # broken: done two days after the promised day
    promise(slipping, days(15))  # broken: the forecast (20) is later than promised
    promise(slipping, days(20))  # pending: the forecast is the promised day
    promise(slipping, days(30))  # pending
    promise(stale, days(-2))  # broken: the promised day has passed, the milestone is open

    accuracy = ledger.accuracy_for(desk_project)

    assert (accuracy.made, accuracy.kept, accuracy.broken, accuracy.pending) == (7, 2, 3, 2)
    assert accuracy.percent == 29  # 2 of 7
    assert accuracy.to_update == 1  # only the slip's caller: the stale one is not "later"


def test_a_project_without_promises_has_no_percentage(desk_project):
    accuracy = ledger.accuracy_for(desk_project)
    assert (accuracy.made, accuracy.percent, accuracy.to_update) == (0, None, 0)


def test_a_forecast_later_than_the_target_breaks_a_promise_an_earlier_one_does_not(
    desk_project, promise
):
    running_late = factories.MilestoneFactory(
        project=desk_project, target_date=days(10), forecast_date=days(20)
    )
    ahead = factories.MilestoneFactory(
        project=desk_project, target_date=days(20), forecast_date=days(8)
    )
    promise(running_late, days(12))  # the work will not be done by then
    promise(ahead, days(20))  # done early, but the planned date stands
    assert ledger.accuracy_for(desk_project).broken == 1


def test_accuracy_is_per_project(desk_project, promise):
    other = factories.MilestoneFactory(target_date=days(30))
    mine = factories.MilestoneFactory(project=desk_project, target_date=days(30))
    promise(other, days(5))
    promise(mine, days(40))
    by_project = ledger.accuracy_by_project([desk_project.pk, other.project_id])
    assert by_project[desk_project.pk].broken == 0
    assert by_project[other.project_id].broken == 1


def test_waiting_for_an_update_leaves_out_the_told_the_completed_and_the_merged(
    desk_project, promise, queue
):
    milestone = factories.MilestoneFactory(project=desk_project, target_date=days(20))
    waiting = promise(milestone, days(10))
    promise(milestone, days(10), updated_at=timezone.now())  # already told
    target = factories.TicketFactory(queue=queue, project=desk_project)
    merged = factories.TicketFactory(queue=queue, project=desk_project, merged_into=target)
    promise(milestone, days(10), ticket=merged)
    done = factories.MilestoneFactory(
        project=desk_project, target_date=days(-1), completed_at=completed_on(days(-1))
    )
    promise(done, days(-4))  # broken, but over: nothing left to tell

    rows, total = ledger.broken_promises(desk_project)

    assert [p.pk for p in rows] == [waiting.pk] and total == 1
    assert rows[0].expected == days(20) and rows[0].days_late == 10
    assert ledger.accuracy_for(desk_project).broken == 4


def test_callers_are_counted_once_per_ticket(desk_project, promise):
    first = factories.MilestoneFactory(project=desk_project, target_date=days(20))
    second = factories.MilestoneFactory(project=desk_project, target_date=days(25))
    one = promise(first, days(10))
    promise(second, days(12), ticket=one.ticket)
    promise(first, days(11))
    assert ledger.accuracy_for(desk_project).to_update == 2


@pytest.mark.parametrize("rows", [1, 40])
def test_ledger_reads_are_one_query_each(desk_project, promise, rows, django_assert_num_queries):
    milestone = factories.MilestoneFactory(project=desk_project, target_date=days(20))
    for _ in range(rows):
        promise(milestone, days(10))
    with django_assert_num_queries(1):
        accuracy = ledger.accuracy_for(desk_project)
    with django_assert_num_queries(1):
        shown, total = ledger.broken_promises(desk_project)
        assert [p.ticket.reference for p in shown]  # ticket and queue came with the row
        assert [p.ticket.requester.email for p in shown]
    assert accuracy.to_update == total == rows


# --- The update ------------------------------------------------------------------------


def test_the_update_text_gives_the_new_date_and_no_internal_reason(desk_project, promise, pm):
    milestone = factories.MilestoneFactory(
        project=desk_project, name="New VPN client", target_date=days(20)
    )
    MilestoneSlip.objects.create(
        milestone=milestone,
        old_date=days(5),
        new_date=days(20),
        reason="Vendor went bankrupt",
        author=pm,
    )
    text = ledger.update_text(desk_project, [(milestone, days(5))], workaround="")
    assert "“New VPN client”" in text
    assert f"{days(20):%-d %b %Y}" in text and f"{days(5):%-d %b %Y}" in text
    assert "bankrupt" not in text


def test_sending_posts_one_public_reply_per_ticket_and_stamps_the_promises(
    desk_project, promise, liaison
):
    first = factories.MilestoneFactory(project=desk_project, name="Pilot", target_date=days(20))
    second = factories.MilestoneFactory(project=desk_project, name="Rollout", target_date=days(30))
    a = promise(first, days(10))
    b = promise(second, days(12), ticket=a.ticket)
    c = promise(first, days(9))
    holds = promise(first, days(25))

    assert ledger.promises_send_updates(project=desk_project, actor=liaison) == 2

    replies = TicketEvent.objects.filter(kind=TicketEvent.Kind.REPLY, public=True)
    assert sorted(replies.values_list("ticket_id", flat=True)) == sorted([a.ticket_id, c.ticket_id])
    both = replies.get(ticket=a.ticket)
    assert both.author == liaison
    assert "“Pilot”" in both.body and "“Rollout”" in both.body
    stamped = set(Promise.objects.filter(updated_at__isnull=False).values_list("pk", flat=True))
    assert stamped == {a.pk, b.pk, c.pk}
    holds.refresh_from_db()
    assert holds.updated_at is None


def test_a_public_workaround_goes_with_the_update_an_internal_one_does_not(
    desk_project, promise, liaison
):
    milestone = factories.MilestoneFactory(project=desk_project, target_date=days(20))
    promise(milestone, days(10))
    promise(milestone, days(11))
    desk = ProjectDesk.objects.create(project=desk_project, workaround="Use the web portal.")
    ledger.promises_send_updates(project=desk_project, actor=liaison)
    assert not TicketEvent.objects.filter(body__contains="web portal").exists()

    Promise.objects.update(updated_at=None)
    desk.workaround_public = True
    desk.save()
    ledger.promises_send_updates(project=desk_project, actor=liaison)
    assert TicketEvent.objects.filter(body__contains="Meanwhile: Use the web portal.").count() == 2


def test_pressing_twice_mails_nobody_twice(
    desk_project, promise, liaison, mailoutbox, django_capture_on_commit_callbacks, run_tasks_here
):
    milestone = factories.MilestoneFactory(project=desk_project, target_date=days(20))
    promised = [promise(milestone, days(10)) for _ in range(3)]

    with django_capture_on_commit_callbacks(execute=True):
        assert ledger.promises_send_updates(project=desk_project, actor=liaison) == 3
    assert sorted(m.to[0] for m in mailoutbox) == sorted(p.ticket.requester.email for p in promised)
    assert all("is now expected on" in m.body for m in mailoutbox)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert ledger.promises_send_updates(project=desk_project, actor=liaison) == 0
    assert callbacks == [] and len(mailoutbox) == 3


def test_a_caller_promised_again_after_a_slip_is_waiting_again(desk_project, promise, liaison):
    milestone = factories.MilestoneFactory(project=desk_project, target_date=days(20))
    old = promise(milestone, days(10))
    ledger.promises_send_updates(project=desk_project, actor=liaison)
    # The agent gives the caller the new date; the plan slips past it too.
    promise(milestone, days(20), ticket=old.ticket)
    milestone.target_date = days(27)
    milestone.save()
    assert ledger.accuracy_for(desk_project).to_update == 1
    assert ledger.promises_send_updates(project=desk_project, actor=liaison) == 1
    assert TicketEvent.objects.filter(ticket=old.ticket, kind="reply").count() == 2
