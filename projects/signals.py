"""Signals projects sends; it knows nothing of who listens (the liaison app does)."""

from django.dispatch import Signal

# Sent on commit for every ProjectEvent written; kwargs: event.
project_event_recorded = Signal()

# Sent inside the transaction before a project is marked done; kwargs: project. A receiver
# that must stop the close raises ValidationError({"status": [...]}).
project_closing = Signal()
