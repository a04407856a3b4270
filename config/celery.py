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
    # Public replies whose mail task was lost to a broker outage go out late, not never.
    sender.add_periodic_task(
        timedelta(minutes=5),
        sender.signature("helpdesk.tasks.send_unsent_replies"),
        name="re-send public replies whose mail task was lost",
    )
    # Plan changes whose publish task was lost (broker outage, killed worker) or whose
    # effects failed are published by this sweep: the outbox row is the source of truth.
    sender.add_periodic_task(
        timedelta(seconds=settings.BRIDGE_SWEEP_SECONDS),
        sender.signature("liaison.tasks.sweep_unpublished"),
        name="re-drive unpublished plan changes",
        expires=settings.BRIDGE_SWEEP_SECONDS,
    )
    # Hypercare that ended yesterday: the second line's open tickets go to support.
    sender.add_periodic_task(
        crontab(minute=10, hour=0),
        sender.signature("liaison.handover.end_hypercare"),
        name="end hypercare: second line to support queue",
    )
    # Webhook retries that are due, and deliveries whose task was lost, are sent again.
    sender.add_periodic_task(
        timedelta(seconds=60),
        sender.signature("liaison.webhooks.sweep_due_deliveries"),
        name="send due webhook deliveries",
        expires=60,
    )
    # Subscriber mail and webhook fan-outs that a lost task or a crashed receiver left undone.
    sender.add_periodic_task(
        timedelta(minutes=5),
        sender.signature("liaison.notify.sweep_notifications"),
        name="re-drive subscriber mail and webhooks",
        expires=300,
    )
    # Each stakeholder's Monday digest; hourly through the morning, so an outage at seven
    # delays it rather than losing it (a digest already sent this week is not sent again).
    sender.add_periodic_task(
        crontab(minute=0, hour="7-11", day_of_week="mon"),
        sender.signature("liaison.notify.send_weekly_digests"),
        name="Monday digest for stakeholders",
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
