"""Planned work: projects and their milestones. Knows nothing of the help desk."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
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

    class Meta:
        ordering = ["target_date", "id"]
        indexes = [models.Index(fields=["project", "target_date"])]

    def __str__(self):
        return f"{self.project.key}: {self.name}"

    @property
    def expected_date(self):
        """The best current answer to "when?": the forecast if computed, else the target."""
        return self.forecast_date or self.target_date

    @property
    def slip_days(self) -> int:
        return (self.expected_date - self.baseline_date).days
