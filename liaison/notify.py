"""Keeping people informed: subscriber mail, webhooks and the Monday digest.

Receivers (connected when LiaisonConfig.ready imports this module):
- `event_applied` (a plan change reached the help desk): webhook deliveries are created
  and sent, and subscribers of the project are mailed about status updates, milestone
  moves and go-lives.
- `ticket_created` / `ticket_resolved`: webhook deliveries.
Receivers run after commit and never raise: what they could not do, `sweep_notifications`
(beat) does later, because every step leaves a durable mark.

Once, however often a task runs: each mail claims a `SentNotice` key in the transaction
that sends it ("subscriber:<subscription>:project-event:<event>", "digest:<user>:<week>");
a redelivered task finds the key and sends nothing, and a failed send rolls the claim back
so the retry sends it. When an event's fan-out is done it is marked too
("subscribers:project-event:<id>", "webhooks:project-event:<id>"), which is what the sweep
looks for.

What subscribers read: status updates (health and summary), milestone moves (name, old and
new date, baseline and reason) and go-lives. Slip reasons are included: the status page
shows each slip with its reason to the same readers, and a subscriber is only mailed while
they may read that page (`subscriptions.audience`). The help desk's own paired go-live
milestone is not announced: it moves in step with the go-live, which is. A move that a
later move has already overtaken (a dead letter retried late) is not mailed: subscribers
hear only the current plan.
"""

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.utils import formataddr, parseaddr

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Q, Value
from django.db.models.functions import Cast, Concat
from django.dispatch import receiver
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from config.queueing import enqueue
from helpdesk.mail import mail_domain, new_message_id
from helpdesk.signals import ticket_created, ticket_resolved
from helpdesk.tasks import MAIL_RETRY
from liaison import subscriptions, webhooks
from liaison.briefing import human_date
from liaison.models import SentNotice, Subscription
from liaison.signals import event_applied
from projects.models import Milestone, MilestoneSlip, Project, ProjectEvent, StatusUpdate

logger = logging.getLogger(__name__)

Kind = ProjectEvent.Kind
SUBSCRIBER_KINDS = (Kind.STATUS_UPDATE_PUBLISHED, Kind.MILESTONE_RESCHEDULED, Kind.GO_LIVE_REACHED)
WEBHOOK_KINDS = (Kind.MILESTONE_RESCHEDULED, Kind.STATUS_UPDATE_PUBLISHED, Kind.PROJECT_CHANGED)
# The sweep re-drives fan-outs of events applied this long ago at most: later news is stale.
SWEEP_WINDOW = timedelta(hours=24)
# … and leaves events applied less than this long ago to their own tasks.
SWEEP_GRACE = timedelta(minutes=2)
DIGEST_SUMMARY_CHARS = 600
# The marks this module writes are kept this long, long past any retry or sweep of what
# they mark, then pruned weekly so the table does not grow for ever.
NOTICE_RETENTION = timedelta(days=180)
NOTICE_PREFIXES = ("subscriber:", "subscribers:", "webhooks:", "subscription-mail:", "digest:")
HEALTH_ORDER = {
    Project.Health.OFF_TRACK: 0,
    Project.Health.AT_RISK: 1,
    Project.Health.ON_HOLD: 2,
    Project.Health.ON_TRACK: 3,
}


def subscribers_done_key(event_id: int) -> str:
    return f"subscribers:project-event:{event_id}"


def webhooks_done_key(event_id: int) -> str:
    return f"webhooks:project-event:{event_id}"


def _mark(key: str) -> None:
    SentNotice.objects.bulk_create([SentNotice(key=key)], ignore_conflicts=True)


# ---------------------------------------------------------------------------- receivers


@receiver(event_applied, dispatch_uid="liaison.notify.event_applied")
def on_event_applied(sender, event, **kwargs):
    """A plan change is applied (sent on commit): webhooks now, subscriber mail by task."""
    if event.kind in WEBHOOK_KINDS:
        try:
            project_event_webhooks(event)
        except Exception:  # the sweep tries again; the publisher must not fail for this
            logger.exception("webhook fan-out of project event %s failed", event.pk)
    if event.kind in SUBSCRIBER_KINDS:
        enqueue(send_subscriber_updates, event.pk)


@receiver(ticket_created, dispatch_uid="liaison.notify.ticket_created")
def on_ticket_created(sender, ticket, **kwargs):
    _ticket_webhooks(ticket, webhooks.Event.TICKET_CREATED)


@receiver(ticket_resolved, dispatch_uid="liaison.notify.ticket_resolved")
def on_ticket_resolved(sender, ticket, **kwargs):
    _ticket_webhooks(ticket, webhooks.Event.TICKET_RESOLVED)


