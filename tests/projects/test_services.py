"""The plan's write paths: slips, the outbox, loops refused, immutable status updates."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from projects import services
from projects.models import MilestoneSlip, ProjectEvent, StatusUpdate, Task

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(pm):
    project = services.project_create(
        owner=pm, key="NET", name="Network refresh", slug="network-refresh"
    )
    today = timezone.localdate()
    milestone = services.milestone_create(
        project=project, name="Core switches live", target_date=today + timedelta(days=30)
    )
    return project, milestone


def test_a_new_project_gets_a_board(plan):
    project, _ = plan
    assert [c.name for c in project.columns.all()] == ["To do", "In progress", "Review", "Done"]
    assert project.columns.get(name="Done").is_done


def test_rescheduling_records_the_slip_and_announces_it_in_the_same_transaction(
    plan, pm, django_capture_on_commit_callbacks
):
    _, milestone = plan
    old = milestone.target_date
    new = old + timedelta(days=14)
    with django_capture_on_commit_callbacks() as callbacks:
        services.milestone_reschedule(
            milestone=milestone, target_date=new, reason="Vendor late", actor=pm
        )
    milestone.refresh_from_db()
    assert (milestone.baseline_date, milestone.target_date) == (old, new)
    slip = MilestoneSlip.objects.get()
    assert (slip.old_date, slip.new_date, slip.reason, slip.author) == (old, new, "Vendor late", pm)
    event = ProjectEvent.objects.filter(kind=ProjectEvent.Kind.MILESTONE_RESCHEDULED).get()
    assert event.payload["new_date"] == new.isoformat()
    assert event.published_at is None
    assert callbacks  # listeners hear of it only after commit


def test_rescheduling_needs_a_reason(plan, pm):
    _, milestone = plan
    with pytest.raises(ValidationError) as error:
        services.milestone_reschedule(
            milestone=milestone, target_date=milestone.target_date, reason=" ", actor=pm
        )
    assert "reason" in error.value.message_dict
    assert not MilestoneSlip.objects.exists()


def test_a_dependency_loop_is_refused_and_named(plan, pm):
    project, _ = plan
    a, b, c = (services.task_create(project=project, title=t) for t in ("Order", "Rack", "Cable"))
    services.dependency_add(predecessor=a, successor=b)
    services.dependency_add(predecessor=b, successor=c)
    with pytest.raises(ValidationError) as error:
        services.dependency_add(predecessor=c, successor=a)
    assert error.value.message_dict["predecessor"] == [
        "That would make a loop: Order → Rack → Cable → Order."
    ]


def test_moving_a_card_rewrites_that_card_alone(plan):
    project, _ = plan
    todo, doing = project.columns.all()[:2]
    cards = [services.task_create(project=project, title=f"Card {i}") for i in range(5)]
    before = dict(Task.objects.values_list("pk", "rank"))
    services.task_move(task=cards[4], column=todo, after=cards[1])
    after = dict(Task.objects.values_list("pk", "rank"))
    changed = [pk for pk in before if before[pk] != after[pk]]
    assert changed == [cards[4].pk]
    order = list(Task.objects.filter(column=todo).values_list("title", flat=True))
    assert order == ["Card 0", "Card 1", "Card 4", "Card 2", "Card 3"]
    services.task_move(task=cards[0], column=doing)
    assert Task.objects.get(pk=cards[0].pk).column == doing


def test_status_updates_set_health_and_stay_as_published(plan, pm):
    project, _ = plan
    update = services.status_update_publish(
        project=project, health="at_risk", summary="Vendor slipped", actor=pm
    )
    project.refresh_from_db()
    assert project.health == "at_risk"
    update.summary = "Nothing happened"
    with pytest.raises(ValueError, match="cannot be changed"):
        update.save()
    assert StatusUpdate.objects.get().summary == "Vendor slipped"
    assert ProjectEvent.objects.filter(kind="status_update_published").count() == 1


def test_events_are_numbered_1_2_3_per_project_in_the_order_they_are_written(plan, pm):
    project, milestone = plan
    other = services.project_create(owner=pm, key="OTH", name="Other", slug="other")
    services.status_update_publish(project=project, health="at_risk", summary="Late", actor=pm)
    services.milestone_reschedule(
        milestone=milestone,
        target_date=milestone.target_date + timedelta(days=7),
        reason="Vendor late",
        actor=pm,
    )
    # Several events written at once (a reschedule's forecasts) take consecutive numbers.
    services._events(
        project, ProjectEvent.Kind.MILESTONE_FORECAST_CHANGED, pm, [{"n": 1}, {"n": 2}]
    )
    mine = list(project.events.order_by("id").values_list("sequence", flat=True))
    assert mine == list(range(1, len(mine) + 1))
    assert list(other.events.values_list("sequence", flat=True)) == [1]
    project.refresh_from_db()
    assert project.event_sequence == len(mine)
