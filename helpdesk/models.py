"""Reactive work: queues, contacts, tickets and the one timeline of each ticket."""

import secrets
import string

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import BooleanField, Count, F, Func, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse

from projects.models import KEY_VALIDATOR


def new_secret() -> str:
    """256 random bits, URL-safe: the key of a requester's link `/t/<secret>/`."""
    return secrets.token_urlsafe(32)


class QueueQuerySet(models.QuerySet):
    def visible_to(self, user):
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self.all()
        return self.filter(members=user)

    def with_open_counts(self):
        """Annotate `open_count`: one small subquery per queue served by the partial
        index of open tickets, so the cost follows open tickets, not the whole table."""
        open_tickets = (
            Ticket.objects.open()
            .filter(queue=OuterRef("pk"))
            .order_by()
            .values("queue")
            # count(*), not count(id): an index-only scan of the open-ticket index.
            .annotate(count=Count("*"))
            .values("count")
        )
        return self.annotate(open_count=Coalesce(Subquery(open_tickets), 0))


class Queue(models.Model):
    """A line of work agents share, e.g. "Service desk"; tickets are numbered per queue."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50, unique=True)
    key = models.CharField(
        max_length=10,
        unique=True,
        validators=[KEY_VALIDATOR],
        help_text="Prefix of ticket references, e.g. SD for SD-42.",
    )
    description = models.TextField(blank=True)
    is_public = models.BooleanField(
        default=False, help_text="Callers may submit tickets through the public web form."
    )
    inbound_address = models.EmailField(
        blank=True, help_text="Mail sent to this address becomes a ticket in this queue."
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="helpdesk_queues"
    )
    default_sla_policy = models.ForeignKey(
        "SLAPolicy",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Targets for new tickets in this queue; none means no SLA.",
    )
    projects = models.ManyToManyField(
        "projects.Project",
        blank=True,
        related_name="queues",
        help_text="Projects whose plan changes agents of this queue must hear about.",
    )
    # The next ticket number; taken with an UPDATE … RETURNING so numbers never repeat.
    next_number = models.PositiveIntegerField(default=1, editable=False)

    objects = QueueQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["inbound_address"],
                condition=~Q(inbound_address=""),
                name="queue_unique_inbound_address",
            )
        ]

    def __str__(self):
        return self.name


class Contact(models.Model):
    """A requester known by e-mail address; needs no login."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    organisation = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return f"{self.name} <{self.email}>" if self.name else self.email

    def save(self, *args, **kwargs):
        # One contact per mailbox whatever the caller's capitalisation.
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)


class _EqualsAny(Func):
    """`<value> = ANY(<array>)`, a condition."""

    template = "%(expressions)s)"
    arg_joiner = " = ANY("
    output_field = BooleanField()


class TicketQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Tickets `user` may read: those in queues they are a member of."""
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self.all()
        # A semi-join on the agent's queues rather than a join through the members table:
        # the planner's work stays small however many other filters the list adds.
        return self.filter(queue__in=Queue.objects.filter(members=user).values("pk"))

    def open(self):
        return self.exclude(status__in=Ticket.CLOSED_STATUSES)

    def awake(self, now):
        """Not snoozed: no snooze date in the future, no unfinished milestone to wait for."""
        from projects.models import Milestone

        completed = Milestone.objects.filter(completed_at__isnull=False).values("pk")
        return self.filter(
            Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now),
            Q(snoozed_until_milestone__isnull=True) | Q(snoozed_until_milestone__in=completed),
        )

    def tagged(self, name: str):
        """Tickets carrying the tag `name`, as `id = ANY(ARRAY(<the tag's ticket ids>))`.

        Joined to the tag instead, the planner walks the tickets newest first looking for
        the tag, which for a tag on a few old tickets means reading every ticket (0.7 s
        warm, over a minute cold, at a million). An array of ids is a condition on the
        primary key itself: the walk visits just the tag's tickets, newest first, and stops
        at a page whether the tag is on thirty tickets or on twenty thousand."""
        ticket_ids = Ticket.tags.through.objects.filter(tag__name=name).values("ticket_id")
        return self.filter(_EqualsAny(F("pk"), ArraySubquery(ticket_ids)))

    def with_list_columns(self):
        return self.select_related("queue", "requester", "assignee")


class Ticket(models.Model):
    """One request or incident from a caller, worked in one queue."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        OPEN = "open", "Open"
        PENDING = "pending", "Pending"
        ON_HOLD = "on_hold", "On hold"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    class Priority(models.TextChoices):
        P1 = "P1", "P1 · Critical"
        P2 = "P2", "P2 · High"
        P3 = "P3", "P3 · Normal"
        P4 = "P4", "P4 · Low"

    class Type(models.TextChoices):
        INCIDENT = "incident", "Incident"
        REQUEST = "request", "Request"
        PROBLEM = "problem", "Problem"
        QUESTION = "question", "Question"

    class Source(models.TextChoices):
        WEB = "web", "Web form"
        EMAIL = "email", "E-mail"
        PHONE = "phone", "Phone"
        API = "api", "API"

    CLOSED_STATUSES = (Status.RESOLVED, Status.CLOSED)

    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="tickets")
    number = models.PositiveIntegerField(editable=False)
    subject = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    requester = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="tickets")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(max_length=2, choices=Priority.choices, default=Priority.P3)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.INCIDENT)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEB)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
    )
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    milestone = models.ForeignKey(
        "projects.Milestone",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    secret = models.CharField(max_length=64, unique=True, default=new_secret, editable=False)
    version = models.PositiveIntegerField(default=1, help_text="Raised on every edit.")
    first_response_due = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(
        null=True, blank=True, help_text="When the caller was sent the acknowledgement."
    )
    tags = models.ManyToManyField("Tag", blank=True, related_name="tickets")
    sla_policy = models.ForeignKey(
        "SLAPolicy", on_delete=models.SET_NULL, null=True, blank=True, related_name="tickets"
    )
    # While pending or on hold the resolution clock stands still; on resuming, the business
    # time it stood still is added to resolution_due.
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    sla_paused_seconds = models.PositiveIntegerField(default=0)
    sla_warned_at = models.DateTimeField(null=True, blank=True)
    first_response_breached_at = models.DateTimeField(null=True, blank=True)
    resolution_breached_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(
        null=True, blank=True, help_text="Hidden from triage until then."
    )
    snoozed_until_milestone = models.ForeignKey(
        "projects.Milestone",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="snoozed_tickets",
        help_text="Hidden from triage until this milestone is completed.",
    )
    keep_requester_informed = models.BooleanField(
        default=False,
        help_text="E-mail the caller when the linked project's plan changes.",
    )
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_from"
    )
    # Subject, description and replies; kept current by the services that write them.
    search_vector = SearchVectorField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["queue", "number"], name="ticket_number_per_queue"),
            models.CheckConstraint(
                condition=~Q(merged_into=F("id")), name="ticket_not_merged_into_itself"
            ),
        ]
        indexes = [
            models.Index(fields=["queue", "status", "-created_at"]),
            models.Index(fields=["assignee", "status"]),
            # Open tickets are few next to all tickets ever: queue counts read only them.
            models.Index(
                fields=["queue"],
                condition=~Q(status__in=["resolved", "closed"]),
                name="ticket_open_by_queue",
            ),
            GinIndex(fields=["search_vector"], name="ticket_search"),
            # Open tickets only: the sorts and the "next ticket" pick read these, never the
            # closed history that makes up most of the table.
            models.Index(
                fields=["resolution_due", "id"],
                condition=~Q(status__in=["resolved", "closed"]),
                name="ticket_open_by_due",
            ),
            models.Index(
                fields=["priority", "id"],
                condition=~Q(status__in=["resolved", "closed"]),
                name="ticket_open_by_priority",
            ),
            # The default triage order: with a selective filter (a tag on few tickets, a
            # rare type) the newest-first walk then reads only the open tickets.
            models.Index(
                fields=["id"],
                condition=~Q(status__in=["resolved", "closed"]),
                name="ticket_open_newest",
            ),
            models.Index(
                fields=["first_response_due"],
                condition=~Q(status__in=["resolved", "closed"]) & Q(first_response_at__isnull=True),
                name="ticket_awaiting_first_reply",
            ),
            models.Index(
                fields=["priority", "resolution_due", "created_at", "id"],
                condition=~Q(status__in=["resolved", "closed"])
                & Q(assignee__isnull=True, merged_into__isnull=True),
                name="ticket_next_up",
            ),
        ]

    def __str__(self):
        return f"{self.reference} {self.subject}"

    def get_absolute_url(self):
        return reverse("helpdesk:ticket", args=[self.pk])

    @property
    def reference(self) -> str:
        """`SD-42`. Reads the queue, so list views select_related("queue")."""
        return f"{self.queue.key}-{self.number}"

    @property
    def is_open(self) -> bool:
        return self.status not in self.CLOSED_STATUSES

    def get_requester_url(self):
        return reverse("helpdesk:requester_ticket", args=[self.secret])