def _ticket_webhooks(ticket, event: str) -> None:
    # Runs after the ticket's transaction committed, usually in a request: a failure here
    # is logged, never shown to the person who saved the ticket.
    try:
        webhooks.ticket_fan_out(ticket, event)
    except Exception:
        logger.exception("webhook fan-out of %s for ticket %s failed", event, ticket.pk)


def project_event_webhooks(event: ProjectEvent) -> int:
    """The webhook deliveries of one applied event, then the mark that they exist."""
    if SentNotice.objects.filter(key=webhooks_done_key(event.pk)).exists():
        return 0
    event = ProjectEvent.objects.select_related("project").filter(pk=event.pk).first()
    if event is None:
        return 0  # deleted with its project
    created = webhooks.project_event_fan_out(event)
    _mark(webhooks_done_key(event.pk))
    return created


# ---------------------------------------------------------------------------- mail


def _from_address(name: str) -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return formataddr((" ".join(name.split())[:100], address))


def automatic_email(
    *, subject: str, body: str, sender: str, to: str, headers=None, connection=None
) -> EmailMessage:
    """A mail no person wrote: its own Message-ID, and the RFC 3834 headers that keep
    auto-responders from answering it."""
    return EmailMessage(
        subject=" ".join(subject.split()),
        body=body,
        from_email=_from_address(sender),
        to=[to],
        headers={
            "Message-ID": new_message_id(),
            **(headers or {}),
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
        },
        connection=connection,
    )


def status_page_url(project: Project) -> str:
    return settings.SITE_URL + reverse("liaison:status_page", args=[project.slug])


def subscriber_email(
    subscription: Subscription, *, subject: str, template: str, context: dict, connection=None
) -> EmailMessage:
    """A mail to one subscriber: its own one-click unsubscribe link in the body and in
    the List-Unsubscribe headers (RFC 2369, RFC 8058)."""
    project = subscription.project
    unsubscribe = subscriptions.unsubscribe_url(subscription)
    context = {
        **context,
        "project": project,
        "subscription": subscription,
        "status_url": status_page_url(project),
        "unsubscribe_url": unsubscribe,
    }
    headers = {
        "List-Id": f"{' '.join(project.name.split())[:80]} status "
        f"<{project.slug}.status.{mail_domain()}>",
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return automatic_email(
        subject=subject,
        body=render_to_string(template, context),
        sender=f"{project.name} status",
        to=subscription.email,
        headers=headers,
        connection=connection,
    )


@shared_task(name="liaison.notify.send_subscription_mail", ignore_result=True, **MAIL_RETRY)
def send_subscription_mail(subscription_id: int, window: int) -> bool:
    """The one mail a subscribe request sends: the confirmation link, or, to an address
    already subscribed, a note saying so with its unsubscribe link. At most one per
    subscription and mail window, so a flood of requests is one mail."""
    with transaction.atomic():
        subscription = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("project")
            .filter(pk=subscription_id)
            .first()
        )
        if subscription is None:
            return False
        _, claimed = SentNotice.objects.get_or_create(
            key=f"subscription-mail:{subscription.pk}:{window}"
        )
        if not claimed:
            return False
        project = subscription.project
        if subscription.active:
            subscriber_email(
                subscription,
                subject=f"You already follow {project.name}",
                template="liaison/email/subscriber_already.txt",
                context={},
            ).send()
            return True
        context = {
            "project": project,
            "confirm_url": subscriptions.confirm_url(subscription),
            "valid_days": subscriptions.CONFIRM_MAX_AGE // 86400,
            "status_url": status_page_url(project),
        }
        automatic_email(
            subject=f"Confirm: updates about {project.name}",
            body=render_to_string("liaison/email/subscriber_confirm.txt", context),
            sender=f"{project.name} status",
            to=subscription.email,
        ).send()
    return True


@dataclass
class Announcement:
    """What subscribers are told of one event: the same for each of them."""

    subject: str
    template: str
    context: dict = field(default_factory=dict)


