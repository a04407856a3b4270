"""Handover to support and the hypercare window after go-live.

A project's handover plan is created the first time anyone needs it (its page, the API,
the go-live) with the default readiness criteria. Readiness is the share of criteria met
(done or not applicable), 0–100. The support lead (permission
`liaison.sign_off_handover`) signs it off once readiness is 100 and a support queue is
named; any later change to the criteria or the support queue clears the sign-off, so a
signature always covers what the plan says now.

Hypercare: the go-live starts it (`go_live_reached`, called by the publish engine) for
`hypercare_days`. While it runs, a ticket newly linked to the project goes to the plan's
second line and is tagged "hypercare"; after it, to the support queue. A daily beat task
moves the second line's still-open hypercare tickets to the support queue once hypercare
is over and takes the tag off (so running it again finds nothing to do).

A project cannot be closed while hypercare runs or its handover is unsigned: the receiver
of `projects.signals.project_closing` vetoes the close with the reason.
"""

import logging
from datetime import date, timedelta

from celery import shared_task
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.dispatch import receiver
from django.utils import timezone

from helpdesk.models import Queue, Ticket, TicketEvent
from helpdesk.signals import ticket_linked
from liaison.briefing import human_date
from liaison.models import DEFAULT_CRITERIA, HandoverCriterion, HandoverPlan, ProjectDesk
from projects.access import can_plan, get_project_page_for
from projects.models import Project
from projects.signals import project_closing

logger = logging.getLogger(__name__)

HYPERCARE_TAG = "hypercare"
MAX_HYPERCARE_DAYS = 365
SIGN_OFF_PERMISSION = "liaison.sign_off_handover"
Status = HandoverCriterion.Status
MET = (Status.DONE, Status.NOT_APPLICABLE)
UNSET = object()


# ---------------------------------------------------------------------------- access


def can_edit_handover(user, project: Project, *, planner: bool | None = None) -> bool:
    """The project's planners (owner, team, project managers) and its liaison. `planner`:
    can_plan(user, project) when the caller already knows it."""
    if not user.is_authenticated:
        return False
    if project.liaison_id == user.pk:
        return True
    return can_plan(user, project) if planner is None else planner


def can_sign_off(user) -> bool:
    """Support leads: users holding `liaison.sign_off_handover` (superusers do)."""
    return user.is_authenticated and user.has_perm(SIGN_OFF_PERMISSION)


def get_handover_project_for(user, key: str, *, write: bool = False) -> Project:
    """The project whose handover `user` may read: 404 if they may not see the project,
    403 for anyone but agents and project managers, and with `write` 403 unless they may
    change the plan."""
    project = get_project_page_for(
        user, key, refusal="The handover plan is for agents and project managers."
    )
    if write and not can_edit_handover(user, project):
        raise PermissionDenied("You may read this handover plan but not change it.")
    return project


# ---------------------------------------------------------------------------- reading


def readiness(criteria) -> int:
    """0–100: the share of criteria met (done or not applicable), rounded down so only a
    plan with every criterion met reads 100. A plan without criteria is not ready."""
    criteria = list(criteria)
    if not criteria:
        return 0
    met = sum(1 for criterion in criteria if criterion.status in MET)
    return met * 100 // len(criteria)


def hypercare_state(plan: HandoverPlan | None, today: date | None = None) -> str:
    """ "not_started", "active" or "ended"."""
    if plan is None or plan.hypercare_until is None:
        return "not_started"
    return "active" if plan.in_hypercare(today or timezone.localdate()) else "ended"


def handover_plan_for(project: Project) -> HandoverPlan:
    """The project's handover plan, created with the default criteria the first time."""
    plan = HandoverPlan.objects.filter(project=project).first()
    if plan is not None:
        return plan
    with transaction.atomic():
        # get_or_create: two first visits at once give one plan (the unique project).
        plan, created = HandoverPlan.objects.get_or_create(project=project)
        if created:
            HandoverCriterion.objects.bulk_create(
                HandoverCriterion(plan=plan, name=name, position=index)
                for index, name in enumerate(DEFAULT_CRITERIA)
            )
    return plan


