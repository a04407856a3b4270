"""The bridge listens to both halves: every plan change recorded by projects is queued
for publishing; nothing here runs inside the transaction that made the change."""

from django.dispatch import receiver

from config.queueing import enqueue
from projects.models import ProjectEvent
from projects.signals import project_event_recorded


@receiver(project_event_recorded, dispatch_uid="liaison.publish_on_commit")
def publish_on_commit(sender, event, **kwargs):
    """Sent on commit by projects: enqueue the publish. If the broker is down the event
    stays unpublished and the sweep re-drives it; the request never waits or fails."""
    from liaison.tasks import publish_events

    # A change that wrote several events (a move, the pair's move, forecasts) needs one
    # publish: a worker applies every pending event of the project. Only the newest
    # pending event enqueues; its callback runs last, after all of them are committed.
    later = ProjectEvent.objects.filter(
        project_id=event.project_id,
        sequence__gt=event.sequence,
        published_at__isnull=True,
        dead_at__isnull=True,
    )
    if later.exists():
        return
    enqueue(publish_events, event.project_id)
