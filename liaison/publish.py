"""The push: turn each ProjectEvent of the outbox into help desk effects, exactly once and
in order.

A project's events are applied one at a time in `sequence` order by whoever holds the
project's ProjectDesk row lock, so two workers never apply the same project at once.
Each event's effects and its "published" mark commit in one transaction: a worker killed
half-way leaves nothing behind, and the event is simply applied again later. Effects are
keyed by the event (notes carry `source_key`, bulletins remember the sequence they
reflect), so even a replay changes nothing twice.

An event whose effects keep failing is retried by the sweep and, after MAX_ATTEMPTS, set
aside as a dead letter (admin shows it with a retry action) so the project's later events
still reach the help desk.
"""

import logging
from datetime import date

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from config.queueing import enqueue_on_commit
from helpdesk.models import Queue, Ticket, TicketEvent
from liaison import handover
from liaison.briefing import Briefing, briefing_for, human_date
from liaison.models import Bulletin, ProjectDesk, Promise
from liaison.signals import event_applied
from projects.models import Milestone, Project, ProjectEvent

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
Kind = ProjectEvent.Kind
OPEN_STATUSES = [s for s in Ticket.Status.values if s not in Ticket.CLOSED_STATUSES]
# Events about one milestone: their notes go to tickets linked to that milestone or to
# the project as a whole, not to tickets waiting on another milestone.
# Milestones of the IT side only: callers are not written to about them.
INTERNAL_MILESTONE_KINDS = {Milestone.Kind.HELPDESK_GO_LIVE, Milestone.Kind.HANDOVER}
MILESTONE_KINDS = {Kind.MILESTONE_RESCHEDULED, Kind.MILESTONE_COMPLETED, Kind.GO_LIVE_REACHED}


def source_key(event: ProjectEvent, part: str = "") -> str:
    return f"project-event:{event.pk}" + (f":{part}" if part else "")


# ---------------------------------------------------------------------------- the loop


def publish_project(project_id: int) -> int:
    """Apply every pending event of the project, oldest first; how many were applied.
    Stops at an event that fails (the sweep tries it again later)."""
    applied = 0
    while True:
        outcome = _apply_next(project_id)
        if outcome is None or outcome == "failed":
            return applied
        if outcome == "applied":
            applied += 1


def _lock_desk(project_id: int) -> ProjectDesk | None:
    ProjectDesk.objects.bulk_create([ProjectDesk(project_id=project_id)], ignore_conflicts=True)
    return ProjectDesk.objects.select_for_update().filter(project_id=project_id).first()


@transaction.atomic
def _apply_next(project_id: int) -> str | None:
    if not Project.objects.filter(pk=project_id).exists():
        return None  # deleted with its events
    desk = _lock_desk(project_id)
    event = (
        ProjectEvent.objects.select_for_update()
        .filter(project_id=project_id, published_at__isnull=True, dead_at__isnull=True)
        .order_by("sequence")
        .first()
    )
    if event is None:
        return None
    savepoint = transaction.savepoint()
    try:
        apply_event(event, desk)
    except Exception as error:  # any failure: record it, keep the event for a retry
        transaction.savepoint_rollback(savepoint)
        logger.exception("Applying %s (project %s) failed", event.kind, project_id)
        event.attempts += 1
        event.last_error = f"{type(error).__name__}: {error}"[:2000]
        if event.attempts >= MAX_ATTEMPTS:
            event.dead_at = timezone.now()
        event.save(update_fields=["attempts", "last_error", "dead_at"])
        # A dead letter no longer holds up the project's later events.
        return "dead" if event.dead_at else "failed"
    transaction.savepoint_commit(savepoint)
    event.published_at = timezone.now()
    event.save(update_fields=["published_at"])
    if event.sequence > desk.last_sequence:
        desk.last_sequence = event.sequence
        desk.save(update_fields=["last_sequence", "updated_at"])
    transaction.on_commit(lambda: event_applied.send(sender=ProjectEvent, event=event))
    return "applied"