# ---------------------------------------------------------------------------- writes


def _lock(plan: HandoverPlan) -> HandoverPlan:
    """The plan's row lock: sign-off and changes to what it covers take turns, so a
    signature never covers a criterion changed at the same moment."""
    return HandoverPlan.objects.select_for_update().get(pk=plan.pk)


def _clear_sign_off(plan: HandoverPlan) -> bool:
    if plan.signed_off_at is None:
        return False
    plan.signed_off_by = None
    plan.signed_off_at = None
    plan.save(update_fields=["signed_off_by", "signed_off_at"])
    return True


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": ["Name the criterion, e.g. “Backup restore tested”."]})
    if len(name) > 200:
        raise ValidationError({"name": ["Keep the name under 200 characters."]})
    return name


@transaction.atomic
def criterion_add(*, plan: HandoverPlan, name: str, actor) -> tuple[HandoverCriterion, bool]:
    """A custom criterion at the end of the list, to do. Returns it and whether a
    sign-off was cleared by it."""
    name = _clean_name(name)
    plan = _lock(plan)
    if plan.criteria.filter(name__iexact=name).exists():
        raise ValidationError({"name": [f"“{name}” is already a criterion of this plan."]})
    last = plan.criteria.aggregate(last=Max("position"))["last"]
    criterion = HandoverCriterion.objects.create(
        plan=plan, name=name, position=0 if last is None else last + 1
    )
    return criterion, _clear_sign_off(plan)


@transaction.atomic
def criterion_update(
    *, criterion: HandoverCriterion, actor, owner=UNSET, evidence_url=UNSET, status=UNSET
) -> tuple[HandoverCriterion, bool]:
    """Change a criterion's owner (a user or None), evidence link and/or status. Returns
    it and whether a sign-off was cleared (only a real change clears one)."""
    plan = _lock(criterion.plan)
    current = HandoverCriterion.objects.select_for_update().get(pk=criterion.pk)
    changed = []
    for field, value in (("owner", owner), ("evidence_url", evidence_url), ("status", status)):
        if value is UNSET:
            continue
        if field == "owner":
            if getattr(value, "pk", None) != current.owner_id:
                current.owner = value
                changed.append(field)
        elif value != getattr(current, field):
            setattr(current, field, (value or "").strip() if field == "evidence_url" else value)
            changed.append(field)
    if not changed:
        return current, False
    current.full_clean(exclude=["plan", "owner"])
    current.save(update_fields=changed)
    return current, _clear_sign_off(plan)


@transaction.atomic
def criterion_remove(*, criterion: HandoverCriterion, actor) -> bool:
    """Remove a criterion that does not apply to this project at all (for one that does
    not apply, "not applicable" keeps the record). Returns whether a sign-off was cleared."""
    plan = _lock(criterion.plan)
    HandoverCriterion.objects.filter(pk=criterion.pk).delete()
    return _clear_sign_off(plan)


def _check_hypercare_days(days) -> int:
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= MAX_HYPERCARE_DAYS:
        raise ValidationError(
            {"hypercare_days": [f"Give a whole number of days from 0 to {MAX_HYPERCARE_DAYS}."]}
        )
    return days


@transaction.atomic
def handover_settings_update(
    *,
    plan: HandoverPlan,
    actor,
    support_queue=UNSET,
    second_line_queue=UNSET,
    hypercare_days=UNSET,
) -> tuple[HandoverPlan, bool]:
    """Set the support queue, the second line and/or the length of hypercare. A running
    (or finished) hypercare keeps its go-live day: its end moves with the new length.
    Naming another support queue clears the sign-off. Returns the plan and whether a
    sign-off was cleared."""
    plan = _lock(plan)
    changed = []
    for field, value in (
        ("support_queue", support_queue),
        ("second_line_queue", second_line_queue),
    ):
        if value is UNSET:
            continue
        if value is not None and not isinstance(value, Queue):
            raise ValidationError({field: ["Choose a queue."]})
        if getattr(value, "pk", None) != getattr(plan, f"{field}_id"):
            setattr(plan, field, value)
            changed.append(field)
    if hypercare_days is not UNSET:
        days = _check_hypercare_days(hypercare_days)
        if days != plan.hypercare_days:
            if plan.hypercare_until is not None:
                went_live = plan.hypercare_until - timedelta(days=plan.hypercare_days)
                plan.hypercare_until = went_live + timedelta(days=days)
                changed.append("hypercare_until")
            plan.hypercare_days = days
            changed.append("hypercare_days")
    if changed:
        plan.save(update_fields=changed)
    cleared = "support_queue" in changed and _clear_sign_off(plan)
    return plan, cleared


