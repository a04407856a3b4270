"""The bridge's background work. Tasks take ids and are safe to run twice."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from config.queueing import enqueue
from helpdesk import mail
from helpdesk.models import TicketEvent
from helpdesk.tasks import MAIL_RETRY
from liaison import publish
from projects.models import ProjectEvent


@shared_task(name="liaison.tasks.publish_events", ignore_result=True)
def publish_events(project_id: int) -> int:
    """Apply the project's pending plan changes to the help desk, in order."""
    return publish.publish_project(project_id)


@shared_task(name="liaison.tasks.sweep_unpublished", ignore_result=True)
def sweep_unpublished(older_than_seconds: int = 30) -> int:
    """Re-drive events nobody published: their task was lost to a broker outage or a
    dead worker, or their effects failed and deserve another attempt. Returns how many
    projects were re-driven."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    project_ids = list(
        ProjectEvent.objects.filter(
            published_at__isnull=True, dead_at__isnull=True, created_at__lte=cutoff
        )
        .order_by()
        .values_list("project_id", flat=True)
        .distinct()
    )
    for project_id in project_ids:
        enqueue(publish_events, project_id)
    # Caller updates whose mail task was lost: recent ones only, never old news.
    unsent = (
        TicketEvent.objects.filter(
            source_key__startswith="project-event:",
            source_key__endswith=":caller",
            public=True,
            message_id="",
            created_at__lte=cutoff - timedelta(minutes=5),
            created_at__gte=cutoff - timedelta(days=1),
        )
        .order_by()
        .values_list("source_key", flat=True)
        .distinct()
    )
    for key in unsent:
        enqueue(send_requester_updates, key)
    return len(project_ids)


# Caller updates sent by one task; the rest go to a fresh task, so a move with thousands
# of callers never holds a worker process (and the plan changes queued behind it) for long.
REQUESTER_UPDATES_PER_TASK = 50


@shared_task(name="liaison.tasks.send_requester_updates", ignore_result=True, **MAIL_RETRY)
def send_requester_updates(source_key: str) -> int:
    """E-mail each caller the plan-change update written on their ticket, once: the
    Message-ID stored on the event marks it sent, so a redelivered task skips it."""
    sent = 0
    pending = TicketEvent.objects.filter(source_key=source_key, public=True, message_id="")
    batch = list(
        pending.order_by("pk").values_list("pk", flat=True)[: REQUESTER_UPDATES_PER_TASK + 1]
    )
    more = len(batch) > REQUESTER_UPDATES_PER_TASK
    for event_id in batch[:REQUESTER_UPDATES_PER_TASK]:
        with transaction.atomic():
            event = (
                TicketEvent.objects.select_for_update(of=("self",))
                .select_related("ticket__queue", "ticket__requester")
                .filter(pk=event_id, message_id="")
                .first()
            )
            if event is None:
                continue
            ticket = event.ticket
            message_id = mail.new_message_id()
            context = {
                "ticket": ticket,
                "event": event,
                "requester_url": settings.SITE_URL + ticket.get_requester_url(),
            }
            mail.ticket_email(
                ticket=ticket,
                to=[ticket.requester.email],
                body=render_to_string("liaison/email/requester_update.txt", context),
                message_id=message_id,
                automatic="auto-generated",
                from_name=ticket.queue.name,
            ).send()
            event.message_id = message_id
            event.save(update_fields=["message_id"])
            sent += 1
    if more:
        enqueue(send_requester_updates, source_key)
    return sent
