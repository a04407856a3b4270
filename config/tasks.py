"""Operational tasks that belong to no domain app."""

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

HEARTBEAT_CACHE_KEY = "ops:worker-heartbeat"


@shared_task(name="config.tasks.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Record that a worker took a task from the broker; /healthz reports its age.

    Sent by beat, so a fresh value proves beat, broker and worker all work.
    """
    cache.set(HEARTBEAT_CACHE_KEY, timezone.now().isoformat(), timeout=None)
