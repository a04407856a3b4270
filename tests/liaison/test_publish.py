"""The push from plan to help desk: bulletins, notes, caller updates, in order, once."""

from datetime import date, timedelta

import pytest
from django.db import transaction

from helpdesk.models import Ticket, TicketEvent
from liaison import publish
from liaison.models import Bulletin, ProjectDesk
from liaison.tasks import send_requester_updates, sweep_unpublished
from projects import services as plan
from projects.models import Milestone, Project, ProjectEvent
from tests import factories

pytestmark = pytest.mark.django_db

GO_LIVE = date(2027, 3, 1)  # a Monday


@pytest.fixture
def affected(project, queue, agent):
    """The VPN project affects the service desk; the agent is its liaison."""
    queue.projects.add(project)
    Project.objects.filter(pk=project.pk).update(liaison=agent)
    project.refresh_from_db()
    return project


@pytest.fixture
def go_live(affected, pm):
    return plan.milestone_create(
        project=affected, name="Go-live", target_date=GO_LIVE, kind=Milestone.Kind.GO_LIVE, actor=pm
    )


def linked_tickets(project, queue, count, **fields):
    tickets = factories.TicketFactory.create_batch(count, queue=queue, **fields)
    Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(project=project)
    return tickets


def notes_on(ticket, key_prefix="project-event:"):
    return list(
        TicketEvent.objects.filter(
            ticket=ticket, kind=TicketEvent.Kind.SYSTEM, source_key__startswith=key_prefix
        )
    )


def move(milestone, days, pm, reason="Vendor delay"):
    return plan.milestone_reschedule(
        milestone=milestone,
        target_date=milestone.target_date + timedelta(days=days),
        reason=reason,
        actor=pm,
    )


def test_a_move_updates_the_bulletin_and_notes_every_open_linked_ticket(
    go_live, affected, queue, pm
):
    open_ones = linked_tickets(affected, queue, 3)
    closed = linked_tickets(affected, queue, 1, status=Ticket.Status.CLOSED)[0]
    unlinked = factories.TicketFactory(queue=queue)
    move(go_live, 14, pm)

    publish.publish_project(affected.pk)

    bulletin = Bulletin.objects.get(queue=queue, project=affected)
    assert bulletin.active
    # The help desk's own go-live comes first but is the IT side's: callers ask about this.
    assert bulletin.next_milestone == go_live
    assert bulletin.health == Project.Health.ON_TRACK
    for ticket in open_ones:
        [note] = [n for n in notes_on(ticket) if "“Go-live” moved" in n.body]
        assert "Mon 1 Mar 2027" in note.body and "Mon 15 Mar 2027" in note.body
        assert "+14 days" in note.body and "Vendor delay" in note.body
        assert note.public is False
    assert notes_on(closed) == [] and notes_on(unlinked) == []
    assert not ProjectEvent.objects.filter(project=affected, published_at__isnull=True).exists()


def test_the_bulletin_names_the_next_milestone_with_forecast_baseline_and_slips(
    affected, queue, pm
):
    cutover = plan.milestone_create(project=affected, name="Cutover", target_date=GO_LIVE)
    move(cutover, 7, pm, reason="Firewall change freeze")
    publish.publish_project(affected.pk)

    bulletin = Bulletin.objects.get(queue=queue, project=affected)
    assert bulletin.next_milestone_id == cutover.pk
    assert bulletin.baseline_date == GO_LIVE
    assert bulletin.forecast_date == GO_LIVE + timedelta(days=7)
    assert bulletin.slip_days == 7
    assert bulletin.slips[0]["reason"] == "Firewall change freeze"
    assert "Cutover" in bulletin.title and "Mon 8 Mar 2027" in bulletin.title
    assert "later than first planned" in bulletin.body


def test_the_liaisons_own_words_replace_the_default_answer(affected, queue, pm):
    ProjectDesk.objects.create(
        project=affected, tell_callers="Keep using the old VPN until March.", workaround="Use RDP."
    )
    plan.milestone_create(project=affected, name="Cutover", target_date=GO_LIVE)
    publish.publish_project(affected.pk)
    bulletin = Bulletin.objects.get(queue=queue, project=affected)
    assert bulletin.body == "Keep using the old VPN until March."
    assert bulletin.workaround == "Use RDP."
    assert bulletin.public is False  # the workaround stays internal unless the liaison says


