"""The one door to help desk objects: every view and API endpoint comes through here."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from config.roles import is_agent
from helpdesk.models import Ticket


def get_ticket_for(user, pk, *, write: bool = False) -> Ticket:
    """The ticket `pk` if `user` may see it (404 otherwise, so its existence stays
    secret); with `write`, 403 unless they may also change it."""
    ticket = (
        Ticket.objects.visible_to(user)
        .select_related("queue", "requester", "assignee", "project", "milestone")
        .filter(pk=pk)
        .first()
    )
    if ticket is None:
        raise Http404("No such ticket")
    if write and not is_agent(user):
        raise PermissionDenied("You may read this ticket but not change it.")
    return ticket


def get_ticket_by_secret(secret: str) -> Ticket:
    """The requester's door: whoever holds the link's 256-bit secret may read the ticket."""
    ticket = (
        Ticket.objects.select_related("queue", "requester", "project").filter(secret=secret).first()
    )
    if ticket is None:
        raise Http404("No such ticket")
    return ticket
