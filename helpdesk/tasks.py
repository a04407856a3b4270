"""Help desk background work. Tasks take ids and are safe to run twice."""

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from helpdesk.models import Ticket, TicketEvent


@shared_task(name="helpdesk.tasks.send_ticket_acknowledgement", ignore_result=True)
def send_ticket_acknowledgement(ticket_id: int) -> None:
    """E-mail the caller their ticket reference and private link, once per ticket."""
    with transaction.atomic():
        # The row lock plus the acknowledged_at check make a redelivered task a no-op.
        ticket = (
            Ticket.objects.select_for_update(of=("self",))
            .select_related("queue", "requester")
            .filter(pk=ticket_id, acknowledged_at__isnull=True)
            .first()
        )
        if ticket is None:
            return
        context = {
            "ticket": ticket,
            "requester_url": settings.SITE_URL + ticket.get_requester_url(),
        }
        message = EmailMessage(
            subject=f"[{ticket.reference}] {ticket.subject}",
            body=render_to_string("helpdesk/email/acknowledgement.txt", context),
            to=[ticket.requester.email],
            headers={"Auto-Submitted": "auto-replied"},
        )
        message.send()
        ticket.acknowledged_at = timezone.now()
        ticket.save(update_fields=["acknowledged_at"])
        TicketEvent.objects.create(
            ticket=ticket,
            kind=TicketEvent.Kind.SYSTEM,
            body=f"Acknowledgement sent to {ticket.requester.email}.",
        )