def test_a_second_run_and_a_replayed_event_change_nothing(go_live, affected, queue, pm):
    tickets = linked_tickets(affected, queue, 2)
    move(go_live, 7, pm)
    publish.publish_project(affected.pk)
    before = TicketEvent.objects.count()
    bulletin = Bulletin.objects.get(queue=queue, project=affected)

    assert publish.publish_project(affected.pk) == 0
    # A duplicate delivery of an applied event: replay its effects by hand.
    event = ProjectEvent.objects.filter(kind="milestone_rescheduled").order_by("sequence")[0]
    desk = ProjectDesk.objects.get(project=affected)
    publish.apply_event(event, desk)

    assert TicketEvent.objects.count() == before
    assert Bulletin.objects.get(pk=bulletin.pk).updated_at == bulletin.updated_at
    assert all(len([n for n in notes_on(t) if "moved" in n.body]) == 2 for t in tickets)


def test_an_older_event_never_overwrites_a_newer_bulletin(go_live, affected, queue, pm):
    move(go_live, 7, pm)
    publish.publish_project(affected.pk)
    latest = Bulletin.objects.get(queue=queue, project=affected)
    # An old event arriving late (e.g. a retried dead letter) with a stale snapshot:
    desk = ProjectDesk.objects.get(project=affected)
    first = ProjectEvent.objects.filter(project=affected).order_by("sequence").first()
    assert first.sequence < desk.last_sequence
    publish.apply_event(first, desk)
    assert Bulletin.objects.get(pk=latest.pk).sequence == latest.sequence
    assert Bulletin.objects.get(pk=latest.pk).updated_at == latest.updated_at


def test_events_are_applied_in_sequence_order_whoever_asks_first(affected, queue, pm):
    cutover = plan.milestone_create(project=affected, name="Cutover", target_date=GO_LIVE)
    ticket = linked_tickets(affected, queue, 1)[0]
    move(cutover, 7, pm, reason="first")
    move(Milestone.objects.get(pk=cutover.pk), 7, pm, reason="second")
    # Whichever task runs first applies both, oldest first; the other finds nothing.
    assert publish.publish_project(affected.pk) >= 2
    assert publish.publish_project(affected.pk) == 0
    bodies = [n.body for n in notes_on(ticket) if "moved" in n.body]
    assert [b.split("Reason: ")[1] for b in bodies] == ["first", "second"]
    assert Bulletin.objects.get(queue=queue).forecast_date == GO_LIVE + timedelta(days=14)


def test_a_rolled_back_change_leaves_no_event_and_enqueues_nothing(
    go_live, affected, pm, django_capture_on_commit_callbacks
):
    events = ProjectEvent.objects.count()
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        move(go_live, 3, pm)
        raise RuntimeError("the request failed after the move")
    assert ProjectEvent.objects.count() == events
    assert callbacks == []
    assert Milestone.objects.get(pk=go_live.pk).target_date == GO_LIVE