def sign_off_refusals(plan: HandoverPlan, criteria=None) -> dict[str, list[str]]:
    """Why the plan cannot be signed off now, by field; empty when it can."""
    criteria = list(plan.criteria.all() if criteria is None else criteria)
    errors: dict[str, list[str]] = {}
    score = readiness(criteria)
    if not criteria:
        errors["readiness"] = ["The plan has no criteria: add what must be true first."]
    elif score < 100:
        missing = [criterion.name for criterion in criteria if criterion.status not in MET]
        errors["readiness"] = [f"Readiness is {score}, not 100. Not met yet: {', '.join(missing)}."]
    if plan.support_queue_id is None:
        errors["support_queue"] = ["Name the support queue that takes the project over."]
    return errors


@transaction.atomic
def handover_sign_off(*, plan: HandoverPlan, actor) -> HandoverPlan:
    """The support lead accepts the project: readiness 100 and a support queue needed."""
    if not can_sign_off(actor):
        raise PermissionDenied("Only a support lead may sign off a handover.")
    plan = _lock(plan)
    errors = sign_off_refusals(plan)
    if errors:
        raise ValidationError(errors)
    if plan.signed_off_at is None:
        plan.signed_off_by = actor
        plan.signed_off_at = timezone.now()
        plan.save(update_fields=["signed_off_by", "signed_off_at"])
    return plan


@transaction.atomic
def go_live_reached(project: Project, day: date) -> HandoverPlan:
    """The project is live: hypercare runs from `day` for the plan's hypercare days (a
    second go-live, say of a second phase, can only lengthen it)."""
    plan = _lock(handover_plan_for(project))
    until = day + timedelta(days=plan.hypercare_days)
    if plan.hypercare_until is None or until > plan.hypercare_until:
        plan.hypercare_until = until
        plan.save(update_fields=["hypercare_until"])
    return plan


# ---------------------------------------------------------------------------- routing


def _newly_linked(ticket: Ticket) -> bool:
    """Whether the ticket's latest link changed its project (not only its milestone)."""
    changes = (
        ticket.events.filter(kind=TicketEvent.Kind.CHANGE, changes__has_key="project")
        .order_by("-id")
        .values_list("changes", flat=True)
        .first()
    )
    if not changes:
        return True
    old, new = (changes.get("project") or [None, None])[:2]
    return old != new


def _tag_names(ticket: Ticket) -> list[str]:
    return list(ticket.tags.values_list("name", flat=True))


def route_linked_ticket(ticket_id: int, today: date | None = None) -> str:
    """Send a ticket newly linked to a live project where the handover says: during
    hypercare to the second line (tagged "hypercare"), after it to the support queue.
    Returns what was done: "hypercare", "support" or "" (nothing)."""
    from helpdesk.services import ticket_move, ticket_update

    ticket = (
        Ticket.objects.select_related("queue")
        .filter(pk=ticket_id, merged_into__isnull=True, project__isnull=False)
        .exclude(status__in=Ticket.CLOSED_STATUSES)
        .first()
    )
    if ticket is None:
        return ""
    plan = (
        HandoverPlan.objects.select_related("support_queue", "second_line_queue")
        .filter(project_id=ticket.project_id, hypercare_until__isnull=False)
        .first()
    )
    if plan is None or not _newly_linked(ticket):
        return ""
    # The project's own intake ticket is the help desk's conversation with the team.
    if ProjectDesk.objects.filter(project_id=ticket.project_id, intake_ticket=ticket).exists():
        return ""
    in_hypercare = plan.in_hypercare(today or timezone.localdate())
    target = plan.second_line_queue if in_hypercare else plan.support_queue
    with transaction.atomic():
        if target is not None and ticket.queue_id != target.pk:
            ticket = ticket_move(ticket=ticket, queue=target, actor=None)
        if in_hypercare:
            names = _tag_names(ticket)
            if HYPERCARE_TAG not in names:
                ticket_update(ticket=ticket, actor=None, version=None, tags=[*names, HYPERCARE_TAG])
    if in_hypercare:
        return "hypercare"
    return "support" if target is not None else ""


