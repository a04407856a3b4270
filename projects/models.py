"""Planned work: projects and their milestones. Knows nothing of the help desk."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from config.roles import is_staff_role

KEY_VALIDATOR = RegexValidator(
    r"^[A-Z][A-Z0-9]{1,9}$", "Use 2–10 capital letters or digits, starting with a letter."
)


class ProjectQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Projects `user` may read: all for agents and PMs; for anyone else the public
        ones and those whose status page they are a stakeholder of."""
        if not user.is_authenticated:
            return self.filter(visibility=Project.Visibility.PUBLIC)
        if is_staff_role(user):
            return self.all()
        return self.filter(
            Q(visibility=Project.Visibility.PUBLIC)
            | Q(visibility=Project.Visibility.STAKEHOLDERS, stakeholders=user)
        ).distinct()

    def active(self):
        return self.exclude(status__in=[Project.Status.DONE, Project.Status.CANCELLED])


class Project(models.Model):
    """A body of planned work with an owner, milestones and a status page."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        PLANNING = "planning", "Planning"
        ACTIVE = "active", "Active"
        ON_HOLD = "on_hold", "On hold"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    class Health(models.TextChoices):
        ON_TRACK = "on_track", "On track"
        AT_RISK = "at_risk", "At risk"
        OFF_TRACK = "off_track", "Off track"
        ON_HOLD = "on_hold", "On hold"

    class Visibility(models.TextChoices):
        PRIVATE = "private", "Private (project team only)"
        STAKEHOLDERS = "stakeholders", "Stakeholders"
        PUBLIC = "public", "Public"

    key = models.CharField(max_length=10, unique=True, validators=[KEY_VALIDATOR])
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True, help_text="Used in the status page URL.")
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="owned_projects",
        help_text="The project manager.",
    )
    liaison = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="liaison_projects",
        help_text="The agent who speaks for this project in the help desk.",
    )
    stakeholders = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="stakeholder_projects"
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="project_memberships",
        help_text="The project team: they plan and work the board.",
    )
    calendar = models.ForeignKey(
        "bridgedesk.BusinessCalendar",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="projects",
        help_text="Working days for forecasts; none means Monday to Friday.",
    )
    archived_at = models.DateTimeField(null=True, blank=True)
    keywords = models.CharField(
        max_length=300,
        blank=True,
        help_text="Words callers use for this project, e.g. “VPN, remote access”. Tickets "
        "that mention them, its key or its name are suggested for linking.",
    )
    # The last ProjectEvent.sequence handed out; taken with UPDATE … RETURNING, which also
    # holds the row until commit so a project's events commit in sequence order.
    event_sequence = models.PositiveIntegerField(default=0, editable=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROPOSED)
    health = models.CharField(max_length=20, choices=Health.choices, default=Health.ON_TRACK)
    visibility = models.CharField(
        max_length=20, choices=Visibility.choices, default=Visibility.STAKEHOLDERS
    )
    start_date = models.DateField(null=True, blank=True)
    target_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_date__isnull=True)
                | Q(target_date__isnull=True)
                | Q(target_date__gte=models.F("start_date")),
                name="project_target_after_start",
            )
        ]

    def __str__(self):
        return f"{self.key} · {self.name}"

    def get_absolute_url(self):
        return reverse("projects:detail", args=[self.key])


class Milestone(models.Model):
    """A dated commitment of a project: baseline (first promise), target (current plan)."""

    class Kind(models.TextChoices):
        REGULAR = "regular", "Milestone"
        GO_LIVE = "go_live", "Go-live"
        HELPDESK_GO_LIVE = "helpdesk_go_live", "Help desk go-live"
        HANDOVER = "handover", "Handover"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="milestones")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.REGULAR)
    baseline_date = models.DateField(help_text="The date first committed to; never moves.")
    target_date = models.DateField(help_text="The date currently planned.")
    forecast_date = models.DateField(
        null=True, blank=True, help_text="Computed from dependencies and progress."
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_milestones",
        help_text="Who answers for this date; the liaison for the help desk go-live.",
    )
    paired_go_live = models.OneToOneField(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="paired_helpdesk_go_live",
        help_text="For a help desk go-live: the go-live it prepares for and moves with.",
    )

    class Meta:
        ordering = ["target_date", "id"]
        indexes = [models.Index(fields=["project", "target_date"])]

    def __str__(self):
        return f"{self.project.key}: {self.name}"

    @property
    def expected_date(self):
        """The best current answer to "when?": the forecast when it is later than the
        target (work is running late), else the target (a planned date does not come
        early just because the work is done sooner)."""
        if self.forecast_date is None:
            return self.target_date
        return max(self.forecast_date, self.target_date)

    @property
    def slip_days(self) -> int:
        return (self.expected_date - self.baseline_date).days


class MilestoneSlip(models.Model):
    """One move of a milestone's target date: from, to, why and who."""

    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="slips")
    old_date = models.DateField()
    new_date = models.DateField()
    reason = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.milestone}: {self.old_date} → {self.new_date}"

    @property
    def days(self) -> int:
        return (self.new_date - self.old_date).days


