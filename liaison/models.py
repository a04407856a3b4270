"""The bridge's own records: what agents are told about projects, what callers were
promised, what the project team is asked, and how a project is handed over to support."""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q


class ProjectDesk(models.Model):
    """The help desk's side of one project: what the liaison wants agents to say, the
    intake ticket, and how far the project's event stream has been applied."""

    project = models.OneToOneField(
        "projects.Project", on_delete=models.CASCADE, related_name="desk"
    )
    tell_callers = models.TextField(
        blank=True,
        help_text="What agents should tell callers. Empty: generated from the plan.",
    )
    workaround = models.TextField(blank=True, help_text="What callers can do meanwhile.")
    workaround_public = models.BooleanField(
        default=False, help_text="Show the workaround on the status page as a known issue."
    )
    intake_ticket = models.ForeignKey(
        "helpdesk.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The highest ProjectEvent.sequence whose effects are applied: older events are no-ops.
    last_sequence = models.PositiveIntegerField(default=0, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Help desk side of {self.project}"


class Bulletin(models.Model):
    """What agents of one queue see about one project right now. Rewritten from the plan
    by every plan change; never edited by hand (the liaison edits ProjectDesk)."""

    queue = models.ForeignKey("helpdesk.Queue", on_delete=models.CASCADE, related_name="bulletins")
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="bulletins"
    )
    title = models.CharField(max_length=255)
    health = models.CharField(max_length=20)
    body = models.TextField(help_text="What to tell callers.")
    workaround = models.TextField(blank=True)
    public = models.BooleanField(default=False, help_text="Shown on the status page.")
    next_milestone = models.ForeignKey(
        "projects.Milestone", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    next_milestone_name = models.CharField(max_length=200, blank=True)
    forecast_date = models.DateField(null=True, blank=True)
    baseline_date = models.DateField(null=True, blank=True)
    # [{"old": "2026-12-01", "new": "2026-12-15", "reason": "…", "at": "…"}], newest first.
    slips = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True, help_text="Off when the project is finished.")
    # The ProjectEvent.sequence this bulletin reflects: an older event never overwrites it.
    sequence = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-updated_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["queue", "project"], name="bulletin_once_per_queue")
        ]
        indexes = [models.Index(fields=["queue", "-updated_at"], condition=Q(active=True),
                                name="bulletin_active_by_queue")]  # fmt: skip

    def __str__(self):
        return f"{self.queue}: {self.title}"

    @property
    def slip_days(self) -> int | None:
        if self.forecast_date and self.baseline_date:
            return (self.forecast_date - self.baseline_date).days
        return None


class Promise(models.Model):
    """A date an agent gave a caller, from the answer card: kept if the milestone is done
    by then. When the plan slips past it, the liaison can tell every such caller at once."""

    ticket = models.ForeignKey("helpdesk.Ticket", on_delete=models.CASCADE, related_name="promises")
    milestone = models.ForeignKey(
        "projects.Milestone", on_delete=models.CASCADE, related_name="promises"
    )
    promised_date = models.DateField()
    event = models.ForeignKey(
        "helpdesk.TicketEvent",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The reply that gave the date.",
    )
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    made_at = models.DateTimeField(auto_now_add=True)
    # When the caller was told the date no longer holds.
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-made_at", "-id"]
        indexes = [models.Index(fields=["milestone", "promised_date"])]

    def __str__(self):
        return f"{self.ticket_id}: {self.promised_date}"


class Question(models.Model):
    """An agent's question to a project team, raised from a ticket ("ask the project");
    the answer flows back to the ticket as an internal note."""

    ticket = models.ForeignKey(
        "helpdesk.Ticket", on_delete=models.CASCADE, related_name="project_questions"
    )
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="questions"
    )
    text = models.TextField()
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    due_at = models.DateTimeField()
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(
                fields=["project", "due_at"],
                condition=Q(answered_at__isnull=True),
                name="question_open_by_project",
            )
        ]

    def __str__(self):
        return self.text[:60]


DEFAULT_HYPERCARE_DAYS = 14