@receiver(ticket_linked, dispatch_uid="liaison.handover.route_on_link")
def route_on_link(sender, ticket, **kwargs):
    """Sent on commit by helpdesk.services.ticket_link. A failure here must not turn the
    agent's committed link into an error page: it is logged, and the ticket stays where
    the agent put it."""
    try:
        route_linked_ticket(ticket.pk)
    except Exception:
        logger.exception("Routing ticket %s after its link failed", ticket.pk)


def hypercare_end(plan: HandoverPlan) -> int:
    """Hypercare is over: the project's open hypercare tickets still in the second line
    go to the support queue, and every open ticket loses the "hypercare" tag. Safe to run
    again (it only looks at tagged tickets). Returns how many tickets moved."""
    from helpdesk.services import ticket_move, ticket_update

    if plan.support_queue_id is None:
        logger.warning("Hypercare of %s is over but no support queue is named", plan.project_id)
        return 0
    support_queue = plan.support_queue
    ids = list(
        Ticket.objects.open()
        .filter(project_id=plan.project_id, merged_into__isnull=True, tags__name=HYPERCARE_TAG)
        .values_list("pk", flat=True)
    )
    moved = 0
    for ticket_id in ids:
        with transaction.atomic():
            ticket = Ticket.objects.select_related("queue").get(pk=ticket_id)
            if (
                plan.second_line_queue_id is not None
                and ticket.queue_id == plan.second_line_queue_id
                and ticket.queue_id != support_queue.pk
            ):
                ticket = ticket_move(ticket=ticket, queue=support_queue, actor=None)
                moved += 1
            names = [name for name in _tag_names(ticket) if name != HYPERCARE_TAG]
            ticket_update(ticket=ticket, actor=None, version=None, tags=names)
    return moved


@shared_task(name="liaison.handover.end_hypercare", ignore_result=True)
def end_hypercare() -> int:
    """Daily (beat): finish every hypercare that is over. Returns tickets moved."""
    today = timezone.localdate()
    tagged = (
        Ticket.objects.open()
        .filter(project_id=OuterRef("project_id"), tags__name=HYPERCARE_TAG)
        .values("pk")
    )
    plans = (
        HandoverPlan.objects.filter(hypercare_until__lt=today)
        .filter(Exists(tagged))
        .select_related("support_queue")
    )
    return sum(hypercare_end(plan) for plan in plans)


# ---------------------------------------------------------------------------- closing


def close_refusals(project: Project, today: date | None = None) -> list[str]:
    """Why the project may not be closed yet; empty when it may."""
    plan = HandoverPlan.objects.filter(project=project).first()
    reasons = []
    if plan is not None and plan.in_hypercare(today or timezone.localdate()):
        reasons.append(
            f"Hypercare runs until {human_date(plan.hypercare_until)}: the project can be "
            "closed once it is over."
        )
    if plan is None or plan.signed_off_at is None:
        reasons.append(
            "The handover to support is not signed off: the support lead signs it off on "
            "the project's Handover page."
        )
    return reasons


@receiver(project_closing, dispatch_uid="liaison.handover.refuse_early_close")
def refuse_early_close(sender, project, **kwargs):
    """Sent by projects.services.project_update before a project is marked done."""
    reasons = close_refusals(project)
    if reasons:
        raise ValidationError({"status": reasons})


def people_for_criteria():
    """Who may own a criterion: agents and project managers."""
    from config.roles import AGENTS, PROJECT_MANAGERS
    from projects.forms import people_with_roles

    return people_with_roles(AGENTS, PROJECT_MANAGERS)
