"""Reads of project data that several pages share."""

import base64
import binascii
import json

from django.db.models import Prefetch
from django.db.models.functions import Greatest

from projects.models import Milestone


def expected_date(via: str = ""):
    """Milestone.expected_date in SQL: the later of forecast and target (GREATEST skips
    a missing forecast in PostgreSQL). `via`: the path to the milestone, e.g.
    "milestone__"."""
    return Greatest(f"{via}forecast_date", f"{via}target_date")


def open_milestones():
    """Prefetch each project's unfinished milestones as `open_milestones`, soonest
    expected first, so `open_milestones.0` is the next one callers ask about."""
    return Prefetch(
        "milestones",
        queryset=Milestone.objects.filter(completed_at__isnull=True).order_by(
            expected_date(), "id"
        ),
        to_attr="open_milestones",
    )


# Project lists page by (name, id): a cursor is that pair, opaque to the reader.


def name_cursor(project) -> str:
    raw = json.dumps([project.name, project.pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def name_cursor_decode(cursor: str) -> tuple[str, int] | None:
    """(name, id) from a cursor, or None for anything that is not one of ours."""
    if not cursor:
        return None
    try:
        name, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error):
        return None
    if not isinstance(name, str) or not isinstance(pk, int):
        return None
    return name, pk
