"""Project background work. Tasks take ids and are safe to run twice.

The weekly status update reminder: beat runs `remind_status_updates` daily; it finds the
active projects whose last update is more than a week old (or that have run a week
without one) and sends one `send_status_update_reminder` per project. That task claims
the week for the project with an atomic cache `add` (a key that lives just under a week), so
the owner is e-mailed once a week however often either task runs; a failed send gives
the claim back and retries. (A cache, not a column: losing the cache costs at most one
extra reminder.)
"""

import smtplib
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.db.models import DateTimeField, Max, Q
from django.db.models.functions import Cast, Coalesce
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from projects.models import Project

REMINDER_INTERVAL = timedelta(days=7)
# The claim lapses an hour before a week is up, so next week's daily sweep (same hour,
# give or take a slow start) finds it gone instead of waiting one more day.
CLAIM_SECONDS = (REMINDER_INTERVAL - timedelta(hours=1)).total_seconds()
MAIL_RETRY = {
    "autoretry_for": (smtplib.SMTPException, OSError),
    "retry_backoff": 60,
    "retry_backoff_max": 1800,
    "retry_jitter": True,
    "max_retries": 6,
}


def reminder_key(project_id: int) -> str:
    return f"projects:status-reminder:{project_id}"


def projects_needing_an_update(now=None):
    """Active, unarchived projects whose latest status update is older than a week, or
    that have none and started (or were created) more than a week ago; each annotated
    with `last_update`."""
    now = now or timezone.now()
    cutoff = now - REMINDER_INTERVAL
    return (
        Project.objects.filter(status=Project.Status.ACTIVE, archived_at__isnull=True)
        .annotate(
            last_update=Max("status_updates__created_at"),
            running_since=Coalesce(
                Cast("start_date", DateTimeField()), "created_at", output_field=DateTimeField()
            ),
        )
        .filter(Q(last_update__lt=cutoff) | Q(last_update__isnull=True, running_since__lt=cutoff))
    )


@shared_task(name="projects.tasks.remind_status_updates", ignore_result=True)
def remind_status_updates() -> int:
    """Daily sweep: one reminder task per project that is due one. Returns how many."""
    due = [
        pk
        for pk in projects_needing_an_update().values_list("pk", flat=True)
        if cache.get(reminder_key(pk)) is None
    ]
    for project_id in due:
        send_status_update_reminder.delay(project_id)
    return len(due)


@shared_task(name="projects.tasks.send_status_update_reminder", ignore_result=True, **MAIL_RETRY)
def send_status_update_reminder(project_id: int) -> bool:
    """E-mail the project's owner that a status update is due, at most once a week.
    Returns whether a mail went out."""
    project = projects_needing_an_update().select_related("owner").filter(pk=project_id).first()
    if project is None or not project.owner.email:
        return False
    key = reminder_key(project.pk)
    # The claim: `add` writes only if the key is absent, so of two runs one sends.
    if not cache.add(key, timezone.now().isoformat(), timeout=CLAIM_SECONDS):
        return False
    try:
        url = settings.SITE_URL + reverse("projects:updates", args=[project.key])
        body = render_to_string(
            "projects/email/status_reminder.txt",
            {
                "project": project,
                "owner_name": project.owner.get_full_name() or project.owner.get_username(),
                "last_update": project.last_update,
                "url": url,
            },
        )
        EmailMessage(
            subject=f"[{project.key}] A status update is due: {project.name}",
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[project.owner.email],
            headers={"Auto-Submitted": "auto-generated"},
        ).send()
    except Exception:
        cache.delete(key)  # not sent: let the retry (or tomorrow's sweep) claim it again
        raise
    return True