def announcement_for(event: ProjectEvent) -> Announcement | None:
    """The news in an applied event for subscribers, or None if there is none to tell."""
    project = event.project
    p = event.payload
    tag = f"[{project.key}]"
    if event.kind == Kind.STATUS_UPDATE_PUBLISHED:
        update = StatusUpdate.objects.filter(pk=p.get("status_update")).first()
        if update is None:
            return None
        old = p.get("old_health")
        changed = bool(old) and old != update.health
        return Announcement(
            subject=f"{tag} Status update: {update.get_health_display()}",
            template="liaison/email/subscriber_status_update.txt",
            context={
                "update": update,
                "old_health": Project.Health(old).label if changed else "",
                "published": timezone.localtime(update.created_at).date(),
            },
        )
    if event.kind == Kind.MILESTONE_RESCHEDULED:
        milestone = Milestone.objects.filter(pk=p.get("milestone")).first()
        if (
            milestone is None
            or milestone.kind == Milestone.Kind.HELPDESK_GO_LIVE
            or milestone.completed_at is not None
            or milestone.target_date.isoformat() != p.get("new_date")
        ):
            return None  # gone, the help desk's own, done, or overtaken by a later move
        old, new = date.fromisoformat(p["old_date"]), date.fromisoformat(p["new_date"])
        word = "moved to" if new > old else "brought forward to"
        return Announcement(
            subject=f"{tag} {milestone.name} {word} {human_date(new)}",
            template="liaison/email/subscriber_milestone_moved.txt",
            context={
                "milestone": milestone,
                "old_date": old,
                "new_date": new,
                "days": (new - old).days,
                "abs_days": abs((new - old).days),
                "later": new > old,
                "baseline_date": milestone.baseline_date,
                "slip_days": (new - milestone.baseline_date).days,
                "reason": p.get("reason", ""),
            },
        )
    if event.kind == Kind.GO_LIVE_REACHED:
        completed = p.get("completed_at")
        moment = timezone.datetime.fromisoformat(completed) if completed else event.created_at
        return Announcement(
            subject=f"{tag} {project.name} is live",
            template="liaison/email/subscriber_go_live.txt",
            context={"milestone_name": p.get("name", ""), "live_on": timezone.localtime(moment)},
        )
    return None


def subscriber_key(subscription_id: int, event_id: int) -> str:
    return f"subscriber:{subscription_id}:project-event:{event_id}"


@shared_task(name="liaison.notify.send_subscriber_updates", ignore_result=True, **MAIL_RETRY)
def send_subscriber_updates(event_id: int) -> int:
    """Mail every active subscriber who may read the page about one applied event, each
    once. Returns how many mails went out."""
    if SentNotice.objects.filter(key=subscribers_done_key(event_id)).exists():
        return 0
    event = (
        ProjectEvent.objects.select_related("project")
        .filter(pk=event_id, published_at__isnull=False)
        .first()
    )
    if event is None:
        return 0
    sent = 0
    announcement = announcement_for(event) if event.kind in SUBSCRIBER_KINDS else None
    if announcement is not None:
        readers = list(subscriptions.audience(event.project))
        keys = {subscriber_key(s.pk, event.pk) for s in readers}
        done = set(SentNotice.objects.filter(key__in=keys).values_list("key", flat=True))
        connection = get_connection()
        try:
            for subscription in readers:
                key = subscriber_key(subscription.pk, event.pk)
                if key in done:
                    continue
                subscription.project = event.project
                with transaction.atomic():
                    # Claim, send, commit: of two runs one sends; a failed send rolls the
                    # claim back and the task's retry sends it.
                    _, claimed = SentNotice.objects.get_or_create(key=key)
                    if not claimed:
                        continue
                    subscriber_email(
                        subscription,
                        subject=announcement.subject,
                        template=announcement.template,
                        context=announcement.context,
                        connection=connection,
                    ).send()
                sent += 1
        finally:
            connection.close()
    _mark(subscribers_done_key(event.pk))
    return sent


# ---------------------------------------------------------------------------- the sweep


def _unmarked(events, prefix: str):
    marker = Concat(Value(prefix), Cast("pk", CharField()), output_field=CharField())
    return events.annotate(marker=marker).filter(
        ~Exists(SentNotice.objects.filter(key=OuterRef("marker")))
    )


@shared_task(name="liaison.notify.sweep_notifications", ignore_result=True)
def sweep_notifications() -> int:
    """Re-drive what a lost task or a crashed receiver left undone: the webhook fan-out
    and subscriber mail of events applied in the last day. Returns how many events."""
    now = timezone.now()
    recent = ProjectEvent.objects.filter(
        published_at__gte=now - SWEEP_WINDOW, published_at__lte=now - SWEEP_GRACE
    ).order_by("id")
    count = 0
    for event in _unmarked(recent.filter(kind__in=WEBHOOK_KINDS), "webhooks:project-event:"):
        try:
            project_event_webhooks(event)
        except Exception:
            logger.exception("webhook fan-out of project event %s failed again", event.pk)
        count += 1
    mail = _unmarked(recent.filter(kind__in=SUBSCRIBER_KINDS), "subscribers:project-event:")
    for event_id in mail.values_list("pk", flat=True):
        enqueue(send_subscriber_updates, event_id)
        count += 1
    return count


# ---------------------------------------------------------------------------- digest


