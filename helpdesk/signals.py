"""Signals the help desk sends; it knows nothing of who listens (the liaison app does)."""

from django.dispatch import Signal

# Sent on commit when a ticket is linked to a project or milestone; kwargs: ticket, actor.
ticket_linked = Signal()

# Sent inside the request's transaction after an agent's public reply is saved; kwargs:
# ticket, event, author, data (the reply form's submitted fields, for listeners that add
# to it, e.g. the date promised from the liaison's answer card).
public_reply_posted = Signal()

# Sent on commit when a ticket is created (any source); kwargs: ticket.
ticket_created = Signal()

# Sent on commit when a ticket's status becomes resolved; kwargs: ticket.
ticket_resolved = Signal()
