from django import template

from config.text import render_user_text

register = template.Library()


@register.filter
def usertext(value):
    """Render user-written text through the one sanitiser: `{{ ticket.description|usertext }}`."""
    return render_user_text(value)
