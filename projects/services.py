"""Every write to a project's plan: atomic, recorded, and announced through the outbox.

A change others must hear about (a milestone moved, a forecast changed, a status update)
writes one ProjectEvent in the same transaction, so the help desk can never miss one.
"""

from collections.abc import Iterable
from datetime import date

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from projects.models import (
    Column,
    Dependency,
    LessonLearned,
    Milestone,
    MilestoneSlip,
    Project,
    ProjectEvent,
    Risk,
    StatusUpdate,
    Task,
)
from projects.ranking import rank_between

DEFAULT_COLUMNS = [("To do", None, False), ("In progress", 5, False), ("Review", 3, False),
                   ("Done", None, True)]  # fmt: skip


def _next_sequence(project_id: int, count: int = 1) -> int:
    """Reserve `count` event sequence numbers of the project; returns the last."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE projects_project SET event_sequence = event_sequence + %s "
            "WHERE id = %s RETURNING event_sequence",
            [count, project_id],
        )
        return cursor.fetchone()[0]


def _announce(event: ProjectEvent) -> None:
    from projects.signals import project_event_recorded

    # Listeners (the liaison app) enqueue their work on commit; projects knows none of them.
    transaction.on_commit(lambda: project_event_recorded.send(sender=ProjectEvent, event=event))


def _event(project: Project, kind: str, actor=None, **payload) -> ProjectEvent:
    event = ProjectEvent.objects.create(
        project=project,
        sequence=_next_sequence(project.pk),
        kind=kind,
        actor=actor,
        payload=payload,
    )
    _announce(event)
    return event


def _events(project: Project, kind: str, actor, payloads: list[dict]) -> list[ProjectEvent]:
    """Many events of one kind in two statements (a rescheduling can move every
    milestone). Announced once, by the last: a listener handles a project's pending
    events together."""
    if not payloads:
        return []
    last = _next_sequence(project.pk, len(payloads))
    first = last - len(payloads) + 1
    events = ProjectEvent.objects.bulk_create(
        ProjectEvent(project=project, sequence=first + i, kind=kind, actor=actor, payload=p)
        for i, p in enumerate(payloads)
    )
    _announce(events[-1])
    return events


@transaction.atomic
def event_retry(event: ProjectEvent) -> None:
    """Give a dead letter another go (admin action): back among the pending events with
    its attempts reset, and announced again so its consumer picks it up."""
    ProjectEvent.objects.filter(pk=event.pk).update(
        dead_at=None, attempts=0, last_error="", published_at=None
    )
    event.refresh_from_db()
    from projects.signals import project_event_recorded

    transaction.on_commit(lambda: project_event_recorded.send(sender=ProjectEvent, event=event))


def _lock_plan(project_id: int) -> None:
    """Take the project's row lock first. Every write that reschedules does, so they queue
    in one order (project, then its tasks and milestones) and never deadlock."""
    Project.objects.select_for_update(of=("self",)).filter(pk=project_id).values("pk").first()


def _reschedule(project: Project, actor=None) -> None:
    from projects.scheduling import project_reschedule

    project_reschedule(project=project, actor=actor)


@transaction.atomic
def project_create(*, owner, actor=None, columns=DEFAULT_COLUMNS, **fields) -> Project:
    """A new project with the default board columns."""
    project = Project(owner=owner, **fields)
    project.full_clean()
    project.save()
    Column.objects.bulk_create(
        Column(project=project, name=name, position=index, wip_limit=limit, is_done=done)
        for index, (name, limit, done) in enumerate(columns)
    )
    _event(project, ProjectEvent.Kind.PROJECT_CHANGED, actor, change="created")
    return project


PROJECT_FIELDS = (
    "name", "description", "status", "health", "visibility", "start_date", "target_date",
    "liaison", "calendar", "keywords",
)  # fmt: skip


@transaction.atomic
def project_update(*, project: Project, actor, **changes) -> Project:
    unknown = set(changes) - set(PROJECT_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {', '.join(sorted(unknown))}")
    _lock_plan(project.pk)
    project = Project.objects.get(pk=project.pk)
    changed = {}
    for field, value in changes.items():
        old = getattr(project, field)
        if old != value:
            changed[field] = [_plain(old), _plain(value)]
            setattr(project, field, value)
    if not changed:
        return project
    if "status" in changed and project.status == Project.Status.DONE:
        from projects.signals import project_closing

        # Others may veto the close (the liaison app: hypercare open, handover unsigned);
        # a veto raises ValidationError naming the field.
        project_closing.send(sender=Project, project=project)
    project.full_clean()
    project.save(update_fields=[*changed, "updated_at"])
    if "liaison" in changed:  # the help desk's go-lives are the liaison's to answer for
        project.milestones.filter(kind=Milestone.Kind.HELPDESK_GO_LIVE).update(
            owner=project.liaison
        )
    _event(project, ProjectEvent.Kind.PROJECT_CHANGED, actor, changes=changed)
    if "calendar" in changed:
        _reschedule(project, actor)
    return project


def _plain(value):
    if isinstance(value, date):
        return value.isoformat()
    return getattr(value, "pk", value)


@transaction.atomic
def project_archive(*, project: Project, actor) -> Project:
    Project.objects.filter(pk=project.pk, archived_at__isnull=True).update(
        archived_at=timezone.now()
    )
    project.refresh_from_db()
    _event(project, ProjectEvent.Kind.PROJECT_CHANGED, actor, change="archived")
    return project


@transaction.atomic
def milestone_create(
    *, project: Project, name: str, target_date: date, actor=None, kind=Milestone.Kind.REGULAR
) -> Milestone:
    """A new commitment: its baseline is the first target and is kept for good."""
    milestone = Milestone(
        project=project, name=name, kind=kind, baseline_date=target_date, target_date=target_date
    )
    milestone.full_clean()
    milestone.save()
    if kind == Milestone.Kind.GO_LIVE:
        helpdesk_go_live_pair(milestone)
    _reschedule(project, actor)
    return milestone


# The help desk must be ready this many working days before a go-live.
HELPDESK_LEAD_DAYS = 5


def _helpdesk_ready_date(project: Project, go_live: date) -> date:
    from projects.scheduling import _load_calendar_and_rates, add_working_days

    calendar, _ = _load_calendar_and_rates(project.calendar_id, set())
    return add_working_days(calendar, go_live, -HELPDESK_LEAD_DAYS)


def helpdesk_go_live_pair(go_live: Milestone) -> Milestone:
    """The help desk's own go-live, owned by the liaison, some working days before the
    project's: agents trained, known issues loaded, routing ready."""
    ready = _helpdesk_ready_date(go_live.project, go_live.target_date)
    return Milestone.objects.create(
        project=go_live.project,
        name=f"Help desk ready for {go_live.name}"[:200],
        kind=Milestone.Kind.HELPDESK_GO_LIVE,
        baseline_date=ready,
        target_date=ready,
        owner=go_live.project.liaison,
        paired_go_live=go_live,
    )


