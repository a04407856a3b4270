from django import template
from django.utils import timezone

from config.text import render_user_text

register = template.Library()


@register.filter
def usertext(value):
    """Render user-written text through the one sanitiser: `{{ ticket.description|usertext }}`."""
    return render_user_text(value)


@register.filter
def ago(moment):
    """ "now", "5 min ago", "3 h ago", "2 d ago", then the date: short, and cheap enough
    for every row of a long list (naturaltime translates on each call)."""
    if not moment:
        return ""
    seconds = (timezone.now() - moment).total_seconds()
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    if seconds < 86400 * 14:
        return f"{int(seconds // 86400)} d ago"
    return timezone.localtime(moment).strftime("%-d %b %Y")


@register.filter
def isotime(moment):
    """ISO 8601 for datetime="" attributes, without the localisation work of |date."""
    return moment.isoformat() if moment else ""


@register.filter
def stamp(moment):
    """ "21 Nov 2026, 14:05" in the current time zone; for long lists where |date's
    localisation machinery costs more than the rest of the row."""
    return timezone.localtime(moment).strftime("%-d %b %Y, %H:%M") if moment else ""