class TicketEvent(models.Model):
    """One entry of a ticket's timeline and audit trail. Written only by services."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        REPLY = "reply", "Public reply"
        NOTE = "note", "Internal note"
        STATUS = "status", "Status change"
        ASSIGNMENT = "assignment", "Assignment"
        CHANGE = "change", "Change"
        CALL = "call", "Phone call"
        MERGE = "merge", "Merge"
        RATING = "rating", "Rating"
        SYSTEM = "system", "System note"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    body = models.TextField(blank=True)
    public = models.BooleanField(
        default=False, help_text="Shown to the requester. Internal notes never are."
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The agent; empty for the requester and for the system.",
    )
    author_contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # What a change event changed: {"field": [old, new], ...}.
    changes = models.JSONField(default=dict, blank=True)
    # The Message-ID of the e-mail this event came in as or went out as, for threading.
    message_id = models.CharField(max_length=255, blank=True, db_index=True)
    # What wrote a system event, e.g. "project-event:42": one event per ticket per source,
    # so a note inserted for a plan change twice (a retried task) lands once.
    source_key = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="note") | Q(public=False), name="ticketevent_note_never_public"
            ),
            models.UniqueConstraint(
                fields=["ticket", "source_key"],
                condition=~Q(source_key=""),
                name="ticketevent_source_once",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} on ticket {self.ticket_id}"

    CHANGE_LABELS = {
        "status": ("Status", dict(Ticket.Status.choices)),
        "priority": ("Priority", dict(Ticket.Priority.choices)),
        "type": ("Type", dict(Ticket.Type.choices)),
        "assignee": ("Assignee", {}),
        "tags": ("Tags", {}),
        "keep_requester_informed": ("Keep caller informed", {True: "yes", False: "no"}),
        "queue": ("Reference", {}),
    }

    def change_lines(self) -> list[str]:
        """What a change event changed, for people: ["Status: New → Pending", ...]."""
        lines = []
        for field, (old, new) in self.changes.items():
            if field not in self.CHANGE_LABELS:
                continue
            label, names = self.CHANGE_LABELS[field]

            def show(value, names=names):
                if isinstance(value, list):
                    return ", ".join(value) or "none"
                return names.get(value, value) if value is not None else "none"

            lines.append(f"{label}: {show(old)} → {show(new)}")
        return lines


class Tag(models.Model):
    """A label agents put on tickets, e.g. "vpn" or "new-starter"."""

    name = models.SlugField(max_length=50, unique=True, allow_unicode=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Attachment(models.Model):
    """A file sent with a ticket or reply; stored outside the web root, served only
    through the ticket's access check."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    event = models.ForeignKey(
        TicketEvent, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    file = models.FileField(upload_to="attachments/%Y/%m/")
    filename = models.CharField(max_length=255, help_text="The name the sender gave it.")
    content_type = models.CharField(max_length=100, help_text="Detected from the content.")
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return self.filename