# ---------------------------------------------------------------------------- effects


def apply_event(event: ProjectEvent, desk: ProjectDesk) -> None:
    """All help desk effects of one event. An event older than what the desk already
    reflects (a retried dead letter) only adds its timeline notes: bulletins and callers
    never hear stale news."""
    current = event.sequence > desk.last_sequence
    project = Project.objects.select_related("owner", "liaison").get(pk=event.project_id)
    note = note_text(event, project)
    if note:
        add_notes(event, note)
    if event.kind in (Kind.MILESTONE_COMPLETED, Kind.GO_LIVE_REACHED):
        wake_snoozed(event)
    if not current:
        return
    bulletins_refresh(project, event.sequence)
    if event.kind == Kind.GO_LIVE_REACHED:
        handover.go_live_reached(project, _completed_on(event))
    if event.kind in (Kind.MILESTONE_RESCHEDULED, Kind.GO_LIVE_REACHED) and (
        event.payload.get("milestone_kind") not in INTERNAL_MILESTONE_KINDS
    ):
        tell_requesters(event, project)
    if desk.intake_ticket_id is None:
        intake_ticket_open(project, desk)


def _completed_on(event: ProjectEvent) -> date:
    completed = event.payload.get("completed_at")
    moment = timezone.datetime.fromisoformat(completed) if completed else event.created_at
    return timezone.localtime(moment).date()


def _day(value: str | None) -> str:
    return human_date(date.fromisoformat(value)) if value else "no date"


def note_text(event: ProjectEvent, project: Project) -> str:
    """The system note linked tickets get, or "" for events agents need not read about
    (forecast drift shows on the bulletin and answer card instead)."""
    p = event.payload
    label = project.name
    if event.kind == Kind.MILESTONE_RESCHEDULED:
        days = (date.fromisoformat(p["new_date"]) - date.fromisoformat(p["old_date"])).days
        return (
            f"Plan change, {label}: “{p['name']}” moved from {_day(p['old_date'])} to "
            f"{_day(p['new_date'])} ({days:+d} days). Reason: {p.get('reason', '')}"
        )
    if event.kind == Kind.MILESTONE_COMPLETED:
        return f"Plan change, {label}: “{p['name']}” is complete."
    if event.kind == Kind.GO_LIVE_REACHED:
        return f"{label} is live: “{p['name']}” is complete. Hypercare has started."
    if event.kind == Kind.STATUS_UPDATE_PUBLISHED:
        health = Project.Health(p["health"]).label
        if p.get("old_health") and p["old_health"] != p["health"]:
            was = Project.Health(p["old_health"]).label
            return f"Status update on {label}: health is now {health} (was {was})."
        return f"Status update on {label}: health {health}."
    if event.kind == Kind.PROJECT_CHANGED:
        changes = p.get("changes", {})
        lines = []
        for name, choices in (("status", Project.Status), ("health", Project.Health)):
            if name in changes:
                old, new = changes[name]
                lines.append(f"{name} {choices(old).label} → {choices(new).label}")
        if lines:
            return f"Project change, {label}: " + "; ".join(lines) + "."
    return ""


def _linked_ticket_filter(event: ProjectEvent) -> tuple[str, list]:
    """SQL (and its parameters) choosing the open tickets an event's note goes to."""
    sql = "t.project_id = %s AND t.merged_into_id IS NULL AND t.status = ANY(%s)"
    params: list = [event.project_id, OPEN_STATUSES]
    if event.kind in MILESTONE_KINDS and event.payload.get("milestone"):
        sql += " AND (t.milestone_id IS NULL OR t.milestone_id = %s)"
        params.append(event.payload["milestone"])
    return sql, params


