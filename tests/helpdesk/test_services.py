import pytest
from django.db import transaction

from helpdesk.models import Contact, Ticket, TicketEvent
from helpdesk.services import ticket_create

pytestmark = pytest.mark.django_db


def test_ticket_create_numbers_tickets_per_queue_and_records_the_caller(queue):
    first = ticket_create(queue=queue, subject=" Wi-Fi down ", requester_email="A@Example.org")
    second = ticket_create(queue=queue, subject="Again", requester_email="a@example.org")
    assert (first.reference, second.reference) == ("SD-1", "SD-2")
    assert first.subject == "Wi-Fi down"
    assert Contact.objects.get().email == "a@example.org"
    assert first.events.get().kind == TicketEvent.Kind.CREATED


def test_acknowledgement_waits_for_commit(queue, django_capture_on_commit_callbacks):
    # The worker round trip itself is tested in tests/reliability/test_celery_roundtrip.py.
    with django_capture_on_commit_callbacks() as callbacks:
        ticket_create(queue=queue, subject="Help", requester_email="c@example.org")
    assert len(callbacks) == 1


def test_a_rolled_back_ticket_enqueues_nothing(queue, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        ticket_create(queue=queue, subject="Never", requester_email="n@example.org")
        raise RuntimeError("the caller hung up")
    assert callbacks == []
    assert not Ticket.objects.exists()