def week_key(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def digest_key(user_id: int, week: str) -> str:
    return f"digest:{user_id}:{week}"


def digest_candidates():
    """Projects a digest can be about: running, not archived."""
    return Project.objects.active().filter(archived_at__isnull=True)


@dataclass
class DigestProject:
    project: Project
    update: StatusUpdate | None
    summary: str
    milestone: Milestone | None
    slips: list[MilestoneSlip]
    status_url: str


def _shorten(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip() + " …"


def digest_for(user) -> list[DigestProject]:
    """The user's projects as a stakeholder (only those whose status page they may read),
    worst health first: a fixed handful of queries, however many projects."""
    projects = list(
        digest_candidates()
        .filter(pk__in=Project.objects.visible_to(user).filter(stakeholders=user).values("pk"))
        .order_by("name", "id")
    )
    if not projects:
        return []
    ids = [project.pk for project in projects]
    latest = {
        update.project_id: update
        for update in StatusUpdate.objects.filter(project_id__in=ids)
        .order_by("project_id", "-created_at", "-id")
        .distinct("project_id")
    }
    upcoming: dict[int, Milestone] = {}
    milestones = (
        Milestone.objects.filter(project_id__in=ids, completed_at__isnull=True)
        .exclude(kind=Milestone.Kind.HELPDESK_GO_LIVE)
        .order_by("project_id", "id")
    )
    for milestone in milestones:
        best = upcoming.get(milestone.project_id)
        if best is None or (milestone.expected_date, milestone.pk) < (best.expected_date, best.pk):
            upcoming[milestone.project_id] = milestone
    week_ago = timezone.now() - timedelta(days=7)
    slips: dict[int, list[MilestoneSlip]] = {}
    for slip in (
        MilestoneSlip.objects.filter(milestone__project_id__in=ids, created_at__gte=week_ago)
        .exclude(milestone__kind=Milestone.Kind.HELPDESK_GO_LIVE)
        .select_related("milestone")
        .order_by("created_at", "id")
    ):
        slips.setdefault(slip.milestone.project_id, []).append(slip)
    rows = [
        DigestProject(
            project=project,
            update=latest.get(project.pk),
            summary=_shorten(latest[project.pk].summary, DIGEST_SUMMARY_CHARS)
            if project.pk in latest
            else "",
            milestone=upcoming.get(project.pk),
            slips=slips.get(project.pk, []),
            status_url=status_page_url(project),
        )
        for project in projects
    ]
    rows.sort(key=lambda row: (HEALTH_ORDER.get(row.project.health, 9), row.project.name))
    return rows


def digest_subject(rows: list[DigestProject], today: date) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        label = row.project.get_health_display().lower()
        counts[label] = counts.get(label, 0) + 1
    health = ", ".join(f"{n} {label}" for label, n in counts.items())
    noun = "project" if len(rows) == 1 else "projects"
    return f"Your {noun} this week ({today:%-d %b}): {health}"


@shared_task(name="liaison.notify.send_digest", ignore_result=True, **MAIL_RETRY)
def send_digest(user_id: int, week: str) -> bool:
    """One stakeholder's Monday digest for `week`, at most once. Returns whether sent."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).exclude(email="").first()
    if user is None:
        return False
    today = timezone.localdate()
    rows = digest_for(user)
    if not rows:
        return False
    with transaction.atomic():
        _, claimed = SentNotice.objects.get_or_create(key=digest_key(user.pk, week))
        if not claimed:
            return False
        body = render_to_string(
            "liaison/email/digest.txt",
            {
                "user": user,
                "name": user.get_full_name() or user.get_username(),
                "rows": rows,
                "today": today,
                "week_ago": today - timedelta(days=7),
                "status_index_url": settings.SITE_URL + reverse("liaison:status_index"),
            },
        )
        automatic_email(
            subject=digest_subject(rows, today), body=body, sender="Bridgedesk", to=user.email
        ).send()
    return True


@shared_task(name="liaison.notify.send_weekly_digests", ignore_result=True)
def send_weekly_digests(week: str | None = None) -> int:
    """Monday morning (beat runs it hourly through the morning, so an outage at seven
    delays the digest, not loses it): one digest task per stakeholder who has not had
    this week's. Returns how many were enqueued."""
    week = week or week_key(timezone.localdate())
    User = get_user_model()
    marker = Concat(
        Value("digest:"), Cast("pk", CharField()), Value(f":{week}"), output_field=CharField()
    )
    user_ids = list(
        User.objects.filter(
            is_active=True, stakeholder_projects__in=digest_candidates().values("pk")
        )
        .exclude(email="")
        .annotate(marker=marker)
        .filter(~Exists(SentNotice.objects.filter(key=OuterRef("marker"))))
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()
    )
    for user_id in user_ids:
        enqueue(send_digest, user_id, week)
    prune_notices()
    return len(user_ids)


def prune_notices() -> int:
    """Forget this module's marks older than NOTICE_RETENTION (others' are left alone)."""
    old = SentNotice.objects.filter(sent_at__lt=timezone.now() - NOTICE_RETENTION)
    mine = Q()
    for prefix in NOTICE_PREFIXES:
        mine |= Q(key__startswith=prefix)
    deleted, _ = old.filter(mine).delete()
    return deleted
