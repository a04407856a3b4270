"""The triage list as a selector: filters, sort orders and keyset pages over tickets.

Parses the query string of /tickets/ (also what a saved view stores) into a queryset, so
the page, its htmx fragments and saved views share one reading of the filters.
"""

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.postgres.search import SearchQuery
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from helpdesk import sla
from helpdesk.models import Ticket

PAGE_SIZE = 50
DUE_SOON = timedelta(hours=2)


@dataclass(frozen=True)
class Sort:
    label: str
    field: str  # the first key; the ticket id always breaks ties
    descending: bool


SORTS = {
    "newest": Sort("Newest first", "id", True),
    "oldest": Sort("Oldest first", "id", False),
    "priority": Sort("Priority", "priority", False),
    "due": Sort("Resolution due", "resolution_due", False),
    "updated": Sort("Recently updated", "updated_at", True),
}

STATUS_CHOICES = [("active", "All open"), ("all", "Any status"), *Ticket.Status.choices]
SLA_CHOICES = [("", "Any SLA state"), ("due_soon", "Due soon"), ("breached", "Breached")]


@dataclass
class Filters:
    """What the agent asked for, read leniently: unknown values mean "no filter"."""

    queue: str = ""
    status: str = "active"
    priority: str = ""
    type: str = ""
    assignee: str = ""
    tag: str = ""
    project: str = ""
    sla: str = ""
    q: str = ""
    snoozed: bool = False
    sort: str = "newest"
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_query(cls, params) -> "Filters":
        filters = cls(
            queue=params.get("queue", "").strip(),
            status=params.get("status", "active").strip() or "active",
            priority=params.get("priority", "").strip(),
            type=params.get("type", "").strip(),
            assignee=params.get("assignee", "").strip(),
            tag=params.get("tag", "").strip().lower(),
            project=params.get("project", "").strip().upper(),
            sla=params.get("sla", "").strip(),
            q=" ".join(params.get("q", "").split())[:200],
            snoozed=params.get("snoozed") == "1",
            sort=params.get("sort", "newest"),
        )
        if filters.sort not in SORTS:
            filters.errors.append(f"Unknown sort “{filters.sort}”; showing newest first.")
            filters.sort = "newest"
        return filters


def filtered_tickets(user, filters: Filters, *, now: datetime | None = None):
    """The tickets `user` may see that match `filters`, unordered."""
    now = now or timezone.now()
    tickets = Ticket.objects.visible_to(user)
    if filters.queue:
        tickets = tickets.filter(queue__slug=filters.queue)
    if filters.status == "active":
        tickets = tickets.open()
    elif filters.status in Ticket.Status.values:
        tickets = tickets.filter(status=filters.status)
    if filters.priority in Ticket.Priority.values:
        tickets = tickets.filter(priority=filters.priority)
    if filters.type in Ticket.Type.values:
        tickets = tickets.filter(type=filters.type)
    if filters.assignee == "me":
        tickets = tickets.filter(assignee=user)
    elif filters.assignee == "none":
        tickets = tickets.filter(assignee__isnull=True)
    elif filters.assignee.isdigit():
        tickets = tickets.filter(assignee_id=int(filters.assignee))
    if filters.tag:
        tickets = tickets.tagged(filters.tag)
    if filters.project:
        tickets = tickets.filter(project__key=filters.project)
    if filters.sla == "breached":
        tickets = tickets.filter(sla.breached_q(now))
    elif filters.sla == "due_soon":
        tickets = tickets.filter(sla.due_soon_q(now, within=DUE_SOON))
    if filters.q:
        query = SearchQuery(filters.q, search_type="websearch", config=settings.SEARCH_CONFIG)
        tickets = tickets.filter(search_vector=query)
    if filters.snoozed:
        tickets = tickets.exclude(pk__in=Ticket.objects.awake(now).values("pk"))
    else:
        tickets = tickets.awake(now)
    return tickets


def encode_cursor(ticket: Ticket, sort: Sort) -> str:
    value = getattr(ticket, sort.field)
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([value, ticket.pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: Sort):
    """(value, id) of the last row of the previous page; None for a cursor we cannot read."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, pk = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        return None
    if not isinstance(pk, int):
        return None
    if sort.field.endswith(("_at", "_due")) and value is not None:
        value = parse_datetime(str(value))
        if value is None:
            return None
    return value, pk


def _after(sort: Sort, value, pk) -> Q:
    """Rows after (value, pk) in the sort order, NULLs last in both directions."""
    name = sort.field
    if name == "id":
        return Q(pk__lt=pk) if sort.descending else Q(pk__gt=pk)
    tie = Q(pk__lt=pk) if sort.descending else Q(pk__gt=pk)
    if value is None:
        return Q(**{f"{name}__isnull": True}) & tie
    beyond = Q(**{f"{name}__lt" if sort.descending else f"{name}__gt": value})
    return beyond | Q(**{name: value}) & tie | Q(**{f"{name}__isnull": True})


def ordered(tickets, sort: Sort):
    direction = "desc" if sort.descending else "asc"
    key = getattr(F(sort.field), direction)(nulls_last=True)
    id_order = "-pk" if sort.descending else "pk"
    return tickets.order_by(key, id_order) if sort.field != "id" else tickets.order_by(id_order)


def page_of(tickets, filters: Filters, cursor: str = ""):
    """(tickets on this page, cursor of the next page or "")."""
    sort = SORTS[filters.sort]
    position = decode_cursor(cursor, sort) if cursor else None
    if position is not None:
        tickets = tickets.filter(_after(sort, *position))
    rows = list(ordered(tickets, sort)[: PAGE_SIZE + 1])
    next_cursor = encode_cursor(rows[PAGE_SIZE - 1], sort) if len(rows) > PAGE_SIZE else ""
    return rows[:PAGE_SIZE], next_cursor