def _add_system_events(
    event: ProjectEvent, *, body: str, public: bool, key: str, only_informed: bool = False
) -> int:
    """One system event on every open linked ticket (only those whose caller asked to be
    kept informed, if so), in one INSERT … SELECT; a replay inserts nothing (unique per
    ticket and source)."""
    where, params = _linked_ticket_filter(event)
    if only_informed:
        where += " AND t.keep_requester_informed"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO helpdesk_ticketevent (ticket_id, kind, body, public, changes,"  # noqa: S608 (fixed SQL; values are parameters)
            " message_id, source_key, created_at)"
            " SELECT t.id, %s, %s, %s, '{}'::jsonb, '', %s, %s"
            f" FROM helpdesk_ticket t WHERE {where}"
            " ON CONFLICT (ticket_id, source_key) WHERE source_key <> '' DO NOTHING",
            [TicketEvent.Kind.SYSTEM, body, public, key, timezone.now(), *params],
        )
        return cursor.rowcount


def add_notes(event: ProjectEvent, body: str) -> int:
    """One internal system note on every open linked ticket."""
    return _add_system_events(event, body=body, public=False, key=source_key(event))


def wake_snoozed(event: ProjectEvent) -> int:
    """Tickets snoozed until this milestone come back: unsnoozed, reopened if they were
    waiting (pending or on hold) with their SLA clock running again, and a note saying
    why. Few tickets wait on one milestone, so each goes through the services."""
    from helpdesk.services import ticket_update

    milestone_id = event.payload.get("milestone")
    if not milestone_id:
        return 0
    waiting = Ticket.objects.filter(snoozed_until_milestone_id=milestone_id).select_related("queue")
    woken = 0
    for ticket in waiting:
        Ticket.objects.filter(pk=ticket.pk).update(
            snoozed_until_milestone=None, version=F("version") + 1, updated_at=timezone.now()
        )
        if ticket.status in (Ticket.Status.PENDING, Ticket.Status.ON_HOLD):
            ticket_update(ticket=ticket, actor=None, version=None, status=Ticket.Status.OPEN)
        TicketEvent.objects.create(
            ticket=ticket,
            kind=TicketEvent.Kind.SYSTEM,
            body=f"Woken up: milestone “{event.payload.get('name', '')}” is complete.",
            source_key=source_key(event, "wake"),
        )
        woken += 1
    return woken


def bulletins_refresh(project: Project, sequence: int | None = None) -> Briefing:
    """Rewrite the project's bulletin in every queue it affects (and retire those of
    queues it no longer affects), unless a bulletin already reflects a later event."""
    if sequence is None:
        sequence = (
            ProjectDesk.objects.filter(project=project)
            .values_list("last_sequence", flat=True)
            .first()
            or 0
        )
    briefing = briefing_for(project)
    milestone = briefing.milestone
    active = project.archived_at is None and project.status not in (
        Project.Status.DONE,
        Project.Status.CANCELLED,
    )
    queue_ids = list(Queue.objects.filter(projects=project).values_list("pk", flat=True))
    now = timezone.now()
    rows = [
        Bulletin(
            queue_id=queue_id,
            project=project,
            title=briefing.title[:255],
            health=project.health,
            body=briefing.tell_callers,
            workaround=briefing.workaround,
            public=briefing.workaround_public and bool(briefing.workaround.strip()),
            next_milestone=milestone,
            next_milestone_name=milestone.name if milestone else "",
            forecast_date=briefing.forecast_date,
            baseline_date=briefing.baseline_date,
            slips=briefing.slips,
            active=active,
            sequence=sequence,
            updated_at=now,
        )
        for queue_id in queue_ids
    ]
    if rows:
        _upsert_bulletins(rows)
    Bulletin.objects.filter(project=project, active=True).exclude(queue_id__in=queue_ids).update(
        active=False, updated_at=now
    )
    return briefing


BULLETIN_COLUMNS = (
    "title", "health", "body", "workaround", "public", "next_milestone_id",
    "next_milestone_name", "forecast_date", "baseline_date", "slips", "active", "sequence",
    "updated_at",
)  # fmt: skip


