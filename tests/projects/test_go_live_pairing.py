"""Go-live pairing: a `go_live` milestone brings a `helpdesk_go_live` milestone owned by the
liaison, five working days earlier by the project's calendar, and keeps it in step when
the go-live moves (projects/services.py `helpdesk_go_live_pair`, `_keep_pair_in_step`)."""

from datetime import date, time

import pytest
from django.utils import timezone

from config.models import BusinessCalendar, BusinessHours, Holiday
from projects import services
from projects.models import Milestone, MilestoneSlip, ProjectEvent
from tests import factories

pytestmark = pytest.mark.django_db

GO_LIVE = date(2030, 3, 18)  # a Monday
WEEK_BEFORE = date(2030, 3, 11)  # the Monday before: five working days earlier
Kind = Milestone.Kind


@pytest.fixture
def liaison(project):
    user = factories.AgentFactory(username="liaison")
    project.liaison = user
    project.save(update_fields=["liaison"])
    return user


def calendar_with(*holidays, workdays=(0, 1, 2, 3, 4)):
    calendar = BusinessCalendar.objects.create(name="Office")
    BusinessHours.objects.bulk_create(
        BusinessHours(calendar=calendar, weekday=day, start=time(9), end=time(17))
        for day in workdays
    )
    Holiday.objects.bulk_create(
        Holiday(calendar=calendar, date=day, name="Off") for day in holidays
    )
    return calendar


def go_live(project, pm, day=GO_LIVE, name="Cut-over"):
    return services.milestone_create(
        project=project, name=name, target_date=day, kind=Kind.GO_LIVE, actor=pm
    )


def pair_of(milestone) -> Milestone:
    return Milestone.objects.get(paired_go_live=milestone)


def test_a_go_live_brings_the_help_desk_go_live_five_working_days_earlier(project, pm, liaison):
    milestone = go_live(project, pm)
    pair = pair_of(milestone)
    assert pair.kind == Kind.HELPDESK_GO_LIVE
    assert pair.owner == liaison
    assert pair.baseline_date == pair.target_date == WEEK_BEFORE
    assert pair.name == "Help desk ready for Cut-over"
    assert pair.completed_at is None


def test_weekends_are_skipped(project, pm, liaison):
    # From Wednesday 13 March: Tue, Mon, (weekend), Fri, Thu, Wed → Wednesday 6 March.
    pair = pair_of(go_live(project, pm, day=date(2030, 3, 13)))
    assert pair.target_date == date(2030, 3, 6)


def test_a_go_live_on_a_sunday_counts_back_from_the_friday(project, pm, liaison):
    pair = pair_of(go_live(project, pm, day=date(2030, 3, 17)))
    assert pair.target_date == WEEK_BEFORE  # Fri, Thu, Wed, Tue, Mon


def test_the_project_calendars_holidays_are_skipped(project, pm, liaison):
    project.calendar = calendar_with(date(2030, 3, 13), date(2030, 3, 11))
    project.save(update_fields=["calendar"])
    pair = pair_of(go_live(project, pm))
    # Fri 15, Thu 14, (Wed 13 off), Tue 12, (Mon 11 off), Fri 8, Thu 7.
    assert pair.target_date == date(2030, 3, 7)


def test_the_project_calendars_working_week_counts(project, pm, liaison):
    project.calendar = calendar_with(workdays=(0, 1, 2, 3))  # a four-day week
    project.save(update_fields=["calendar"])
    pair = pair_of(go_live(project, pm))
    # Thu 14, Wed 13, Tue 12, Mon 11, Thu 7.
    assert pair.target_date == date(2030, 3, 7)


def test_without_a_liaison_the_pair_has_no_owner_yet(project, pm):
    assert pair_of(go_live(project, pm)).owner is None


def test_a_regular_milestone_has_no_pair(project, pm, liaison):
    regular = services.milestone_create(
        project=project, name="Pilot", target_date=GO_LIVE, actor=pm
    )
    assert not Milestone.objects.filter(paired_go_live=regular).exists()
    assert not project.milestones.filter(kind=Kind.HELPDESK_GO_LIVE).exists()
    services.milestone_reschedule(
        milestone=regular, target_date=date(2030, 3, 25), reason="Vendor late", actor=pm
    )
    assert project.milestones.count() == 1


