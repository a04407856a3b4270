"""Signals projects sends; it knows nothing of who listens (the liaison app does)."""

from django.dispatch import Signal

# Sent on commit for every ProjectEvent written; kwargs: event.
project_event_recorded = Signal()
