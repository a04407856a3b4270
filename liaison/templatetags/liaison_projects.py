"""Template helpers of the liaison app for pages that other apps own.

`{% load liaison_projects %}`, then `{% linked_tickets_fact project %}` in a project's
facts list (projects knows nothing of the help desk, so the liaison app fills the
`linked_tickets` block of templates/projects/project_detail.html), and `|due_in` for a
due time in words.
"""

from django import template
from django.utils import timezone

from helpdesk.models import Ticket

register = template.Library()

# Counting stops here: a count of open tickets never scans more than this many rows.
COUNT_CAP = 1000


def open_linked_ticket_count(project) -> int:
    """Open tickets linked to the project (merged ones not counted), up to COUNT_CAP + 1:
    one bounded query."""
    linked = Ticket.objects.open().filter(project=project, merged_into__isnull=True).order_by()
    return linked.values("pk")[: COUNT_CAP + 1].count()


@register.inclusion_tag("liaison/inbox/_linked_tickets_fact.html")
def linked_tickets_fact(project):
    """`<dt>`/`<dd>` for a facts list: the open linked tickets and the help desk page."""
    count = open_linked_ticket_count(project)
    return {"project": project, "count": min(count, COUNT_CAP), "capped": count > COUNT_CAP}


@register.filter
def due_in(moment):
    """ "in 3 h", "in 2 d", "5 min overdue", "2 d overdue": a due time in words."""
    if not moment:
        return ""
    seconds = (moment - timezone.now()).total_seconds()
    late = seconds < 0
    seconds = abs(seconds)
    if seconds < 3600:
        span = f"{max(1, int(seconds // 60))} min"
    elif seconds < 86400 * 2:
        span = f"{int(seconds // 3600)} h"
    else:
        span = f"{int(seconds // 86400)} d"
    return f"{span} overdue" if late else f"in {span}"