def _upsert_bulletins(rows: list[Bulletin]) -> None:
    """INSERT … ON CONFLICT DO UPDATE, guarded so an older event never overwrites a
    bulletin that reflects a newer one."""
    columns = ("queue_id", "project_id", *BULLETIN_COLUMNS)
    values, params = [], []
    for row in rows:
        values.append("(" + ", ".join(["%s"] * len(columns)) + ")")
        for column in columns:
            value = getattr(row, column)
            if column == "slips":
                from django.db.models.fields.json import JSONField

                value = JSONField().get_db_prep_value(value, connection)
            params.append(value)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in BULLETIN_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO liaison_bulletin ({', '.join(columns)}) VALUES {', '.join(values)}"  # noqa: S608 (fixed SQL; values are parameters)
            f" ON CONFLICT (queue_id, project_id) DO UPDATE SET {updates}"
            " WHERE liaison_bulletin.sequence <= EXCLUDED.sequence",
            params,
        )


def requester_text(event: ProjectEvent, project: Project) -> str:
    """What a caller who asked to be kept informed reads: no internal reasons."""
    p = event.payload
    if event.kind == Kind.GO_LIVE_REACHED:
        return f"Good news: {project.name} is live ({p['name']} is complete)."
    return (
        f"An update on {project.name}: “{p['name']}” is now planned for "
        f"{_day(p['new_date'])} (it was {_day(p['old_date'])}). "
        "We will write again if it changes."
    )


def tell_requesters(event: ProjectEvent, project: Project) -> int:
    """A public update on each open linked ticket whose caller asked to be kept informed,
    e-mailed after commit. Inserted set-based; the mail task sends each one once."""
    key = source_key(event, "caller")
    added = _add_system_events(
        event, body=requester_text(event, project), public=True, key=key, only_informed=True
    )
    if added and event.kind == Kind.MILESTONE_RESCHEDULED:
        # These callers now have the new date: the promise ledger need not chase them.
        Promise.objects.filter(
            milestone_id=event.payload["milestone"],
            updated_at__isnull=True,
            promised_date__lt=event.payload["new_date"],
            ticket__events__source_key=key,
        ).update(updated_at=timezone.now())
    if added:
        from liaison.tasks import send_requester_updates

        enqueue_on_commit(send_requester_updates, key)
    return added


def intake_queue(project: Project) -> Queue | None:
    """Where the project's intake ticket goes: the liaison's queue, else the first queue
    the project affects."""
    if project.liaison_id:
        queue = Queue.objects.filter(members=project.liaison_id).order_by("name", "id").first()
        if queue is not None:
            return queue
    return Queue.objects.filter(projects=project).order_by("name", "id").first()


def intake_ticket_open(project: Project, desk: ProjectDesk) -> Ticket | None:
    """Open the project's intake ticket, once, as soon as there is a queue for it, so the
    help desk is involved from the start."""
    if project.status in (Project.Status.DONE, Project.Status.CANCELLED):
        return None
    queue = intake_queue(project)
    if queue is None:
        return None
    from helpdesk.services import ticket_create, ticket_link, ticket_update

    owner = project.owner
    ticket = ticket_create(
        queue=queue,
        subject=f"New project {project.key}: {project.name}",
        requester_email=owner.email or f"{owner.get_username()}@invalid.example",
        requester_name=owner.get_full_name() or owner.get_username(),
        description=(
            f"{project.name} has started planning. Project manager: "
            f"{owner.get_full_name() or owner.get_username()}.\n\n"
            "Please review what it means for the help desk: affected queues, known issues, "
            "training and the handover plan."
        ),
        type=Ticket.Type.REQUEST,
        acknowledge=False,
    )
    ticket = ticket_link(ticket=ticket, actor=None, project=project)
    if project.liaison_id and queue.members.filter(pk=project.liaison_id).exists():
        ticket = ticket_update(ticket=ticket, actor=None, version=None, assignee=project.liaison)
    desk.intake_ticket = ticket
    desk.save(update_fields=["intake_ticket", "updated_at"])
    return ticket
