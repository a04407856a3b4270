"""The promise ledger: the dates agents gave callers, measured against the plan.

A promise is *kept* when its milestone was completed on or before the promised date;
*broken* when it was completed later, or is still open and now expected later than
promised (or the promised day has passed without it); *pending* otherwise. Accuracy is
kept / made. A broken promise whose milestone is still open and whose caller has not yet
been told (`updated_at` empty) is *waiting for an update*: the liaison sends all of
those callers one public reply each, in one action, safe to press twice.

Every read here is one set-based query, whatever the number of promises.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import TruncDate
from django.utils import timezone

from helpdesk.models import Ticket
from liaison.briefing import briefing_for, human_date
from liaison.models import Promise
from projects.models import Milestone, Project
from projects.selectors import expected_date

# Rows of the "waiting for an update" list shown on a page; the count covers them all.
BROKEN_SHOWN = 100


def with_dates(promises: QuerySet) -> QuerySet:
    """Annotate `expected` (the later of the milestone's forecast and target) and `completed_on`
    (the local day the milestone was completed, or None)."""
    return promises.annotate(
        expected=expected_date("milestone__"),
        completed_on=TruncDate("milestone__completed_at", tzinfo=timezone.get_current_timezone()),
    )


def kept_q() -> Q:
    return Q(completed_on__isnull=False, completed_on__lte=F("promised_date"))


def broken_q(today: date) -> Q:
    late = Q(completed_on__isnull=False, completed_on__gt=F("promised_date"))
    slipping = Q(completed_on__isnull=True) & (
        Q(expected__gt=F("promised_date")) | Q(promised_date__lt=today)
    )
    return late | slipping


def awaiting_update_q() -> Q:
    """Broken by the plan (the milestone is open and now expected after the promised
    date), the caller not yet told, the ticket not merged away."""
    return Q(
        milestone__completed_at__isnull=True,
        expected__gt=F("promised_date"),
        updated_at__isnull=True,
        ticket__merged_into__isnull=True,
    )


@dataclass(frozen=True)
class Accuracy:
    """A project's promise record: made, kept, broken, pending, and how many callers
    (tickets) are waiting to be told their date no longer holds."""

    made: int = 0
    kept: int = 0
    broken: int = 0
    pending: int = 0
    to_update: int = 0

    @property
    def percent(self) -> int | None:
        """Kept out of made, as a whole percentage; None before any promise."""
        return round(self.kept * 100 / self.made) if self.made else None


def accuracy_by_project(project_ids, today: date | None = None) -> dict[int, Accuracy]:
    """{project id: Accuracy} for the given projects, in one grouped query; a project
    without promises is absent (use `.get(pk, Accuracy())`)."""
    today = today or timezone.localdate()
    rows = (
        with_dates(Promise.objects.filter(milestone__project_id__in=list(project_ids)))
        .values(project_id=F("milestone__project_id"))
        .annotate(
            made=Count("id"),
            kept=Count("id", filter=kept_q()),
            broken=Count("id", filter=broken_q(today)),
            to_update=Count("ticket", filter=awaiting_update_q(), distinct=True),
        )
        .order_by()
    )
    return {
        row["project_id"]: Accuracy(
            made=row["made"],
            kept=row["kept"],
            broken=row["broken"],
            pending=row["made"] - row["kept"] - row["broken"],
            to_update=row["to_update"],
        )
        for row in rows
    }


def accuracy_for(project: Project, today: date | None = None) -> Accuracy:
    return accuracy_by_project([project.pk], today).get(project.pk, Accuracy())


def awaiting_update(project: Project) -> QuerySet:
    """The project's promises waiting for an update, with `expected` annotated."""
    return with_dates(Promise.objects.filter(milestone__project=project)).filter(
        awaiting_update_q()
    )


def broken_promises(project: Project, limit: int = BROKEN_SHOWN) -> tuple[list[Promise], int]:
    """The first `limit` promises waiting for an update (earliest promised first) with
    ticket, caller and milestone, and how many there are in all: one query."""
    rows = list(
        awaiting_update(project)
        .select_related("ticket__queue", "ticket__requester", "milestone")
        .annotate(total=Window(Count("*")))
        .order_by("promised_date", "id")[:limit]
    )
    for promise in rows:
        promise.days_late = (promise.expected - promise.promised_date).days
    return rows, (rows[0].total if rows else 0)


# --- The one action -------------------------------------------------------------------


def update_text(project: Project, promised: list[tuple[Milestone, date]], workaround: str) -> str:
    """What a caller reads: the new expected date of each milestone they were promised,
    in plain words, never the internal reason for the move."""
    lines = [f"An update on {project.name}."]
    for milestone, promised_date in promised:
        lines.append(
            f"We told you to expect “{milestone.name}” by {human_date(promised_date)}. "
            f"That date no longer holds: it is now expected on "
            f"{human_date(milestone.expected_date)}."
        )
    lines.append("We are sorry for the change, and we will tell you if the date moves again.")
    if workaround.strip():
        lines.append(f"Meanwhile: {workaround.strip()}")
    return "\n\n".join(lines)


@transaction.atomic
def promises_send_updates(*, project: Project, actor) -> int:
    """Post one public reply (e-mailed on commit) on every ticket with a promise waiting
    for an update, and stamp those promises; how many tickets were updated.

    Safe to run twice, and concurrently: the promises are claimed with FOR UPDATE SKIP
    LOCKED and only while `updated_at` is empty, so no caller gets the update twice."""
    from helpdesk.services import ticket_reply

    claimed = list(
        awaiting_update(project)
        .select_related("milestone")
        .select_for_update(of=("self",), skip_locked=True)
        .order_by("ticket_id", "milestone_id", "promised_date", "id")
    )
    if not claimed:
        return 0
    briefing = briefing_for(project)
    workaround = briefing.workaround if briefing.workaround_public else ""
    by_ticket: dict[int, dict[int, tuple[Milestone, date]]] = defaultdict(dict)
    for promise in claimed:
        # One line per milestone: the earliest date promised on that ticket.
        by_ticket[promise.ticket_id].setdefault(
            promise.milestone_id, (promise.milestone, promise.promised_date)
        )
    tickets = Ticket.objects.select_related("queue").in_bulk(list(by_ticket))
    for ticket_id, promised in by_ticket.items():
        ticket_reply(
            ticket=tickets[ticket_id],
            author=actor,
            body=update_text(project, list(promised.values()), workaround),
            public=True,
        )
    Promise.objects.filter(pk__in=[p.pk for p in claimed]).update(updated_at=timezone.now())
    return len(by_ticket)
