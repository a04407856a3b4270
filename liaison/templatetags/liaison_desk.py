"""The bridge on help desk pages: `{% ticket_bridge ticket %}` on the ticket page (answer
card, or link suggestions for an unlinked ticket), and small filters for the dates the
bulletins and cards show."""

from datetime import date

from django import template
from django.utils import timezone

from liaison import briefing, desk
from projects.models import Project

register = template.Library()


@register.inclusion_tag("liaison/desk/_ticket_bridge.html", takes_context=True)
def ticket_bridge(context, ticket):
    """The answer card of a linked ticket, or the projects an unlinked one seems to be
    about. A fixed handful of queries whatever the project's size."""
    card = desk.answer_card(ticket)
    return {
        "ticket": ticket,
        "card": card,
        "promise_label": desk.describe_promise(card) if card else "",
        "questions": card.questions if card else [],
        "ask_form": desk.AskForm(initial={"due_at": desk.default_due_at(timezone.now())}),
        "suggestions": [] if card else desk.suggested_projects(ticket),
        "request": context.get("request"),
    }


@register.filter
def human_date(day):
    """ "Fri 4 Dec 2026"; "not yet dated" for none."""
    return briefing.human_date(day)


@register.filter
def isodate(value):
    """An ISO date string (as stored in a bulletin's slips) as a human date."""
    try:
        return briefing.human_date(date.fromisoformat(str(value)[:10]))
    except ValueError:
        return ""


@register.filter
def health_label(value):
    """ "at_risk" → "At risk"."""
    try:
        return Project.Health(value).label
    except ValueError:
        return value
