"""The Celery application: queues `default`, `status` (plan changes to the help desk) and
`email` (outgoing mail), configured from Django settings (`CELERY_*`)."""

import os
from datetime import timedelta

from celery import Celery
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