@transaction.atomic
def milestone_reschedule(
    *, milestone: Milestone, target_date: date, reason: str, actor
) -> Milestone:
    """Move a milestone's target: records the slip, recomputes the forecasts that depend
    on it and announces the move, all in one transaction."""
    if not reason or not reason.strip():
        raise ValidationError({"reason": ["Say why the date moves; the help desk will read it."]})
    _lock_plan(milestone.project_id)
    milestone = Milestone.objects.select_for_update().select_related("project").get(pk=milestone.pk)
    if milestone.completed_at is not None:
        raise ValidationError({"target_date": ["This milestone is complete; it cannot move."]})
    old = milestone.target_date
    if old == target_date:
        return milestone
    milestone.target_date = target_date
    milestone.save(update_fields=["target_date"])
    MilestoneSlip.objects.create(
        milestone=milestone, old_date=old, new_date=target_date, reason=reason.strip(), author=actor
    )
    _event(
        milestone.project,
        ProjectEvent.Kind.MILESTONE_RESCHEDULED,
        actor,
        milestone=milestone.pk,
        name=milestone.name,
        milestone_kind=milestone.kind,
        old_date=old.isoformat(),
        new_date=target_date.isoformat(),
        baseline_date=milestone.baseline_date.isoformat(),
        reason=reason.strip(),
    )
    if milestone.kind == Milestone.Kind.GO_LIVE:
        _keep_pair_in_step(milestone, old, reason.strip(), actor)
    _reschedule(milestone.project, actor)
    milestone.refresh_from_db()
    return milestone


