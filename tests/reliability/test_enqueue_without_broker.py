"""A broker that cannot take a task never fails a request, and the sweeps catch up."""

from datetime import timedelta

import pytest
from kombu.exceptions import OperationalError

from config.queueing import enqueue
from helpdesk import services, tasks
from helpdesk.models import Ticket, TicketEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6399. Connection refused.")

    for task in (
        tasks.send_ticket_acknowledgement,
        tasks.send_public_reply,
        tasks.send_assignment_notice,
    ):
        monkeypatch.setattr(task, "apply_async", refuse)


def test_enqueue_reports_a_refused_send_instead_of_raising(broker_down, caplog):
    assert enqueue(tasks.send_public_reply, 1) is False
    assert "broker unavailable" in caplog.text


def test_an_agent_reply_succeeds_while_the_broker_is_down_and_is_mailed_later(
    broker_down, client_for, agent, ticket, django_capture_on_commit_callbacks, monkeypatch
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(agent).post(
            f"/tickets/{ticket.pk}/reply/",
            {"body": "We are on it.", "public": "1", "version": ticket.version},
        )
    assert response.status_code in (200, 302)
    reply = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.REPLY)
    assert reply.message_id == ""

    # Later, with the broker back, the sweep re-sends what was never sent; recent only.
    TicketEvent.objects.filter(pk=reply.pk).update(
        created_at=reply.created_at - timedelta(minutes=10)
    )
    resent = []
    monkeypatch.setattr(
        tasks.send_public_reply,
        "apply_async",
        lambda args, kwargs=None, **options: resent.append(args[0]),
    )
    assert tasks.send_unsent_replies() == 1
    assert resent == [reply.pk]
    TicketEvent.objects.filter(pk=reply.pk).update(created_at=reply.created_at - timedelta(days=3))
    assert tasks.send_unsent_replies() == 0


def test_a_ticket_is_created_while_the_broker_is_down(
    broker_down, queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.ticket_create(
            queue=queue, subject="No broker", requester_email="caller@example.org"
        )
    assert Ticket.objects.filter(pk=ticket.pk, acknowledged_at__isnull=True).exists()