def test_a_committed_change_enqueues_its_publish_on_commit(
    go_live, affected, pm, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(
        "liaison.tasks.publish_events.apply_async",
        lambda args, kwargs=None, **options: sent.append(args),
    )
    with django_capture_on_commit_callbacks(execute=True):
        move(go_live, 3, pm)
    assert sent and all(args == (affected.pk,) for args in sent)


def test_a_failing_effect_is_retried_then_set_aside_and_later_events_still_flow(
    affected, queue, pm, monkeypatch
):
    cutover = plan.milestone_create(project=affected, name="Cutover", target_date=GO_LIVE)
    publish.publish_project(affected.pk)
    ticket = linked_tickets(affected, queue, 1)[0]
    move(cutover, 7, pm, reason="breaks")
    real_add_notes = publish.add_notes

    def flaky(event, body):
        if "breaks" in body:
            raise ConnectionError("disk full")
        return real_add_notes(event, body)

    monkeypatch.setattr(publish, "add_notes", flaky)
    for attempt in range(1, publish.MAX_ATTEMPTS):
        assert publish.publish_project(affected.pk) == 0
        failing = ProjectEvent.objects.get(kind="milestone_rescheduled")
        assert failing.attempts == attempt and failing.dead_at is None
        assert "disk full" in failing.last_error
    # Nothing of the failed attempts is left behind.
    assert notes_on(ticket) == []
    move(Milestone.objects.get(pk=cutover.pk), 7, pm, reason="fine")
    publish.publish_project(affected.pk)
    failing.refresh_from_db()
    assert failing.dead_at is not None and failing.published_at is None
    assert [n.body.split("Reason: ")[1] for n in notes_on(ticket)] == ["fine"]

    # An admin retries the dead letter once the fault is fixed: its note lands, late,
    # and the bulletin keeps the newer date.
    monkeypatch.setattr(publish, "add_notes", real_add_notes)
    plan.event_retry(failing)
    publish.publish_project(affected.pk)
    failing.refresh_from_db()
    assert failing.published_at is not None
    assert sorted(n.body.split("Reason: ")[1] for n in notes_on(ticket)) == ["breaks", "fine"]
    assert Bulletin.objects.get(queue=queue).forecast_date == GO_LIVE + timedelta(days=14)


def test_the_sweep_redrives_events_whose_task_was_lost(go_live, affected, monkeypatch):
    sent = []
    monkeypatch.setattr(
        "liaison.tasks.publish_events.apply_async",
        lambda args, kwargs=None, **options: sent.append(args),
    )
    assert sweep_unpublished(older_than_seconds=0) == 1
    assert sent == [(affected.pk,)]
    publish.publish_project(affected.pk)
    sent.clear()
    assert sweep_unpublished(older_than_seconds=0) == 0 and sent == []


def test_callers_who_asked_are_told_the_new_date_once(
    go_live, affected, queue, pm, mailoutbox, django_capture_on_commit_callbacks, monkeypatch
):
    informed = linked_tickets(affected, queue, 2, keep_requester_informed=True)
    quiet = linked_tickets(affected, queue, 1)[0]
    move(go_live, 14, pm, reason="Internal: vendor missed a patch")
    keys = []
    monkeypatch.setattr(
        "liaison.tasks.send_requester_updates.apply_async",
        lambda args, kwargs=None, **options: keys.append(args[0]),
    )
    monkeypatch.setattr("liaison.tasks.publish_events.apply_async", lambda *a, **k: None)
    with django_capture_on_commit_callbacks(execute=True):
        publish.publish_project(affected.pk)
    assert len(keys) == 1
    assert send_requester_updates(keys[0]) == 2
    assert send_requester_updates(keys[0]) == 0  # a redelivered task sends nothing
    assert sorted(m.to[0] for m in mailoutbox) == sorted(t.requester.email for t in informed)
    mail = mailoutbox[0]
    assert "Mon 15 Mar 2027" in mail.body and "vendor" not in mail.body
    assert mail.extra_headers["Auto-Submitted"] == "auto-generated"
    public = TicketEvent.objects.filter(ticket=informed[0], public=True, kind="system").get()
    assert public.message_id and "Mon 15 Mar 2027" in public.body
    assert not TicketEvent.objects.filter(ticket=quiet, public=True, kind="system").exists()


def test_completing_a_milestone_wakes_the_tickets_snoozed_until_it(affected, queue, pm, agent):
    cutover = plan.milestone_create(project=affected, name="Cutover", target_date=GO_LIVE)
    waiting = factories.TicketFactory(
        queue=queue, status=Ticket.Status.PENDING, snoozed_until_milestone=cutover
    )
    plan.milestone_complete(milestone=cutover, actor=pm)
    publish.publish_project(affected.pk)
    waiting.refresh_from_db()
    assert waiting.snoozed_until_milestone is None
    assert waiting.status == Ticket.Status.OPEN
    assert any("Woken up" in n.body for n in notes_on(waiting))
    # Reopened like an agent would: a status entry, and the SLA clock runs again.
    assert TicketEvent.objects.filter(ticket=waiting, kind=TicketEvent.Kind.STATUS).exists()
    assert waiting.sla_paused_at is None


def test_a_status_update_notes_the_health_change(affected, queue, pm):
    ticket = linked_tickets(affected, queue, 1)[0]
    plan.status_update_publish(project=affected, health="at_risk", summary="Late kit", actor=pm)
    publish.publish_project(affected.pk)
    assert any("health is now At risk (was On track)" in n.body for n in notes_on(ticket))
    assert Bulletin.objects.get(queue=queue).health == "at_risk"


def test_the_go_live_starts_hypercare(go_live, affected, pm):
    plan.milestone_complete(milestone=go_live, actor=pm)
    publish.publish_project(affected.pk)
    handover = affected.handover
    assert handover.hypercare_until == handover_start(go_live) + timedelta(days=14)


def handover_start(milestone):
    from django.utils import timezone

    milestone.refresh_from_db()
    return timezone.localtime(milestone.completed_at).date()


def test_an_intake_ticket_opens_in_the_liaisons_queue_once(queue, agent, pm):
    project = plan.project_create(
        owner=pm, key="MAIL", name="Mail migration", slug="mail", liaison=agent
    )
    publish.publish_project(project.pk)
    desk = ProjectDesk.objects.get(project=project)
    intake = desk.intake_ticket
    assert intake.queue == queue and intake.assignee == agent and intake.project == project
    assert "New project MAIL" in intake.subject
    plan.project_update(project=project, actor=pm, health="at_risk")
    publish.publish_project(project.pk)
    assert Ticket.objects.filter(subject__startswith="New project MAIL").count() == 1


def test_no_queue_yet_means_no_intake_ticket_until_there_is_one(pm, queue):
    project = plan.project_create(owner=pm, key="ERP", name="ERP", slug="erp")
    publish.publish_project(project.pk)
    assert ProjectDesk.objects.get(project=project).intake_ticket is None
    queue.projects.add(project)
    plan.project_update(project=project, actor=pm, status="active")
    publish.publish_project(project.pk)
    assert ProjectDesk.objects.get(project=project).intake_ticket.queue == queue


def test_a_queue_that_stops_being_affected_loses_its_bulletin(affected, queue, pm):
    plan.milestone_create(project=affected, name="Cutover", target_date=GO_LIVE)
    publish.publish_project(affected.pk)
    queue.projects.remove(affected)
    publish.bulletins_refresh(affected)
    assert Bulletin.objects.get(queue=queue).active is False


def test_fan_out_is_set_based_whatever_the_number_of_tickets(
    go_live, affected, queue, pm, django_assert_max_num_queries
):
    def run(count):
        publish.publish_project(affected.pk)
        linked_tickets(affected, queue, count)
        move(Milestone.objects.get(pk=go_live.pk), 1, pm)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            publish.publish_project(affected.pk)
        return len(queries)

    few = run(2)
    many = run(200)
    assert few == many


def test_a_move_through_the_api_reaches_bulletins_and_linked_tickets(
    client_for, go_live, affected, queue, pm, django_capture_on_commit_callbacks, monkeypatch
):
    ticket = linked_tickets(affected, queue, 1)[0]
    publish.publish_project(affected.pk)
    enqueued = []
    monkeypatch.setattr(
        "liaison.tasks.publish_events.apply_async",
        lambda args, kwargs=None, **options: enqueued.append(args),
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(pm).patch(
            f"/api/v1/milestones/{go_live.pk}/",
            {"target_date": "2027-03-22", "reason": "Supplier strike"},
            content_type="application/json",
        )
    assert response.status_code == 200, response.content
    assert enqueued == [(affected.pk,)]
    publish.publish_project(*enqueued[0])  # what the worker runs
    assert any(
        "moved from Mon 1 Mar 2027 to Mon 22 Mar 2027" in n.body and "Supplier strike" in n.body
        for n in notes_on(ticket)
    )
    assert Bulletin.objects.get(queue=queue).forecast_date == date(2027, 3, 22)


def test_caller_updates_go_out_in_batches_so_no_task_holds_a_worker_long(
    go_live, affected, queue, pm, mailoutbox, monkeypatch
):
    monkeypatch.setattr("liaison.tasks.REQUESTER_UPDATES_PER_TASK", 2)
    linked_tickets(affected, queue, 5, keep_requester_informed=True)
    move(go_live, 14, pm)
    publish.publish_project(affected.pk)
    key = TicketEvent.objects.filter(source_key__endswith=":caller").values_list(
        "source_key", flat=True
    )[0]
    follow_ups = []
    monkeypatch.setattr(
        "liaison.tasks.send_requester_updates.apply_async",
        lambda args, kwargs=None, **options: follow_ups.append(args[0]),
    )
    assert send_requester_updates(key) == 2 and follow_ups == [key]
    assert send_requester_updates(key) == 2 and follow_ups == [key, key]
    assert send_requester_updates(key) == 1 and follow_ups == [key, key]
    assert len(mailoutbox) == 5


def test_the_sweep_resends_caller_updates_whose_task_was_lost(
    go_live, affected, queue, pm, monkeypatch
):
    linked_tickets(affected, queue, 1, keep_requester_informed=True)
    move(go_live, 14, pm)
    publish.publish_project(affected.pk)
    update = TicketEvent.objects.get(source_key__endswith=":caller")
    TicketEvent.objects.filter(pk=update.pk).update(
        created_at=update.created_at - timedelta(minutes=10)
    )
    resent = []
    monkeypatch.setattr(
        "liaison.tasks.send_requester_updates.apply_async",
        lambda args, kwargs=None, **options: resent.append(args[0]),
    )
    monkeypatch.setattr("liaison.tasks.publish_events.apply_async", lambda *a, **k: None)
    sweep_unpublished()
    assert resent == [update.source_key]
