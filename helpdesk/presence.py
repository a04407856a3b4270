"""Who else has a ticket open, and who is typing: short-lived marks in the shared cache.

Each open ticket page reports every few seconds; a mark older than PRESENCE_SECONDS is
gone. The cache is Redis in production (shared by all web processes) and a file cache on
a laptop, so this works across processes either way.
"""

import time

from django.core.cache import cache

PRESENCE_SECONDS = 30


def _key(ticket_id: int) -> str:
    return f"presence:ticket:{ticket_id}"


def presence_touch(*, ticket_id: int, user, typing: bool) -> None:
    """Mark `user` as viewing (and maybe typing in) the ticket right now."""
    now = time.time()
    marks = {
        uid: mark
        for uid, mark in (cache.get(_key(ticket_id)) or {}).items()
        if now - mark["at"] < PRESENCE_SECONDS
    }
    marks[user.pk] = {
        "name": user.get_full_name() or user.get_username(),
        "typing": typing,
        "at": now,
    }
    cache.set(_key(ticket_id), marks, timeout=PRESENCE_SECONDS * 2)


def presence_others(*, ticket_id: int, user) -> list[dict]:
    """The other agents on the ticket now, typists first: [{"name", "typing"}]."""
    now = time.time()
    marks = cache.get(_key(ticket_id)) or {}
    others = [
        {"name": mark["name"], "typing": mark["typing"]}
        for uid, mark in marks.items()
        if uid != user.pk and now - mark["at"] < PRESENCE_SECONDS
    ]
    return sorted(others, key=lambda mark: (not mark["typing"], mark["name"]))
