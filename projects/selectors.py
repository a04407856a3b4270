"""Reads of project data that several pages share."""

from django.db.models import Prefetch
from django.db.models.functions import Coalesce

from projects.models import Milestone


def open_milestones():
    """Prefetch each project's unfinished milestones as `open_milestones`, soonest
    expected first, so `open_milestones.0` is the next one callers ask about."""
    return Prefetch(
        "milestones",
        queryset=Milestone.objects.filter(completed_at__isnull=True).order_by(
            Coalesce("forecast_date", "target_date"), "id"
        ),
        to_attr="open_milestones",
    )