class HandoverPlan(models.Model):
    """How a project is handed to support: readiness criteria, the support lead's
    sign-off, and the hypercare window after go-live."""

    project = models.OneToOneField(
        "projects.Project", on_delete=models.CASCADE, related_name="handover"
    )
    support_queue = models.ForeignKey(
        "helpdesk.Queue",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Where the project's tickets go once hypercare ends.",
    )
    second_line_queue = models.ForeignKey(
        "helpdesk.Queue",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The project's second line: its new tickets go here during hypercare.",
    )
    hypercare_days = models.PositiveSmallIntegerField(default=DEFAULT_HYPERCARE_DAYS)
    hypercare_until = models.DateField(null=True, blank=True)
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [("sign_off_handover", "Can sign off a handover as support lead")]

    def __str__(self):
        return f"Handover of {self.project}"

    def in_hypercare(self, today: datetime.date) -> bool:
        return self.hypercare_until is not None and today <= self.hypercare_until


class HandoverCriterion(models.Model):
    """One thing that must be true before support takes the project over."""

    class Status(models.TextChoices):
        TODO = "todo", "To do"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        NOT_APPLICABLE = "not_applicable", "Not applicable"

    plan = models.ForeignKey(HandoverPlan, on_delete=models.CASCADE, related_name="criteria")
    name = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    evidence_url = models.URLField(blank=True, help_text="Where to see it is done.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.TODO)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.name


DEFAULT_CRITERIA = (
    "Runbook written",
    "Support owner accepted",
    "Agents trained",
    "Known issues loaded",
    "SLA agreed",
    "Escalation contacts named",
    "Monitoring in place",
)


class StatusLink(models.Model):
    """A signed link to a "stakeholders" status page for someone without an account;
    revoking it shuts the door at once."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="status_links"
    )
    label = models.CharField(max_length=100, help_text="Who it is for, e.g. “Finance leads”.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.project}: {self.label}"


class Subscription(models.Model):
    """An e-mail address that follows a project's status page (double opt-in)."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="subscriptions"
    )
    email = models.EmailField()
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "email"]
        constraints = [
            models.UniqueConstraint(fields=["project", "email"], name="subscription_once")
        ]

    def __str__(self):
        return f"{self.email} → {self.project}"

    @property
    def active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class Webhook(models.Model):
    """An outgoing webhook: a customer's URL told of chosen events, HMAC-signed."""

    class Event(models.TextChoices):
        MILESTONE_RESCHEDULED = "milestone.rescheduled"
        PROJECT_HEALTH_CHANGED = "project.health_changed"
        STATUS_UPDATE_PUBLISHED = "status_update.published"
        TICKET_CREATED = "ticket.created"
        TICKET_RESOLVED = "ticket.resolved"

    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="webhooks",
        help_text="Empty: every project (and every ticket).",
    )
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=128, help_text="Key of the HMAC-SHA256 signature.")
    events = models.JSONField(default=list, help_text="Event names this hook receives.")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.url

    def clean(self):
        """The target must be a public http(s) address (no SSRF into our own network),
        and the events ones we send."""
        from django.core.exceptions import ValidationError

        from liaison.webhooks import validate_webhook_url

        try:
            validate_webhook_url(self.url)
        except ValidationError as error:
            raise ValidationError({"url": error.messages}) from error
        unknown = set(self.events or ()) - set(self.Event.values)
        if unknown:
            raise ValidationError({"events": [f"Unknown events: {', '.join(sorted(unknown))}."]})


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one webhook: the delivery log."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    # What caused it, e.g. "project-event:42": one delivery per webhook per cause.
    source_key = models.CharField(max_length=64)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["webhook", "source_key"], name="webhookdelivery_once_per_cause"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhookdelivery_due",
            )
        ]

    def __str__(self):
        return f"{self.event} → {self.webhook}"


class SentNotice(models.Model):
    """A record that one notification went out, keyed by what it was about, e.g.
    "subscriber:12:project-event:40" or "digest:7:2026-W47": a retried task that finds
    its key here sends nothing, so nobody gets a mail twice."""

    key = models.CharField(max_length=120, unique=True)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at"]

    def __str__(self):
        return self.key