class CannedResponseQuerySet(models.QuerySet):
    def for_agent(self, user, queue):
        """The shared responses for every queue or for `queue`, and the agent's own."""
        return self.filter(
            Q(owner__isnull=True, queue__isnull=True)
            | Q(owner__isnull=True, queue=queue)
            | Q(owner=user)
        )


class CannedResponse(models.Model):
    """A reusable reply; `${requester_name}`-style variables are filled in per ticket."""

    VARIABLES = {
        "requester_name": "the caller's name (or e-mail address)",
        "requester_first_name": "the caller's first name",
        "ticket_reference": "e.g. SD-42",
        "ticket_subject": "the ticket's subject",
        "agent_name": "your name",
    }

    title = models.CharField(max_length=100)
    body = models.TextField()
    queue = models.ForeignKey(
        Queue,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="canned_responses",
        help_text="Only for this queue's agents; empty for every queue.",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="A personal response; empty for a shared one.",
    )

    objects = CannedResponseQuerySet.as_manager()

    class Meta:
        ordering = ["title"]

    def __str__(self):
        return self.title

    def render(self, *, ticket, agent) -> str:
        """The body with its variables filled in; unknown ones are left as written, so a
        typo shows instead of vanishing."""
        requester_name = ticket.requester.name or ticket.requester.email
        values = {
            "requester_name": requester_name,
            "requester_first_name": requester_name.split()[0] if requester_name else "",
            "ticket_reference": ticket.reference,
            "ticket_subject": ticket.subject,
            "agent_name": agent.get_full_name() or agent.get_username(),
        }
        return string.Template(self.body).safe_substitute(values)


class SLAPolicy(models.Model):
    """First-response and resolution targets per priority, counted in a business calendar."""

    name = models.CharField(max_length=100, unique=True)
    calendar = models.ForeignKey(
        "bridgedesk.BusinessCalendar", on_delete=models.PROTECT, related_name="sla_policies"
    )
    warn_before_minutes = models.PositiveIntegerField(
        default=60, help_text="Warn the assignee this many business minutes before a breach."
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self):
        return self.name


class SLATarget(models.Model):
    """The targets of one policy for one priority, in business minutes."""

    policy = models.ForeignKey(SLAPolicy, on_delete=models.CASCADE, related_name="targets")
    priority = models.CharField(max_length=2, choices=Ticket.Priority.choices)
    first_response_minutes = models.PositiveIntegerField()
    resolution_minutes = models.PositiveIntegerField()

    class Meta:
        ordering = ["policy", "priority"]
        verbose_name = "SLA target"
        constraints = [
            models.UniqueConstraint(fields=["policy", "priority"], name="sla_target_per_priority")
        ]

    def __str__(self):
        return f"{self.policy} {self.priority}"


class SatisfactionRating(models.Model):
    """The caller's rating of a resolved ticket: 1 to 5 and a comment, once per ticket."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="rating")
    score = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=1, score__lte=5), name="rating_score_1_to_5"
            )
        ]

    def __str__(self):
        return f"{self.score}/5 for ticket {self.ticket_id}"


class SavedView(models.Model):
    """A named triage filter: the query string of /tickets/, personal or shared."""

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    shared = models.BooleanField(default=False, help_text="Every agent sees it.")
    query = models.CharField(max_length=1000, help_text="e.g. status=active&priority=P1")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class InboundMessage(models.Model):
    """One e-mail as it arrived, kept whatever happens to it, so nothing is ever lost:
    an admin can see why a message failed and process it again."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (auto-reply, bounce or duplicate)"
        FAILED = "failed", "Failed"

    class Source(models.TextChoices):
        WEBHOOK = "webhook", "Inbound webhook"
        FILE = "file", "File (.eml or mbox)"
        IMAP = "imap", "IMAP"

    raw = models.BinaryField(help_text="The message exactly as received.")
    source = models.CharField(max_length=10, choices=Source.choices)
    recipient = models.CharField(max_length=255, blank=True)
    message_id = models.CharField(max_length=255, blank=True, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_messages"
    )
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["status", "received_at"])]

    def __str__(self):
        return f"{self.message_id or 'message'} ({self.get_status_display()})"
