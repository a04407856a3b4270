"""Every write to the help desk that matters: atomic, audited, side effects on commit.

HTML views, API actions, e-mail ingestion, tasks and admin actions all call these.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from config.queueing import enqueue, enqueue_on_commit
from helpdesk import sla
from helpdesk.attachments import attachment_create, check_attachment, clean_filename
from helpdesk.models import Contact, Queue, SatisfactionRating, Tag, Ticket, TicketEvent


class StaleVersion(Exception):
    """The ticket changed since the editor loaded it; nothing was written."""

    def __init__(self, current: Ticket):
        super().__init__(f"ticket {current.pk} is at version {current.version}")
        self.current = current


@dataclass(frozen=True)
class NewFile:
    """A file to attach: the name the sender gave it and its bytes."""

    filename: str
    content: bytes


UNSET = object()
EDITABLE_FIELDS = ("status", "priority", "type", "assignee", "tags", "keep_requester_informed")


def contact_get_or_create(*, email: str, name: str = "") -> Contact:
    """The contact for `email`, created on first sight; fills in a name we did not know."""
    contact, created = Contact.objects.get_or_create(
        email=email.strip().lower(), defaults={"name": name.strip()[:200]}
    )
    if not created and name.strip() and not contact.name:
        contact.name = name.strip()[:200]
        contact.save(update_fields=["name"])
    return contact


def _take_ticket_number(queue: Queue) -> int:
    """Reserve the queue's next number in one statement; the row lock it takes makes
    concurrent callers wait for each other, so numbers never repeat."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Queue._meta.db_table} SET next_number = next_number + 1 "  # noqa: S608
            "WHERE id = %s RETURNING next_number - 1",
            [queue.pk],
        )
        return cursor.fetchone()[0]


def _check_files(files: Sequence[NewFile]) -> None:
    """Refuse the whole write before anything is stored if any file is unacceptable."""
    errors = []
    for file in files:
        try:
            check_attachment(filename=clean_filename(file.filename), content=file.content)
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError({"attachments": errors})


def _store_files(ticket: Ticket, event: TicketEvent, files: Sequence[NewFile]) -> None:
    for file in files:
        attachment_create(ticket=ticket, event=event, filename=file.filename, content=file.content)


