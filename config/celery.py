"""The Celery application: queues `default`, `status` (plan changes to the help desk) and
`email` (outgoing mail), configured from Django settings (`CELERY_*`)."""

import os
from datetime import timedelta

from celery import Celery
from celery.schedules import crontab
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("bridgedesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("status"), Queue("email"))
app.autodiscover_tasks(["config", "helpdesk", "projects", "liaison"])


@app.on_after_finalize.connect
def _schedule_periodic_tasks(sender, **kwargs):
    from django.conf import settings

    sender.add_periodic_task(
        timedelta(seconds=settings.HEARTBEAT_SECONDS),
        sender.signature("config.tasks.heartbeat"),
        name="worker heartbeat",
    )
    sender.add_periodic_task(
        timedelta(seconds=settings.SLA_SWEEP_SECONDS),
        sender.signature("helpdesk.tasks.sla_sweep"),
        name="SLA warnings and breaches",
    )
    # Inbound mail whose processing task was lost (broker outage, dead worker) is picked
    # up again: the message is stored before its task is sent, so nothing is dropped.
    sender.add_periodic_task(
        timedelta(minutes=5),
        sender.signature("helpdesk.tasks.process_pending_inbound"),
        name="re-drive pending inbound mail",
    )
    # Project owners whose weekly status update is overdue get one reminder a week.
    sender.add_periodic_task(
        crontab(minute=0, hour=8),
        sender.signature("projects.tasks.remind_status_updates"),
        name="remind project owners of status updates",
    )
    if settings.IMAP_HOST:
        # Expires after one interval, so a backlog while workers are down is one fetch,
        # not a pile of them.
        sender.add_periodic_task(
            timedelta(seconds=settings.IMAP_POLL_SECONDS),
            sender.signature("helpdesk.tasks.fetch_imap"),
            name="fetch inbound mail from IMAP",
            expires=settings.IMAP_POLL_SECONDS,
        )