def _keep_pair_in_step(go_live: Milestone, old_go_live: date, reason: str, actor) -> None:
    """The help desk go-live moves with its go-live, keeping the working days between
    them (the default lead, or what the liaison chose); a completed one stays put."""
    from projects.scheduling import (
        _load_calendar_and_rates,
        add_working_days,
        working_days_between,
    )

    paired = (
        Milestone.objects.select_for_update()
        .filter(paired_go_live=go_live, completed_at__isnull=True)
        .first()
    )
    if paired is None:
        return
    calendar, _ = _load_calendar_and_rates(go_live.project.calendar_id, set())
    lead = working_days_between(calendar, paired.target_date, old_go_live)
    ready = add_working_days(calendar, go_live.target_date, -lead)
    if ready == paired.target_date:
        return
    old = paired.target_date
    paired.target_date = ready
    paired.save(update_fields=["target_date"])
    follows = f"Follows “{go_live.name}”: {reason}"
    MilestoneSlip.objects.create(
        milestone=paired, old_date=old, new_date=ready, reason=follows, author=actor
    )
    _event(
        go_live.project,
        ProjectEvent.Kind.MILESTONE_RESCHEDULED,
        actor,
        milestone=paired.pk,
        name=paired.name,
        milestone_kind=paired.kind,
        old_date=old.isoformat(),
        new_date=ready.isoformat(),
        baseline_date=paired.baseline_date.isoformat(),
        reason=follows,
    )


@transaction.atomic
def milestone_complete(*, milestone: Milestone, actor) -> Milestone:
    updated = Milestone.objects.filter(pk=milestone.pk, completed_at__isnull=True).update(
        completed_at=timezone.now()
    )
    milestone.refresh_from_db()
    if updated:
        go_live = milestone.kind == Milestone.Kind.GO_LIVE
        _event(
            milestone.project,
            ProjectEvent.Kind.GO_LIVE_REACHED if go_live else ProjectEvent.Kind.MILESTONE_COMPLETED,
            actor,
            milestone=milestone.pk,
            name=milestone.name,
            milestone_kind=milestone.kind,
            completed_at=milestone.completed_at.isoformat(),
        )
    return milestone


def _last_rank(column: Column) -> str | None:
    return column.tasks.order_by("-rank").values_list("rank", flat=True).first()


TASK_FIELDS = (
    "title", "description", "assignee", "estimate_hours", "start_date", "due_date",
    "milestone", "labels",
)  # fmt: skip
# Changes to these move forecasts.
SCHEDULE_FIELDS = {"assignee", "estimate_hours", "start_date", "milestone"}


@transaction.atomic
def task_create(
    *, project: Project, title: str, actor=None, column: Column | None = None, **fields
) -> Task:
    """A new card at the bottom of `column` (the first column by default)."""
    column = column or project.columns.order_by("position", "id").first()
    if column is None or column.project_id != project.pk:
        raise ValidationError({"column": ["Choose a column of this project's board."]})
    if fields.get("milestone") is not None and fields["milestone"].project_id != project.pk:
        raise ValidationError({"milestone": ["That milestone belongs to another project."]})
    task = Task(project=project, column=column, title=title.strip(), **fields)
    task.rank = rank_between(_last_rank(column), None)
    task.completed_at = timezone.now() if column.is_done else None
    task.full_clean()
    task.save()
    _reschedule(project, actor)
    return task


