"""A task enqueued on commit runs in a real worker process, and its effect is seen."""

import email

import pytest

from helpdesk.models import TicketEvent
from helpdesk.services import ticket_create
from tests.kit import celery_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_acknowledgement_is_sent_by_a_real_worker_after_commit(tmp_path, queue):
    outbox = tmp_path / "outbox"
    with celery_worker(
        tmp_path,
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=outbox,
        SITE_URL="https://help.example.org",
    ) as worker:
        ticket = ticket_create(
            queue=queue,
            subject="Screen flickers",
            requester_email="Flicker@Example.org",
            requester_name="Fran Flicker",
        )

        def acknowledged():
            ticket.refresh_from_db()
            return ticket.acknowledged_at

        wait_for(acknowledged, timeout=60, what=f"the worker (log: {worker.log})")

    sent = list(outbox.iterdir())
    assert len(sent) == 1
    message = email.message_from_bytes(sent[0].read_bytes())
    assert message["To"] == "flicker@example.org"
    assert message["Subject"] == f"[SD-{ticket.number}] Screen flickers"
    body = message.get_payload(decode=True).decode()
    assert f"https://help.example.org/t/{ticket.secret}/" in body
    assert TicketEvent.objects.filter(
        ticket=ticket, kind=TicketEvent.Kind.SYSTEM, public=False
    ).exists()
