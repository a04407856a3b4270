"""Help desk background work. Tasks take ids and are safe to run twice.

Mail tasks (`send_*`, routed to the `email` queue) lock the row that records the sending,
send, then record it in the same transaction: a redelivered task finds it recorded and
does nothing. SMTP and network errors roll that back and the task retries with backoff.
"""

import smtplib
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

# `sla` holds the SLA tasks (helpdesk.tasks.sla_sweep, send_sla_warning, send_sla_breach)
# beside the SLA clock; importing it registers them wherever Celery autodiscovers this.
from helpdesk import mail, sla  # noqa: F401
from helpdesk.models import InboundMessage, Ticket, TicketEvent

# Give a mail server that is down an hour and a half before a mail is given up on.
MAIL_RETRY = {
    "autoretry_for": (smtplib.SMTPException, OSError),
    "retry_backoff": 30,
    "retry_backoff_max": 1800,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="helpdesk.tasks.send_ticket_acknowledgement", ignore_result=True, **MAIL_RETRY)
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
        message_id = mail.thread_root(ticket)
        message = mail.ticket_email(
            ticket=ticket,
            to=[ticket.requester.email],
            body=render_to_string("helpdesk/email/acknowledgement.txt", context),
            message_id=message_id,
            automatic="auto-replied",
            from_name=ticket.queue.name,
        )
        message.send()
        ticket.acknowledged_at = timezone.now()
        ticket.save(update_fields=["acknowledged_at"])
        TicketEvent.objects.create(
            ticket=ticket,
            kind=TicketEvent.Kind.SYSTEM,
            body=f"Acknowledgement sent to {ticket.requester.email}.",
            message_id=message_id,
        )


@shared_task(name="helpdesk.tasks.send_public_reply", ignore_result=True, **MAIL_RETRY)
def send_public_reply(event_id: int) -> None:
    """E-mail an agent's public reply to the caller, once. Its Message-ID is stored on
    the event, so the caller's answer threads back to the ticket. Only public replies
    written by an agent go out: internal notes never do, whatever id this is given."""
    with transaction.atomic():
        event = (
            TicketEvent.objects.select_for_update(of=("self",))
            .select_related("ticket__queue", "ticket__requester", "author")
            .filter(
                pk=event_id,
                kind=TicketEvent.Kind.REPLY,
                public=True,
                author__isnull=False,
                message_id="",
            )
            .first()
        )
        if event is None:
            return
        ticket = event.ticket
        agent_name = event.author.get_full_name() or event.author.get_username()
        context = {
            "ticket": ticket,
            "event": event,
            "agent_name": agent_name,
            "requester_url": settings.SITE_URL + ticket.get_requester_url(),
        }
        message_id = mail.new_message_id()
        message = mail.ticket_email(
            ticket=ticket,
            to=[ticket.requester.email],
            body=render_to_string("helpdesk/email/public_reply.txt", context),
            message_id=message_id,
            from_name=f"{agent_name} · {ticket.queue.name}",
        )
        budget = settings.ATTACHMENT_MAX_BYTES
        for attachment in event.attachments.all():
            if attachment.size > budget:
                break  # the rest are at the requester's link, which the mail names
            budget -= attachment.size
            with attachment.file.open("rb") as handle:
                message.attach(attachment.filename, handle.read(), attachment.content_type)
        message.send()
        event.message_id = message_id
        event.save(update_fields=["message_id"])


@shared_task(name="helpdesk.tasks.send_assignment_notice", ignore_result=True, **MAIL_RETRY)
def send_assignment_notice(ticket_id: int, assignee_id: int) -> None:
    """Tell an agent a ticket was assigned to them, once per assignment. Skipped if the
    ticket has been assigned to someone else since. The notice's Message-ID is stored
    on the assignment event: that marks it sent, and an answer to it threads back."""
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_related("queue", "requester")
            .filter(pk=ticket_id, assignee_id=assignee_id)
            .first()
        )
        if ticket is None:
            return
        event = (
            TicketEvent.objects.select_for_update(of=("self",))
            .select_related("author")
            .filter(ticket=ticket, kind=TicketEvent.Kind.ASSIGNMENT)
            .order_by("-created_at", "-id")
            .first()
        )
        if event is None or event.message_id:
            return
        assignee = get_user_model().objects.filter(pk=assignee_id, is_active=True).first()
        if assignee is None or not assignee.email:
            return
        context = {
            "ticket": ticket,
            "assignee": assignee,
            "assigned_by": event.author,
            "ticket_url": settings.SITE_URL + ticket.get_absolute_url(),
        }
        message_id = mail.new_message_id()
        message = mail.ticket_email(
            ticket=ticket,
            to=[assignee.email],
            body=render_to_string("helpdesk/email/assignment_notice.txt", context),
            message_id=message_id,
            automatic="auto-generated",
            from_name=ticket.queue.name,
            thread=False,
        )
        message.send()
        event.message_id = message_id
        event.save(update_fields=["message_id"])


@shared_task(name="helpdesk.tasks.process_inbound", ignore_result=True)
def process_inbound(message_id: int) -> None:
    """Process one stored InboundMessage (its primary key, not its Message-ID header).
    Does nothing for a message already processed or ignored."""
    from helpdesk.inbound import inbound_process

    message = InboundMessage.objects.filter(pk=message_id).only("pk").first()
    if message is not None:
        inbound_process(message=message)


@shared_task(name="helpdesk.tasks.fetch_imap", ignore_result=True)
def fetch_imap() -> None:
    """Fetch and process unseen mail from IMAP_HOST (run by beat when it is set)."""
    if not settings.IMAP_HOST:
        return
    from helpdesk.inbound import imap_fetch

    imap_fetch()


@shared_task(name="helpdesk.tasks.process_pending_inbound", ignore_result=True)
def process_pending_inbound(older_than_seconds: int = 300) -> int:
    """Process messages still pending a while after they arrived: their task was lost
    (a broker restart without persistence) or a worker died before processing them.
    Returns how many it processed. Safe beside process_inbound: each row is locked."""
    from helpdesk.inbound import inbound_process

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    pending = InboundMessage.objects.filter(
        status=InboundMessage.Status.PENDING, received_at__lt=cutoff
    ).order_by("received_at")[:500]
    count = 0
    for message in pending:
        inbound_process(message=message)
        count += 1
    return count


@shared_task(name="helpdesk.tasks.send_unsent_replies", ignore_result=True)
def send_unsent_replies(older_than_seconds: int = 300, within_days: int = 2) -> int:
    """Re-send agents' public replies whose mail task was lost (the broker was down when
    they were written): recent replies with no Message-ID yet. Each send is once-only."""
    from config.queueing import enqueue

    now = timezone.now()
    unsent = TicketEvent.objects.filter(
        kind=TicketEvent.Kind.REPLY,
        public=True,
        author__isnull=False,
        message_id="",
        created_at__lt=now - timedelta(seconds=older_than_seconds),
        created_at__gte=now - timedelta(days=within_days),
    ).values_list("pk", flat=True)[:500]
    count = 0
    for event_id in unsent:
        enqueue(send_public_reply, event_id)
        count += 1
    return count
