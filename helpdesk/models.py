"""Reactive work: queues, contacts, tickets and the one timeline of each ticket."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Count, OuterRef, Q, Subquery
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
            .annotate(count=Count("pk"))
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


class TicketQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Tickets `user` may read: those in queues they are a member of."""
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self.all()
        return self.filter(queue__members=user)

    def open(self):
        return self.exclude(status__in=Ticket.CLOSED_STATUSES)

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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["queue", "number"], name="ticket_number_per_queue"),
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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="note") | Q(public=False), name="ticketevent_note_never_public"
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} on ticket {self.ticket_id}"
