"""Signals inside the bridge."""

from django.dispatch import Signal

# Sent on commit once a ProjectEvent's help desk effects are applied; kwargs: event.
# Status page caches, subscriber mail and webhooks listen.
event_applied = Signal()