def test_moving_the_go_live_moves_the_pair_in_step_with_a_slip_saying_why(project, pm, liaison):
    milestone = go_live(project, pm)
    services.milestone_reschedule(
        milestone=milestone, target_date=date(2030, 3, 25), reason="Vendor late", actor=pm
    )
    pair = pair_of(milestone)
    assert pair.target_date == date(2030, 3, 18)
    assert pair.baseline_date == WEEK_BEFORE  # the first commitment stays
    slip = MilestoneSlip.objects.get(milestone=pair)
    assert (slip.old_date, slip.new_date, slip.author) == (WEEK_BEFORE, date(2030, 3, 18), pm)
    assert slip.reason == "Follows “Cut-over”: Vendor late"
    # The help desk hears of both moves, the pair's with the same reason.
    moves = ProjectEvent.objects.filter(
        project=project, kind=ProjectEvent.Kind.MILESTONE_RESCHEDULED
    ).order_by("sequence")
    assert [(e.payload["milestone"], e.payload["reason"]) for e in moves] == [
        (milestone.pk, "Vendor late"),
        (pair.pk, "Follows “Cut-over”: Vendor late"),
    ]


def test_moving_the_go_live_earlier_moves_the_pair_earlier(project, pm, liaison):
    milestone = go_live(project, pm)
    services.milestone_reschedule(
        milestone=milestone, target_date=date(2030, 3, 13), reason="Ahead of plan", actor=pm
    )
    assert pair_of(milestone).target_date == date(2030, 3, 6)


def test_the_pair_follows_the_calendar_when_the_go_live_moves(project, pm, liaison):
    milestone = go_live(project, pm)
    project.calendar = calendar_with(date(2030, 3, 20))
    project.save(update_fields=["calendar"])
    milestone.refresh_from_db()
    services.milestone_reschedule(
        milestone=milestone, target_date=date(2030, 3, 25), reason="Vendor late", actor=pm
    )
    # Fri 22, Thu 21, (Wed 20 off), Tue 19, Mon 18, Fri 15.
    assert pair_of(milestone).target_date == date(2030, 3, 15)


def test_a_completed_pair_does_not_move(project, pm, liaison):
    milestone = go_live(project, pm)
    pair = pair_of(milestone)
    services.milestone_complete(milestone=pair, actor=liaison)
    services.milestone_reschedule(
        milestone=milestone, target_date=date(2030, 3, 25), reason="Vendor late", actor=pm
    )
    pair.refresh_from_db()
    assert pair.target_date == WEEK_BEFORE
    assert not MilestoneSlip.objects.filter(milestone=pair).exists()


def test_a_move_that_lands_the_pair_on_the_same_day_records_no_slip(project, pm, liaison):
    milestone = go_live(project, pm)  # Monday 18: pair Monday 11
    # Sunday 17 counts back from Friday 15 to the same Monday 11.
    services.milestone_reschedule(
        milestone=milestone, target_date=date(2030, 3, 17), reason="Weekend cut-over", actor=pm
    )
    assert pair_of(milestone).target_date == WEEK_BEFORE
    assert not MilestoneSlip.objects.filter(milestone=pair_of(milestone)).exists()


def test_a_go_live_created_through_the_api_is_paired_too(client, pm, project, liaison):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(pm)
    response = api.post(
        "/api/v1/milestones/",
        {"project": project.pk, "name": "Cut-over", "kind": "go_live", "target_date": "2030-03-18"},
        format="json",
    )
    assert response.status_code == 201
    pair = pair_of(Milestone.objects.get(pk=response.json()["id"]))
    assert (pair.target_date, pair.owner) == (WEEK_BEFORE, liaison)


def test_the_pair_is_listed_with_the_project_milestones(client_for, pm, project, liaison):
    go_live(project, pm)
    html = client_for(pm).get("/projects/VPN/milestones/").content.decode()
    assert "Help desk ready for Cut-over" in html
    assert "Help desk go-live" in html
    assert timezone.localdate() < GO_LIVE


def test_the_pair_keeps_the_lead_the_liaison_chose_when_the_go_live_moves(project, pm, liaison):
    cutover = go_live(project, pm, day=date(2027, 3, 1))
    paired = pair_of(cutover)
    # The liaison wants the help desk ready two weeks (ten working days) ahead instead.
    services.milestone_reschedule(
        milestone=paired, target_date=date(2027, 2, 15), reason="More training", actor=pm
    )
    services.milestone_reschedule(
        milestone=cutover, target_date=date(2027, 3, 8), reason="Vendor", actor=pm
    )
    assert pair_of(cutover).target_date == date(2027, 2, 22)


def test_a_new_liaison_takes_over_the_help_desk_go_live(project, pm, liaison):
    cutover = go_live(project, pm)
    successor = factories.AgentFactory(username="successor")
    services.project_update(project=project, actor=pm, liaison=successor)
    assert pair_of(cutover).owner == successor
