"""Filters of the projects API lists (django-filter).

As in the help desk API: a value that cannot be read (`project=abc`, `health=great`) is a
400 naming the parameter; a well-formed value that matches nothing answers an empty list,
so a filter never tells a caller whether something they cannot see exists.
"""

import django_filters
from django.core.validators import RegexValidator

from config.filters import PERSON, IdFilter
from projects.models import Milestone, Project, StatusUpdate, Task


class YesNoFilter(django_filters.ChoiceFilter):
    """`true` or `false`, and nothing else: django-filter's BooleanFilter reads anything
    else as "no filter", which would answer a typo with every row."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value in ("", None):
            return qs
        return super().filter(qs, value == "true")


class ProjectFilter(django_filters.FilterSet):
    key = django_filters.CharFilter(
        field_name="key", max_length=10, help_text="The project key, e.g. `VPN`."
    )
    status = django_filters.MultipleChoiceFilter(
        choices=Project.Status.choices, help_text="Repeat to match any of several statuses."
    )
    health = django_filters.MultipleChoiceFilter(
        choices=Project.Health.choices, help_text="Repeat to match any of several."
    )
    visibility = django_filters.ChoiceFilter(choices=Project.Visibility.choices)
    archived = YesNoFilter(
        field_name="archived_at",
        lookup_expr="isnull",
        exclude=True,
        help_text="`true`: archived projects only; `false`: the others.",
    )

    class Meta:
        model = Project
        fields = []


class MilestoneFilter(django_filters.FilterSet):
    project = IdFilter(field_name="project", help_text="Project id.")
    kind = django_filters.MultipleChoiceFilter(
        choices=Milestone.Kind.choices, help_text="Repeat to match any of several kinds."
    )
    completed = YesNoFilter(
        field_name="completed_at",
        lookup_expr="isnull",
        exclude=True,
        help_text="`false`: the milestones still ahead; `true`: those done.",
    )

    class Meta:
        model = Milestone
        fields = []


class TaskFilter(django_filters.FilterSet):
    project = IdFilter(field_name="project", help_text="Project id.")
    milestone = django_filters.CharFilter(
        method="filter_milestone",
        max_length=20,
        validators=[RegexValidator(r"^(none|[1-9][0-9]{0,17})$", "Give a milestone id or “none”.")],
        help_text="A milestone id, or `none` for tasks in no milestone.",
    )
    assignee = django_filters.CharFilter(
        method="filter_assignee",
        max_length=20,
        validators=[PERSON],
        help_text="A user id, `me` (the caller) or `none` (unassigned).",
    )
    column = IdFilter(field_name="column", help_text="Board column id.")
    is_critical = YesNoFilter(help_text="On the critical path.")

    class Meta:
        model = Task
        fields = []

    def filter_milestone(self, queryset, name, value: str):
        if value == "none":
            return queryset.filter(milestone__isnull=True)
        return queryset.filter(milestone_id=int(value))

    def filter_assignee(self, queryset, name, value: str):
        if value == "me":
            return queryset.filter(assignee=self.request.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset.filter(assignee_id=int(value))


class StatusUpdateFilter(django_filters.FilterSet):
    project = IdFilter(field_name="project", help_text="Project id.")
    health = django_filters.MultipleChoiceFilter(
        choices=Project.Health.choices, help_text="Repeat to match any of several."
    )

    class Meta:
        model = StatusUpdate
        fields = []
