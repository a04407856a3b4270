"""factory_boy factories for the project pages' tests: boards, tasks, risks, updates,
slips, lessons, capacities. (The shared cast lives in tests/factories.py.)"""

from datetime import timedelta

import factory
from django.utils import timezone

from projects.models import (
    Capacity,
    Column,
    LessonLearned,
    MilestoneSlip,
    ProjectEvent,
    Risk,
    StatusUpdate,
    Task,
)
from tests import factories


class ColumnFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Column

    project = factory.SubFactory(factories.ProjectFactory)
    name = factory.Sequence(lambda n: f"Column {n}")
    position = factory.Sequence(lambda n: n)


class TaskFactory(factory.django.DjangoModelFactory):
    """A card. Pass `column` to put several on one board; by default each gets its own."""

    class Meta:
        model = Task

    project = factory.SubFactory(factories.ProjectFactory)
    column = factory.SubFactory(ColumnFactory, project=factory.SelfAttribute("..project"))
    title = factory.Sequence(lambda n: f"Task {n}")
    rank = factory.Sequence(lambda n: f"n{n:08d}")
    estimate_hours = 8


class RiskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Risk

    project = factory.SubFactory(factories.ProjectFactory)
    title = factory.Sequence(lambda n: f"Risk {n}")
    probability = 3
    impact = 3


class StatusUpdateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StatusUpdate

    project = factory.SubFactory(factories.ProjectFactory)
    health = "on_track"
    summary = "All good."


class SlipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MilestoneSlip

    milestone = factory.SubFactory(factories.MilestoneFactory)
    old_date = factory.LazyAttribute(lambda s: s.milestone.baseline_date)
    new_date = factory.LazyAttribute(lambda s: s.old_date + timedelta(days=7))
    reason = "Vendor late"


class LessonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LessonLearned

    project = factory.SubFactory(factories.ProjectFactory)
    text = factory.Sequence(lambda n: f"Lesson {n}")


class CapacityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Capacity

    user = factory.SubFactory(factories.AgentFactory)
    hours_per_week = 40


class ProjectEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProjectEvent

    project = factory.SubFactory(factories.ProjectFactory)
    kind = ProjectEvent.Kind.PROJECT_CHANGED
    payload = factory.LazyFunction(lambda: {"change": "created"})

    @factory.lazy_attribute
    def sequence(self):
        from projects.services import _next_sequence

        return _next_sequence(self.project.pk)


def backdate(obj, days: int, field: str = "created_at") -> None:
    """Move an auto_now_add timestamp `days` into the past (auto_now_add ignores values
    given at creation)."""
    type(obj).objects.filter(pk=obj.pk).update(**{field: timezone.now() - timedelta(days=days)})