class Column(models.Model):
    """A column of a project's board, e.g. "To do", with an optional WIP limit."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="columns")
    name = models.CharField(max_length=60)
    position = models.PositiveSmallIntegerField(default=0)
    wip_limit = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Warn when more cards than this are in the column."
    )
    is_done = models.BooleanField(default=False, help_text="Cards here count as finished.")

    class Meta:
        ordering = ["project", "position", "id"]

    def __str__(self):
        return self.name


class TaskQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(project__in=Project.objects.visible_to(user))


class Task(models.Model):
    """A card on the board: a piece of planned work with an estimate and dependencies."""

    # No single-column indexes: (project, milestone) and (column, rank) lead with these,
    # and every index less makes the scheduler's mass rewrite of forecasts cheaper.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="tasks", db_index=False
    )
    column = models.ForeignKey(
        Column, on_delete=models.PROTECT, related_name="tasks", db_index=False
    )
    milestone = models.ForeignKey(
        Milestone, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="project_tasks",
    )
    estimate_hours = models.DecimalField(max_digits=7, decimal_places=2, default=0)
    start_date = models.DateField(null=True, blank=True, help_text="Not before this day.")
    due_date = models.DateField(null=True, blank=True)
    labels = ArrayField(models.CharField(max_length=30), default=list, blank=True)
    # Order within a column as a string that sorts between its neighbours, so moving a
    # card writes that card alone (see projects.ranking). "C" collation: byte order.
    rank = models.CharField(max_length=64, db_collation="C")
    completed_at = models.DateTimeField(null=True, blank=True)
    # Computed by projects.scheduling; never typed by people.
    forecast_start = models.DateField(null=True, blank=True, editable=False)
    forecast_finish = models.DateField(null=True, blank=True, editable=False)
    is_critical = models.BooleanField(default=False, editable=False)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["column", "rank", "id"]
        indexes = [
            models.Index(fields=["column", "rank"]),
            models.Index(fields=["project", "milestone"]),
        ]

    def __str__(self):
        return self.title


class Dependency(models.Model):
    """`successor` depends on `predecessor`: finish-to-start and friends, with a lag."""

    class Type(models.TextChoices):
        FINISH_TO_START = "FS", "Finish to start"
        START_TO_START = "SS", "Start to start"
        FINISH_TO_FINISH = "FF", "Finish to finish"
        START_TO_FINISH = "SF", "Start to finish"

    predecessor = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="successor_links")
    successor = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="predecessor_links")
    type = models.CharField(max_length=2, choices=Type.choices, default=Type.FINISH_TO_START)
    lag_days = models.SmallIntegerField(default=0, help_text="Working days; negative for a lead.")

    class Meta:
        verbose_name_plural = "dependencies"
        constraints = [
            models.UniqueConstraint(fields=["predecessor", "successor"], name="dependency_once"),
            models.CheckConstraint(
                condition=~Q(predecessor=F("successor")), name="dependency_not_on_itself"
            ),
        ]

    def __str__(self):
        return f"{self.predecessor} → {self.successor} ({self.type})"


class Capacity(models.Model):
    """How many hours a week a person can give to project work, and on which calendar."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="capacity"
    )
    hours_per_week = models.DecimalField(
        max_digits=5, decimal_places=1, default=40, validators=[MinValueValidator(1)]
    )
    calendar = models.ForeignKey(
        "bridgedesk.BusinessCalendar", on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        verbose_name_plural = "capacities"

    def __str__(self):
        return f"{self.user}: {self.hours_per_week} h/week"


class Risk(models.Model):
    """A risk in the project's register: probability × impact, owner, mitigation."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="risks")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    probability = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)], help_text="1 (rare) to 5"
    )
    impact = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)], help_text="1 (minor) to 5"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    mitigation = models.TextField(blank=True)
    review_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(probability__gte=1, probability__lte=5, impact__gte=1, impact__lte=5),
                name="risk_scores_1_to_5",
            )
        ]

    def __str__(self):
        return self.title

    @property
    def score(self) -> int:
        return self.probability * self.impact


class StatusUpdate(models.Model):
    """The PM's weekly word on a project: health and a summary. Immutable once published;
    a correction is a new update."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="status_updates")
    health = models.CharField(max_length=20, choices=Project.Health.choices)
    summary = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"

    def __str__(self):
        return f"{self.project.key} {self.created_at:%Y-%m-%d}: {self.get_health_display()}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("A published status update cannot be changed; publish a new one.")
        super().save(*args, **kwargs)


class LessonLearned(models.Model):
    """One lesson from a post-project review."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="lessons")
    text = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "lessons learned"

    def __str__(self):
        return self.text[:60]


class ProjectEvent(models.Model):
    """The transactional outbox of plan changes: written in the same transaction as the
    change, published to the help desk afterwards (by the liaison app)."""

    class Kind(models.TextChoices):
        MILESTONE_RESCHEDULED = "milestone_rescheduled", "Milestone rescheduled"
        MILESTONE_FORECAST_CHANGED = "milestone_forecast_changed", "Milestone forecast changed"
        MILESTONE_COMPLETED = "milestone_completed", "Milestone completed"
        GO_LIVE_REACHED = "go_live_reached", "Go-live reached"
        STATUS_UPDATE_PUBLISHED = "status_update_published", "Status update published"
        PROJECT_CHANGED = "project_changed", "Project changed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="events")
    # 1, 2, 3 … per project, in commit order: a consumer that has applied n ignores ≤ n.
    sequence = models.PositiveIntegerField()
    kind = models.CharField(max_length=40, choices=Kind.choices)
    payload = models.JSONField(default=dict)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # Delivery bookkeeping: failed attempts, the last error and, after too many, the
    # moment it was set aside (dead letter) for an admin to look at and retry.
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    dead_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "sequence"], name="projectevent_sequence_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["id"],
                condition=Q(published_at__isnull=True, dead_at__isnull=True),
                name="projectevent_pending",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.project_id})"