@transaction.atomic
def task_update(*, task: Task, actor, version: int | None = None, **changes) -> Task:
    unknown = set(changes) - set(TASK_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {', '.join(sorted(unknown))}")
    _lock_plan(task.project_id)
    current = Task.objects.select_for_update().get(pk=task.pk)
    if version is not None and current.version != version:
        from projects.exceptions import StaleTask

        raise StaleTask(current)
    changed = [field for field, value in changes.items() if getattr(current, field) != value]
    if not changed:
        return current
    new_milestone = changes.get("milestone")
    if "milestone" in changed and new_milestone and new_milestone.project_id != current.project_id:
        raise ValidationError({"milestone": ["That milestone belongs to another project."]})
    for field in changed:
        setattr(current, field, changes[field])
    current.version += 1
    current.full_clean()
    current.save(update_fields=[*changed, "version", "updated_at"])
    if SCHEDULE_FIELDS & set(changed):
        _reschedule(current.project, actor)
    return current


@transaction.atomic
def task_move(*, task: Task, column: Column, after: Task | None = None, actor=None) -> Task:
    """Put the card in `column` just below `after` (None: at the top). One UPDATE of this
    card: its rank is chosen between its new neighbours, no other card is renumbered."""
    if column.project_id != task.project_id:
        raise ValidationError({"column": ["That column belongs to another board."]})
    if after is not None and after.column_id != column.pk:
        raise ValidationError({"after": ["That card is in another column."]})
    crosses_done = (task.completed_at is not None) != column.is_done
    if crosses_done:  # it will reschedule: take the plan's lock first
        _lock_plan(task.project_id)
    ranks = Task.objects.filter(column=column).exclude(pk=task.pk)
    if after is None:
        before_rank = None
        next_rank = ranks.order_by("rank").values_list("rank", flat=True).first()
    else:
        before_rank = after.rank
        next_rank = (
            ranks.filter(rank__gt=after.rank)
            .order_by("rank")
            .values_list("rank", flat=True)
            .first()
        )
    rank = rank_between(before_rank, next_rank)
    completed_at = (task.completed_at or timezone.now()) if column.is_done else None
    Task.objects.filter(pk=task.pk).update(
        column=column, rank=rank, completed_at=completed_at, updated_at=timezone.now()
    )
    task.column, task.rank, task.completed_at = column, rank, completed_at
    if crosses_done:
        _reschedule(task.project, actor)
    return task


def _find_cycle(edges: dict[int, set[int]], start: int, goal: int) -> list[int] | None:
    """A path start → … → goal through `edges`, or None (depth-first, iterative)."""
    stack = [(start, [start])]
    seen = set()
    while stack:
        node, path = stack.pop()
        if node == goal:
            return path
        if node in seen:
            continue
        seen.add(node)
        stack.extend((nxt, [*path, nxt]) for nxt in edges.get(node, ()))
    return None


@transaction.atomic
def dependency_add(
    *,
    predecessor: Task,
    successor: Task,
    actor=None,
    type=Dependency.Type.FINISH_TO_START,
    lag_days: int = 0,
) -> Dependency:
    """`successor` waits for `predecessor`. Refuses a link that would close a loop and
    names the loop, e.g. "Order kit → Install → Order kit"."""
    if predecessor.project_id != successor.project_id:
        raise ValidationError({"predecessor": ["Both tasks must be in the same project."]})
    if predecessor.pk == successor.pk:
        raise ValidationError({"predecessor": ["A task cannot depend on itself."]})
    # Lock the project's plan so two concurrent links cannot form a loop together.
    _lock_plan(predecessor.project_id)
    edges: dict[int, set[int]] = {}
    for pred, succ in Dependency.objects.filter(
        predecessor__project_id=predecessor.project_id
    ).values_list("predecessor_id", "successor_id"):
        edges.setdefault(pred, set()).add(succ)
    loop = _find_cycle(edges, successor.pk, predecessor.pk)
    if loop is not None:
        titles = dict(Task.objects.filter(pk__in=loop).values_list("pk", "title"))
        names = " → ".join(titles[pk] for pk in [*loop, successor.pk])
        raise ValidationError({"predecessor": [f"That would make a loop: {names}."]})
    dependency, _ = Dependency.objects.update_or_create(
        predecessor=predecessor, successor=successor, defaults={"type": type, "lag_days": lag_days}
    )
    _reschedule(predecessor.project, actor)
    return dependency


@transaction.atomic
def dependency_remove(*, dependency: Dependency, actor=None) -> None:
    project = dependency.predecessor.project
    dependency.delete()
    _reschedule(project, actor)


@transaction.atomic
def status_update_publish(*, project: Project, health: str, summary: str, actor) -> StatusUpdate:
    """Publish the weekly word: immutable from now on; the project's health follows it."""
    if health not in Project.Health.values:
        raise ValidationError({"health": [f"“{health}” is not a health."]})
    if not summary.strip():
        raise ValidationError({"summary": ["Write what happened and what comes next."]})
    _lock_plan(project.pk)
    old_health = Project.objects.filter(pk=project.pk).values_list("health", flat=True).get()
    update = StatusUpdate.objects.create(
        project=project, health=health, summary=summary.strip(), author=actor
    )
    Project.objects.filter(pk=project.pk).update(health=health, updated_at=timezone.now())
    project.health = health
    _event(
        project,
        ProjectEvent.Kind.STATUS_UPDATE_PUBLISHED,
        actor,
        status_update=update.pk,
        health=health,
        old_health=old_health,
    )
    return update


RISK_FIELDS = ("title", "description", "probability", "impact", "owner", "mitigation",
               "review_date", "status")  # fmt: skip


@transaction.atomic
def risk_save(*, project: Project, actor, risk: Risk | None = None, **fields) -> Risk:
    unknown = set(fields) - set(RISK_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {', '.join(sorted(unknown))}")
    risk = risk or Risk(project=project)
    for field, value in fields.items():
        setattr(risk, field, value)
    risk.full_clean()
    risk.save()
    return risk


def members_set(*, project: Project, users: Iterable, actor) -> None:
    project.members.set(users)


def stakeholders_set(*, project: Project, users: Iterable, actor) -> None:
    """Who may read the project's status page when its visibility is "stakeholders"."""
    project.stakeholders.set(users)


def lesson_add(*, project: Project, text: str, actor) -> LessonLearned:
    if not text.strip():
        raise ValidationError({"text": ["Write the lesson."]})
    return LessonLearned.objects.create(project=project, text=text.strip(), author=actor)