def ticket_refresh_search(ticket_id: int) -> None:
    """Recompute the ticket's search vector from subject (weight A), description (B) and
    every reply and note (C), in one statement."""
    config = settings.SEARCH_CONFIG
    ticket_table = Ticket._meta.db_table
    event_table = TicketEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {ticket_table} t SET search_vector =
                setweight(to_tsvector(%(config)s::regconfig, coalesce(t.subject, '')), 'A')
                || setweight(to_tsvector(%(config)s::regconfig, coalesce(t.description, '')), 'B')
                || setweight(to_tsvector(%(config)s::regconfig, coalesce((
                    SELECT string_agg(e.body, ' ' ORDER BY e.created_at, e.id)
                    FROM {event_table} e
                    WHERE e.ticket_id = t.id AND e.kind IN ('reply', 'note', 'call')
                ), '')), 'C')
            WHERE t.id = %(id)s
            """,  # noqa: S608 - table names come from our models
            {"config": config, "id": ticket_id},
        )


@transaction.atomic
def ticket_create(
    *,
    queue: Queue,
    subject: str,
    requester_email: str,
    requester_name: str = "",
    description: str = "",
    source: str = Ticket.Source.WEB,
    priority: str = Ticket.Priority.P3,
    type: str = Ticket.Type.INCIDENT,
    actor=None,
    files: Sequence[NewFile] = (),
    message_id: str = "",
    acknowledge: bool = True,
) -> Ticket:
    """Open a ticket for a caller and, once committed, send them the acknowledgement.

    `actor` is the agent who logged it (phone, API); None when the caller wrote it."""
    _check_files(files)
    subject = " ".join(subject.split())[:255] or "(no subject)"
    requester = contact_get_or_create(email=requester_email, name=requester_name)
    now = timezone.now()
    ticket = Ticket(
        queue=queue,
        number=_take_ticket_number(queue),
        subject=subject,
        description=description,
        requester=requester,
        source=source,
        priority=priority,
        type=type,
    )
    sla.ticket_start_clock(ticket, now)
    ticket.save()
    event = TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEvent.Kind.CREATED,
        public=True,
        author=actor,
        author_contact=None if actor else requester,
        body=description,
        message_id=message_id,
    )
    _store_files(ticket, event, files)
    ticket_refresh_search(ticket.pk)
    transaction.on_commit(lambda: _announce_created(ticket, acknowledge))
    return ticket


def _announce_created(ticket: Ticket, acknowledge: bool) -> None:
    from helpdesk.signals import ticket_created
    from helpdesk.tasks import send_ticket_acknowledgement

    if acknowledge:
        enqueue(send_ticket_acknowledgement, ticket.pk)
    ticket_created.send(sender=Ticket, ticket=ticket)


def _lock(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update(of=("self",)).select_related("queue").get(pk=ticket.pk)


def _tags_named(names: Iterable[str]) -> list[Tag]:
    from django.utils.text import slugify

    slugs = sorted({slugify(name, allow_unicode=True)[:50] for name in names} - {""})
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=slugs)}
    missing = [Tag(name=slug) for slug in slugs if slug not in existing]
    Tag.objects.bulk_create(missing, ignore_conflicts=True)
    if missing:
        existing = {tag.name: tag for tag in Tag.objects.filter(name__in=slugs)}
    return [existing[slug] for slug in slugs]


@transaction.atomic
def ticket_update(*, ticket: Ticket, actor, version: int | None, **changes) -> Ticket:
    """Change status, priority, type, assignee and/or tags (a list of names).

    `version` is the version the editor saw; if the ticket has moved on since, nothing is
    written and StaleVersion is raised, so no one overwrites a change they never saw.
    None skips the check (for the system's own changes). Returns the updated ticket."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {', '.join(sorted(unknown))}")
    current = _lock(ticket)
    if version is not None and current.version != version:
        raise StaleVersion(current)
    now = timezone.now()
    update_fields = {"version", "updated_at"}
    events = []

    status = changes.get("status", current.status)
    if status not in Ticket.Status.values:
        raise ValidationError({"status": [f"“{status}” is not a status."]})
    if status != current.status:
        old = current.status
        current.status = status
        update_fields |= {"status", *sla.ticket_status_changed(current, old, status, now)}
        events.append((TicketEvent.Kind.STATUS, {"status": [old, status]}))

    for field, choices in (("priority", Ticket.Priority), ("type", Ticket.Type)):
        value = changes.get(field, getattr(current, field))
        if value not in choices.values:
            raise ValidationError({field: [f"“{value}” is not a valid {field}."]})
        if value != getattr(current, field):
            events.append((TicketEvent.Kind.CHANGE, {field: [getattr(current, field), value]}))
            setattr(current, field, value)
            update_fields.add(field)
            if field == "priority":
                update_fields |= set(sla.ticket_priority_changed(current, now))

    if "assignee" in changes and changes["assignee"] != current.assignee:
        assignee = changes["assignee"]
        if assignee is not None and not current.queue.members.filter(pk=assignee.pk).exists():
            raise ValidationError({"assignee": [f"{assignee} is not an agent of this queue."]})
        old_name = current.assignee.get_username() if current.assignee else None
        new_name = assignee.get_username() if assignee else None
        current.assignee = assignee
        update_fields.add("assignee")
        events.append((TicketEvent.Kind.ASSIGNMENT, {"assignee": [old_name, new_name]}))
        if assignee is not None and assignee != actor:
            from helpdesk.tasks import send_assignment_notice

            ticket_id, assignee_id = current.pk, assignee.pk
            enqueue_on_commit(send_assignment_notice, ticket_id, assignee_id)

    informed = bool(changes.get("keep_requester_informed", current.keep_requester_informed))
    if informed != current.keep_requester_informed:
        events.append(
            (
                TicketEvent.Kind.CHANGE,
                {"keep_requester_informed": [current.keep_requester_informed, informed]},
            )
        )
        current.keep_requester_informed = informed
        update_fields.add("keep_requester_informed")

    if "tags" in changes:
        tags = _tags_named(changes["tags"])
        old_names = sorted(current.tags.values_list("name", flat=True))
        new_names = [tag.name for tag in tags]
        if old_names != new_names:
            current.tags.set(tags)
            events.append((TicketEvent.Kind.CHANGE, {"tags": [old_names, new_names]}))

    if not events:
        return current
    current.version += 1
    current.save(update_fields=sorted(update_fields))
    TicketEvent.objects.bulk_create(
        TicketEvent(ticket=current, kind=kind, author=actor, changes=diff) for kind, diff in events
    )
    if "status" in update_fields and current.status == Ticket.Status.RESOLVED:
        from helpdesk.signals import ticket_resolved

        transaction.on_commit(lambda: ticket_resolved.send(sender=Ticket, ticket=current))
    return current


@transaction.atomic
def ticket_move(*, ticket: Ticket, queue: Queue, actor, version: int | None = None) -> Ticket:
    """Move the ticket to another queue: it takes that queue's next number, so its
    reference changes (SD-42 → OPS-7); the timeline records both. The SLA clock keeps
    running as it was."""
    current = _lock(ticket)
    if version is not None and current.version != version:
        raise StaleVersion(current)
    if current.queue_id == queue.pk:
        return current
    old_reference = current.reference
    if current.assignee_id and not queue.members.filter(pk=current.assignee_id).exists():
        current.assignee = None
    current.queue = queue
    current.number = _take_ticket_number(queue)
    current.version += 1
    current.save(update_fields=["queue", "number", "assignee", "version", "updated_at"])
    TicketEvent.objects.create(
        ticket=current,
        kind=TicketEvent.Kind.CHANGE,
        author=actor,
        changes={"queue": [old_reference, current.reference]},
        body=f"Moved to {queue.name}: {old_reference} is now {current.reference}.",
    )
    return current


@transaction.atomic
def ticket_reply(
    *,
    ticket: Ticket,
    author,
    body: str,
    public: bool = True,
    files: Sequence[NewFile] = (),
) -> TicketEvent:
    """An agent's public reply (e-mailed to the caller once committed) or internal note.

    The first public reply stops the first-response clock."""
    body = body.strip()
    if not body and not files:
        raise ValidationError({"body": ["Write something, or attach a file."]})
    _check_files(files)
    current = _lock(ticket)
    now = timezone.now()
    event = TicketEvent.objects.create(
        ticket=current,
        kind=TicketEvent.Kind.REPLY if public else TicketEvent.Kind.NOTE,
        public=public,
        author=author,
        body=body,
    )
    _store_files(current, event, files)
    # A reply changes what the next editor must have seen, so it moves the version on.
    current.version += 1
    update_fields = {"updated_at", "version"}
    if public:
        update_fields |= set(sla.ticket_first_response(current, now))
        if current.status == Ticket.Status.NEW:
            current.status = Ticket.Status.OPEN
            update_fields.add("status")
    current.save(update_fields=sorted(update_fields))
    ticket_refresh_search(current.pk)
    if public:
        from helpdesk.tasks import send_public_reply

        enqueue_on_commit(send_public_reply, event.pk)
    return event


REOPENING_STATUSES = (Ticket.Status.PENDING, Ticket.Status.RESOLVED, Ticket.Status.ON_HOLD)


@transaction.atomic
def ticket_reply_from_requester(
    *, ticket: Ticket, body: str, files: Sequence[NewFile] = (), message_id: str = ""
) -> TicketEvent:
    """The caller writes back (requester link or e-mail). Reopens a pending, on-hold or
    resolved ticket; a closed one stays closed and the reply is still recorded."""
    body = body.strip()
    if not body and not files:
        raise ValidationError({"body": ["Write something, or attach a file."]})
    _check_files(files)
    current = _lock(ticket)
    event = TicketEvent.objects.create(
        ticket=current,
        kind=TicketEvent.Kind.REPLY,
        public=True,
        author_contact=current.requester,
        body=body,
        message_id=message_id,
    )
    _store_files(current, event, files)
    if current.status in REOPENING_STATUSES:
        ticket_update(ticket=current, actor=None, version=None, status=Ticket.Status.OPEN)
    else:
        current.version += 1
        current.save(update_fields=["updated_at", "version"])
    ticket_refresh_search(current.pk)
    return event


@transaction.atomic
def ticket_log_call(*, ticket: Ticket, agent, body: str) -> TicketEvent:
    """A phone call with the caller, summarised by the agent (internal)."""
    if not body.strip():
        raise ValidationError({"body": ["Summarise the call."]})
    event = TicketEvent.objects.create(
        ticket=ticket, kind=TicketEvent.Kind.CALL, public=False, author=agent, body=body.strip()
    )
    ticket_refresh_search(ticket.pk)
    return event


@transaction.atomic
def rating_submit(*, ticket: Ticket, score: int, comment: str = "") -> SatisfactionRating:
    """The caller rates a resolved or closed ticket, once."""
    current = _lock(ticket)
    if current.status not in Ticket.CLOSED_STATUSES:
        raise ValidationError({"score": ["You can rate a ticket once it is resolved."]})
    if SatisfactionRating.objects.filter(ticket=current).exists():
        raise ValidationError({"score": ["This ticket has already been rated. Thank you!"]})
    if not 1 <= int(score) <= 5:
        raise ValidationError({"score": ["Choose from 1 to 5."]})
    rating = SatisfactionRating.objects.create(
        ticket=current, score=int(score), comment=comment.strip()
    )
    TicketEvent.objects.create(
        ticket=current,
        kind=TicketEvent.Kind.RATING,
        author_contact=current.requester,
        changes={"score": [None, rating.score]},
        body=rating.comment,
    )
    return rating


@transaction.atomic
def ticket_snooze(*, ticket: Ticket, actor, until=None, milestone=None) -> Ticket:
    """Hide the ticket from triage until a moment or until a milestone completes;
    with neither, wake it now."""
    current = _lock(ticket)
    if until is not None and until <= timezone.now():
        raise ValidationError({"until": ["Choose a moment in the future."]})
    if milestone is not None and milestone.completed_at is not None:
        raise ValidationError({"milestone": ["That milestone is already complete."]})
    old = [current.snoozed_until, current.snoozed_until_milestone_id]
    current.snoozed_until = until
    current.snoozed_until_milestone = milestone
    if old == [until, getattr(milestone, "pk", None)]:
        return current
    current.version += 1
    current.save(
        update_fields=["snoozed_until", "snoozed_until_milestone", "version", "updated_at"]
    )
    if until or milestone:
        what = f"until {timezone.localtime(until):%d %b %Y %H:%M}" if until else ""
        what = what or f"until milestone “{milestone.name}” is complete"
        body = f"Snoozed {what}."
    else:
        body = "Woken up."
    TicketEvent.objects.create(
        ticket=current, kind=TicketEvent.Kind.SYSTEM, author=actor, body=body
    )
    return current


@transaction.atomic
def ticket_link(*, ticket: Ticket, actor, project=None, milestone=None) -> Ticket:
    """Link the ticket to a project and/or one of its milestones (None unlinks)."""
    if milestone is not None:
        project = project or milestone.project
        if milestone.project_id != project.pk:
            raise ValidationError({"milestone": ["That milestone belongs to another project."]})
    current = _lock(ticket)
    old = [current.project_id, current.milestone_id]
    new = [getattr(project, "pk", None), getattr(milestone, "pk", None)]
    if old == new:
        return current
    current.project, current.milestone = project, milestone
    current.version += 1
    current.save(update_fields=["project", "milestone", "version", "updated_at"])
    TicketEvent.objects.create(
        ticket=current,
        kind=TicketEvent.Kind.CHANGE,
        author=actor,
        changes={"project": [old[0], new[0]], "milestone": [old[1], new[1]]},
        body=f"Linked to {project}" + (f", milestone “{milestone.name}”" if milestone else "")
        if project
        else "Unlinked from its project.",
    )
    if project is not None:
        from helpdesk.signals import ticket_linked

        transaction.on_commit(
            lambda: ticket_linked.send(sender=Ticket, ticket=current, actor=actor)
        )
    return current


@transaction.atomic
def ticket_merge(*, source: Ticket, target: Ticket, actor) -> Ticket:
    """Merge `source` into `target`: its timeline and files move over, it closes with a
    pointer to `target`. A merged ticket cannot be merged again, nor be a target, so
    merges never form a cycle."""
    if source.pk == target.pk:
        raise ValidationError({"target": ["A ticket cannot be merged into itself."]})
    # Lock both rows in id order, so two opposite merges cannot deadlock.
    locked = {
        t.pk: t
        for t in Ticket.objects.select_for_update(of=("self",))
        .select_related("queue")
        .filter(pk__in=[source.pk, target.pk])
        .order_by("pk")
    }
    source, target = locked[source.pk], locked[target.pk]
    if source.merged_into_id:
        raise ValidationError({"source": [f"{source.reference} is already merged."]})
    if target.merged_into_id:
        raise ValidationError(
            {"target": [f"{target.reference} was merged into another ticket; merge into that."]}
        )
    moved = TicketEvent.objects.filter(ticket=source).update(ticket=target)
    source.attachments.update(ticket=target)
    old_status = source.status
    source.merged_into = target
    source.status = Ticket.Status.CLOSED
    sla_fields = sla.ticket_status_changed(source, old_status, source.status, timezone.now())
    source.version += 1
    source.save(
        update_fields=sorted({"merged_into", "status", "version", "updated_at", *sla_fields})
    )
    TicketEvent.objects.create(
        ticket=source,
        kind=TicketEvent.Kind.MERGE,
        author=actor,
        changes={"status": [old_status, Ticket.Status.CLOSED], "merged_into": [None, target.pk]},
        body=f"Merged into {target.reference}.",
    )
    TicketEvent.objects.create(
        ticket=target,
        kind=TicketEvent.Kind.MERGE,
        author=actor,
        body=f"{source.reference} “{source.subject}” merged into this ticket ({moved} entries).",
    )
    target.version += 1
    target.save(update_fields=["version", "updated_at"])
    ticket_refresh_search(target.pk)
    return target


@transaction.atomic
def ticket_take_next(*, agent) -> Ticket | None:
    """Assign the agent the most urgent unassigned open ticket of their queues.

    SKIP LOCKED lets concurrent agents each take a different ticket instead of queueing
    behind one row lock or colliding on the same ticket."""
    now = timezone.now()
    candidate = (
        Ticket.objects.filter(queue__members=agent)
        .open()
        .awake(now)
        .filter(assignee__isnull=True, merged_into__isnull=True)
        .order_by("priority", F("resolution_due").asc(nulls_last=True), "created_at", "pk")
        .select_for_update(of=("self",), skip_locked=True)
        .first()
    )
    if candidate is None:
        return None
    return ticket_update(ticket=candidate, actor=agent, version=None, assignee=agent)
