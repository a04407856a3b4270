"""The promise ledger's intake: when an agent sends a public reply carrying the answer
card's signed promise, the date the caller was given is recorded.

Connected in LiaisonConfig.ready. helpdesk.signals.public_reply_posted is sent inside the
reply's transaction, so the promise commits (or not) with the reply that made it.
"""

from django.dispatch import receiver

from helpdesk.signals import public_reply_posted
from liaison.desk import promise_claim
from liaison.models import Promise
from projects.models import Milestone


def promise_record(*, ticket, event, author, token: str) -> Promise | None:
    """Record the promise in `token` for this reply; None (nothing written) when the
    token is missing, forged, tampered with, stale, made for another ticket, or names a
    milestone that is not the ticket's project's. The same date promised again on the
    same ticket is one promise, not two."""
    claim = promise_claim(token, ticket)
    if claim is None or ticket.project_id is None:
        return None
    milestone = Milestone.objects.filter(
        pk=claim.milestone_id, project_id=ticket.project_id
    ).first()
    if milestone is None:
        return None
    existing = Promise.objects.filter(
        ticket=ticket,
        milestone=milestone,
        promised_date=claim.promised_date,
        updated_at__isnull=True,
    ).first()
    if existing is not None:
        return existing
    return Promise.objects.create(
        ticket=ticket,
        milestone=milestone,
        promised_date=claim.promised_date,
        event=event,
        made_by=author,
    )


@receiver(public_reply_posted, dispatch_uid="liaison.promises.record_promise")
def record_promise(sender, ticket, event, author, data, **kwargs):
    token = data.get("promise", "") if data is not None else ""
    if token:
        promise_record(ticket=ticket, event=event, author=author, token=str(token))
