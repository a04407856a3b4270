"""Enqueueing that never makes a request wait on, or fail with, the broker."""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue(task, *args, **kwargs) -> bool:
    """Send `task` now without retrying: False (logged) if the broker cannot take it.
    Every caller's work is also found by a beat sweep, so a lost send delays, not loses."""
    try:
        task.apply_async(args, kwargs, retry=False)
    except Exception:  # kombu raises many kinds: refused, timeout, DNS …
        logger.warning("broker unavailable: %s not sent now; its sweep will", task.name)
        return False
    return True


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """`enqueue` once the current transaction commits (nothing if it rolls back)."""
    transaction.on_commit(lambda: enqueue(task, *args, **kwargs))
