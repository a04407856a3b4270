"""Hypercare: the go-live starts it; during it, tickets newly linked to the project go to
its second line tagged "hypercare"; after it, to the support queue; a daily task hands the
second line's open hypercare tickets to support."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery import app as celery_app
from helpdesk import services as helpdesk_services
from helpdesk.models import Ticket
from liaison import handover, publish
from liaison.models import DEFAULT_CRITERIA, HandoverPlan, ProjectDesk
from projects import services as project_services
from projects.models import Milestone
from tests import factories

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


@pytest.fixture
def second_line(db):
    return factories.QueueFactory(name="VPN team", slug="vpn-team", key="VPNT")


@pytest.fixture
def support(db):
    return factories.QueueFactory(name="Network support", slug="net-support", key="NET")


@pytest.fixture
def plan(project, second_line, support):
    plan = handover.handover_plan_for(project)
    plan.second_line_queue, plan.support_queue = second_line, support
    plan.save(update_fields=["second_line_queue", "support_queue"])
    return plan


def live(plan, *, days_ago=0):
    """The project went live `days_ago` days ago."""
    handover.go_live_reached(plan.project, TODAY() - timedelta(days=days_ago))
    plan.refresh_from_db()
    return plan


def tags(ticket) -> list[str]:
    return sorted(ticket.tags.values_list("name", flat=True))


def link(ticket, project, agent, capture, milestone=None):
    with capture(execute=True):
        helpdesk_services.ticket_link(
            ticket=ticket, actor=agent, project=project, milestone=milestone
        )
    return Ticket.objects.select_related("queue").get(pk=ticket.pk)


# --- Starting hypercare -------------------------------------------------------------------


def test_go_live_starts_hypercare_for_the_plans_days(project):
    day = TODAY()
    plan = handover.go_live_reached(project, day)
    assert plan.hypercare_until == day + timedelta(days=14)
    assert [c.name for c in plan.criteria.all()] == list(DEFAULT_CRITERIA)


def test_a_second_go_live_only_lengthens_hypercare(plan):
    live(plan, days_ago=2)
    first = plan.hypercare_until
    handover.go_live_reached(plan.project, TODAY() - timedelta(days=10))
    plan.refresh_from_db()
    assert plan.hypercare_until == first
    handover.go_live_reached(plan.project, TODAY())
    plan.refresh_from_db()
    assert plan.hypercare_until == TODAY() + timedelta(days=14)


def test_completing_the_go_live_starts_hypercare_through_the_push(
    project, pm, django_capture_on_commit_callbacks
):
    go_live = project_services.milestone_create(
        project=project, name="Cut-over", target_date=TODAY(), kind=Milestone.Kind.GO_LIVE, actor=pm
    )
    with django_capture_on_commit_callbacks(execute=False):  # no broker here: publish below
        project_services.milestone_complete(milestone=go_live, actor=pm)
    publish.publish_project(project.pk)
    plan = HandoverPlan.objects.get(project=project)
    assert plan.hypercare_until == timezone.localdate(go_live.completed_at) + timedelta(days=14)
    assert plan.in_hypercare(TODAY())


# --- Routing newly linked tickets ---------------------------------------------------------


def test_during_hypercare_a_linked_ticket_goes_to_the_second_line_tagged(
    plan, project, queue, agent, second_line, django_capture_on_commit_callbacks
):
    live(plan)
    ticket = factories.TicketFactory(queue=queue, subject="VPN drops")
    ticket = link(ticket, project, agent, django_capture_on_commit_callbacks)
    assert ticket.queue == second_line
    assert ticket.reference.startswith("VPNT-")
    assert tags(ticket) == ["hypercare"]
    moved = ticket.events.filter(changes__has_key="queue").get()
    assert moved.author is None  # the system moved it


def test_the_hypercare_tag_shows_on_triage(
    plan, project, queue, agent, second_line, client_for, django_capture_on_commit_callbacks
):
    live(plan)
    second_line.members.add(agent)
    ticket = factories.TicketFactory(queue=queue, subject="VPN drops again")
    link(ticket, project, agent, django_capture_on_commit_callbacks)
    html = client_for(agent).get("/tickets/").content.decode()
    assert '<span class="tag">hypercare</span>' in html


def test_existing_tags_are_kept(plan, project, queue, agent, django_capture_on_commit_callbacks):
    live(plan)
    ticket = factories.TicketFactory(queue=queue)
    helpdesk_services.ticket_update(ticket=ticket, actor=agent, version=None, tags=["vpn"])
    ticket = link(ticket, project, agent, django_capture_on_commit_callbacks)
    assert tags(ticket) == ["hypercare", "vpn"]


def test_after_hypercare_a_linked_ticket_goes_to_the_support_queue(
    plan, project, queue, agent, support, django_capture_on_commit_callbacks
):
    live(plan, days_ago=15)
    assert not plan.in_hypercare(TODAY())
    ticket = factories.TicketFactory(queue=queue)
    ticket = link(ticket, project, agent, django_capture_on_commit_callbacks)
    assert ticket.queue == support
    assert tags(ticket) == []


def test_the_last_day_of_hypercare_still_counts(
    plan, project, queue, agent, second_line, django_capture_on_commit_callbacks
):
    live(plan, days_ago=14)
    ticket = link(
        factories.TicketFactory(queue=queue), project, agent, django_capture_on_commit_callbacks
    )
    assert ticket.queue == second_line


def test_before_go_live_nothing_is_routed(
    plan, project, queue, agent, django_capture_on_commit_callbacks
):
    ticket = link(
        factories.TicketFactory(queue=queue), project, agent, django_capture_on_commit_callbacks
    )
    assert ticket.queue == queue
    assert tags(ticket) == []


def test_without_a_second_line_the_ticket_stays_but_is_tagged(
    plan, project, queue, agent, django_capture_on_commit_callbacks
):
    HandoverPlan.objects.filter(pk=plan.pk).update(second_line_queue=None)
    live(plan)
    ticket = link(
        factories.TicketFactory(queue=queue), project, agent, django_capture_on_commit_callbacks
    )
    assert ticket.queue == queue
    assert tags(ticket) == ["hypercare"]


def test_a_closed_ticket_is_not_moved(
    plan, project, queue, agent, django_capture_on_commit_callbacks
):
    live(plan)
    ticket = factories.TicketFactory(queue=queue, status=Ticket.Status.RESOLVED)
    ticket = link(ticket, project, agent, django_capture_on_commit_callbacks)
    assert ticket.queue == queue
    assert tags(ticket) == []


def test_choosing_a_milestone_later_does_not_route_the_ticket_again(
    plan, project, queue, agent, second_line, django_capture_on_commit_callbacks
):
    live(plan)
    milestone = factories.MilestoneFactory(project=project)
    ticket = link(
        factories.TicketFactory(queue=queue), project, agent, django_capture_on_commit_callbacks
    )
    assert ticket.queue == second_line
    # An agent sends it back to the first line on purpose, then picks the milestone.
    helpdesk_services.ticket_move(ticket=ticket, queue=queue, actor=agent)
    ticket = link(ticket, project, agent, django_capture_on_commit_callbacks, milestone=milestone)
    assert ticket.queue == queue


def test_the_intake_ticket_is_not_routed(
    plan, project, queue, agent, django_capture_on_commit_callbacks
):
    live(plan)
    ticket = factories.TicketFactory(queue=queue)
    ProjectDesk.objects.create(project=project, intake_ticket=ticket)
    ticket = link(ticket, project, agent, django_capture_on_commit_callbacks)
    assert ticket.queue == queue


def test_a_routing_failure_never_breaks_the_agents_link(
    plan, project, queue, agent, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    live(plan)

    def broken(ticket_id, today=None):
        raise RuntimeError("queue vanished")

    monkeypatch.setattr(handover, "route_linked_ticket", broken)
    ticket = link(
        factories.TicketFactory(queue=queue), project, agent, django_capture_on_commit_callbacks
    )
    assert ticket.project == project and ticket.queue == queue
    assert "Routing ticket" in caplog.text


# --- The end of hypercare -----------------------------------------------------------------


def test_the_daily_task_hands_the_second_lines_tickets_to_support(
    plan, project, queue, agent, second_line, support, django_capture_on_commit_callbacks
):
    live(plan)
    waiting = link(
        factories.TicketFactory(queue=queue), project, agent, django_capture_on_commit_callbacks
    )
    sent_elsewhere = link(
        factories.TicketFactory(queue=queue), project, agent, django_capture_on_commit_callbacks
    )
    helpdesk_services.ticket_move(ticket=sent_elsewhere, queue=queue, actor=agent)
    done = link(
        factories.TicketFactory(queue=queue), project, agent, django_capture_on_commit_callbacks
    )
    helpdesk_services.ticket_update(ticket=done, actor=agent, version=None, status="resolved")
    escalated = factories.TicketFactory(queue=second_line, project=project)  # never tagged

    assert handover.end_hypercare() == 0  # hypercare still runs: nothing to do
    HandoverPlan.objects.filter(pk=plan.pk).update(hypercare_until=TODAY() - timedelta(days=1))

    assert handover.end_hypercare() == 1
    waiting = Ticket.objects.get(pk=waiting.pk)
    assert (waiting.queue, tags(waiting)) == (support, [])
    sent_elsewhere = Ticket.objects.get(pk=sent_elsewhere.pk)
    assert (sent_elsewhere.queue, tags(sent_elsewhere)) == (queue, [])
    assert Ticket.objects.get(pk=done.pk).queue == second_line  # closed: left alone
    assert Ticket.objects.get(pk=escalated.pk).queue == second_line

    events = waiting.events.count()
    assert handover.end_hypercare() == 0  # a second run changes nothing
    assert waiting.events.count() == events


def test_without_a_support_queue_the_tickets_wait_for_one(
    plan, project, queue, agent, second_line, support, django_capture_on_commit_callbacks
):
    live(plan)
    ticket = link(
        factories.TicketFactory(queue=queue), project, agent, django_capture_on_commit_callbacks
    )
    HandoverPlan.objects.filter(pk=plan.pk).update(
        support_queue=None, hypercare_until=TODAY() - timedelta(days=1)
    )
    assert handover.end_hypercare() == 0
    assert tags(Ticket.objects.get(pk=ticket.pk)) == ["hypercare"]
    HandoverPlan.objects.filter(pk=plan.pk).update(support_queue=support)
    assert handover.end_hypercare() == 1
    assert Ticket.objects.get(pk=ticket.pk).queue == support


def test_the_task_runs_daily_from_beat():
    celery_app.loader.import_default_modules()
    celery_app.finalize()
    celery_app.on_after_finalize.send(sender=celery_app)
    entries = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert "liaison.handover.end_hypercare" in entries
    assert "liaison.handover.end_hypercare" in celery_app.tasks
