"""The projects API: projects, milestones, tasks and status updates (API.md).

Who reads: projects, milestones and status updates follow `Project.visible_to` (the status
page's rule); tasks are for the board's people (agents, project managers, the project's
owner and members), not for stakeholders. Who writes: `can_plan` (owner, members, project
managers); readers who may not plan get 403, anyone who may not read gets 404, anonymous
callers 401.
"""

import base64
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from projects import services
from projects.models import (
    Column,
    Dependency,
    Milestone,
    MilestoneSlip,
    Project,
    ProjectEvent,
    StatusUpdate,
    Task,
)
from tests import factories

pytestmark = pytest.mark.django_db

PROJECT_FIELDS = {
    "id", "key", "name", "slug", "description", "status", "health", "owner", "liaison", "queues",
    "start_date", "target_date", "forecast_date", "visibility", "status_page_url", "archived_at",
    "created_at", "updated_at",
}  # fmt: skip
MILESTONE_FIELDS = {
    "id", "project", "name", "kind", "baseline_date", "target_date", "forecast_date",
    "completed_at", "slip_days",
}  # fmt: skip
TASK_FIELDS = {
    "id", "project", "milestone", "title", "description", "column", "position", "assignee",
    "estimate_hours", "start_date", "due_date", "labels", "depends_on", "dependencies",
    "forecast_start", "forecast_finish", "is_critical", "completed_at", "version", "created_at",
    "updated_at",
}  # fmt: skip
UPDATE_FIELDS = {"id", "project", "health", "summary", "created_at", "author", "author_name"}

TODAY = timezone.localdate


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def as_user(api):
    """`as_user(user)` → an API client authenticated as `user` (None: anonymous)."""

    def login(user):
        api.force_authenticate(user)
        return api

    return login


@pytest.fixture
def member(project):
    """An agent on the project's team: plans without being a project manager."""
    user = factories.AgentFactory(username="member")
    project.members.add(user)
    return user


@pytest.fixture
def other_stakeholder(db):
    return factories.StakeholderFactory(username="other_stakeholder")


@pytest.fixture
def cast(pm, agent, member, stakeholder, other_stakeholder, admin):
    return {
        "pm": pm,
        "agent": agent,
        "member": member,
        "stakeholder": stakeholder,
        "other_stakeholder": other_stakeholder,
        "admin": admin,
        "anonymous": None,
    }


@pytest.fixture
def columns(project):
    return [
        Column.objects.create(project=project, name=name, position=n, is_done=name == "Done")
        for n, name in enumerate(["To do", "In progress", "Done"])
    ]


@pytest.fixture
def milestone(project):
    return services.milestone_create(
        project=project, name="Pilot live", target_date=TODAY() + timedelta(days=30)
    )


@pytest.fixture
def task(project, columns, milestone):
    return services.task_create(
        project=project, title="Order kit", milestone=milestone, estimate_hours=Decimal(16)
    )


@pytest.fixture
def update(project, pm):
    return services.status_update_publish(
        project=project, health="at_risk", summary="Vendor is late.", actor=pm
    )


def url(resource, obj=None):
    if obj is None:
        return f"/api/v1/{resource}/"
    pk = obj if isinstance(obj, int | str) else obj.pk
    return f"/api/v1/{resource}/{pk}/"


def results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def ids(response):
    return sorted(row["id"] for row in results(response))


def patch(client, resource, obj, **body):
    return client.patch(url(resource, obj), body, format="json")


# --- Access: reading ------------------------------------------------------------------------

READERS = ["pm", "agent", "member", "stakeholder", "admin"]


@pytest.mark.parametrize("resource", ["projects", "milestones", "status-updates"])
@pytest.mark.parametrize("who", READERS)
def test_readers_of_the_project_read_its_plan(
    as_user, cast, project, milestone, update, resource, who
):
    obj = {"projects": project, "milestones": milestone, "status-updates": update}[resource]
    client = as_user(cast[who])
    assert ids(client.get(url(resource))) == [obj.pk]
    assert client.get(url(resource, obj)).json()["id"] == obj.pk


@pytest.mark.parametrize("resource", ["projects", "milestones", "status-updates"])
def test_a_stakeholder_of_another_project_sees_nothing_of_it(
    as_user, other_stakeholder, project, milestone, update, resource
):
    obj = {"projects": project, "milestones": milestone, "status-updates": update}[resource]
    client = as_user(other_stakeholder)
    assert results(client.get(url(resource))) == []
    response = client.get(url(resource, obj))
    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize("resource", ["projects", "milestones", "status-updates"])
def test_a_private_project_is_hidden_from_its_stakeholders(
    as_user, stakeholder, project, milestone, update, resource
):
    Project.objects.filter(pk=project.pk).update(visibility=Project.Visibility.PRIVATE)
    obj = {"projects": project, "milestones": milestone, "status-updates": update}[resource]
    client = as_user(stakeholder)
    assert results(client.get(url(resource))) == []
    assert client.get(url(resource, obj)).status_code == 404


def test_a_public_project_is_read_by_any_signed_in_user(as_user, other_stakeholder, project):
    Project.objects.filter(pk=project.pk).update(visibility=Project.Visibility.PUBLIC)
    assert ids(as_user(other_stakeholder).get(url("projects"))) == [project.pk]


@pytest.mark.parametrize("who", ["pm", "agent", "member", "admin"])
def test_the_boards_people_read_tasks(as_user, cast, task, who):
    client = as_user(cast[who])
    assert ids(client.get(url("tasks"))) == [task.pk]
    assert client.get(url("tasks", task)).json()["id"] == task.pk


@pytest.mark.parametrize("who", ["stakeholder", "other_stakeholder"])
def test_stakeholders_do_not_read_tasks(as_user, cast, project, task, who):
    # The status page shows health, milestones and updates; the board is not on it.
    Project.objects.filter(pk=project.pk).update(visibility=Project.Visibility.PUBLIC)
    client = as_user(cast[who])
    assert results(client.get(url("tasks"))) == []
    assert client.get(url("tasks", task)).status_code == 404


def test_a_stakeholder_on_the_team_reads_its_tasks(as_user, stakeholder, project, task):
    project.members.add(stakeholder)
    assert ids(as_user(stakeholder).get(url("tasks"))) == [task.pk]


@pytest.mark.parametrize("resource", ["projects", "milestones", "tasks", "status-updates"])
def test_anonymous_callers_get_401(api, project, resource):
    response = api.get(url(resource))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert api.get(url(resource, 1)).status_code == 401
    assert api.post(url(resource), {}, format="json").status_code == 401


# --- Access: writing ------------------------------------------------------------------------


def reschedule(client, milestone, days=7, reason="Vendor late"):
    new = milestone.target_date + timedelta(days=days)
    return patch(client, "milestones", milestone, target_date=new.isoformat(), reason=reason)


WRITES = {
    "milestone-patch": lambda c, ctx: reschedule(c, ctx["milestone"]),
    "milestone-post": lambda c, ctx: c.post(
        url("milestones"),
        {"project": ctx["project"].pk, "name": "Go-live", "target_date": "2030-01-07"},
        format="json",
    ),
    "task-post": lambda c, ctx: c.post(
        url("tasks"), {"project": ctx["project"].pk, "title": "New card"}, format="json"
    ),
    "task-patch": lambda c, ctx: patch(c, "tasks", ctx["task"], version=1, title="Renamed"),
    "update-post": lambda c, ctx: c.post(
        url("status-updates"),
        {"project": ctx["project"].pk, "health": "on_track", "summary": "Fine"},
        format="json",
    ),
}


@pytest.fixture
def ctx(project, milestone, task):
    return {"project": project, "milestone": milestone, "task": task}


def written(project):
    """Everything a write could have left behind."""
    return (
        MilestoneSlip.objects.count(),
        Milestone.objects.count(),
        list(Task.objects.values_list("title", "version")),
        StatusUpdate.objects.count(),
        ProjectEvent.objects.count(),
    )


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("who", ["pm", "member", "admin"])
def test_planners_write(as_user, cast, ctx, write, who):
    response = WRITES[write](as_user(cast[who]), ctx)
    assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("who", ["agent", "stakeholder"])
def test_readers_who_do_not_plan_get_403_and_nothing_changes(as_user, cast, ctx, write, who):
    before = written(ctx["project"])
    response = WRITES[write](as_user(cast[who]), ctx)
    if write == "task-patch" and who == "stakeholder":
        assert response.status_code == 404  # they cannot read tasks at all
    else:
        assert response.status_code == 403, response.content
    assert written(ctx["project"]) == before


@pytest.mark.parametrize("write", WRITES)
def test_anyone_who_cannot_read_the_project_cannot_write_to_it(
    as_user, other_stakeholder, ctx, write
):
    before = written(ctx["project"])
    response = WRITES[write](as_user(other_stakeholder), ctx)
    if write.endswith("post"):
        assert response.status_code == 400  # the project they name does not exist for them
        assert list(response.json()) == ["project"]
    else:
        assert response.status_code == 404
    assert written(ctx["project"]) == before


@pytest.mark.parametrize("write", WRITES)
def test_anonymous_writes_get_401(api, ctx, write):
    before = written(ctx["project"])
    assert WRITES[write](api, ctx).status_code == 401
    assert written(ctx["project"]) == before


def test_a_missing_object_reads_exactly_like_one_you_may_not_see(
    as_user, other_stakeholder, milestone
):
    client = as_user(other_stakeholder)
    hidden, missing = client.get(url("milestones", milestone)), client.get(url("milestones", 999))
    assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())


@pytest.mark.parametrize(
    ("resource", "method"),
    [
        ("projects", "post"),
        ("projects", "patch"),
        ("projects", "put"),
        ("projects", "delete"),
        ("milestones", "put"),
        ("milestones", "delete"),
        ("tasks", "put"),
        ("tasks", "delete"),
        ("status-updates", "patch"),
        ("status-updates", "put"),
        ("status-updates", "delete"),
    ],
)
def test_what_is_not_offered_is_405(as_user, pm, ctx, update, resource, method):
    obj = {"projects": ctx["project"], "milestones": ctx["milestone"], "tasks": ctx["task"],
           "status-updates": update}[resource]  # fmt: skip
    path = url(resource) if method == "post" else url(resource, obj)
    response = getattr(as_user(pm), method)(path, {"summary": "Changed"}, format="json")
    assert response.status_code == 405
    update.refresh_from_db()
    assert update.summary == "Vendor is late."


# --- Projects -------------------------------------------------------------------------------


def test_a_project_shows_the_contract_fields(as_user, pm, agent, project, milestone):
    Project.objects.filter(pk=project.pk).update(
        liaison=agent, start_date=TODAY(), target_date=TODAY() + timedelta(days=90)
    )
    services.milestone_create(
        project=project, name="Go-live", target_date=TODAY() + timedelta(days=60)
    )
    body = as_user(pm).get(url("projects", project)).json()
    assert set(body) == PROJECT_FIELDS
    assert (body["key"], body["name"], body["owner"], body["liaison"]) == (
        "VPN", "VPN replacement", pm.pk, agent.pk
    )  # fmt: skip
    assert body["queues"] == []  # filled in by the liaison app later
    assert body["forecast_date"] == (TODAY() + timedelta(days=60)).isoformat()
    assert body["status_page_url"] == "http://testserver/status/vpn/"
    assert body["visibility"] == "stakeholders"
    assert results(as_user(pm).get(url("projects"))) == [body]


def test_the_forecast_date_is_the_latest_milestone_forecast(as_user, pm, project, milestone):
    Milestone.objects.filter(pk=milestone.pk).update(forecast_date=TODAY() + timedelta(days=99))
    factories.MilestoneFactory(project=project, target_date=TODAY() + timedelta(days=50))
    body = as_user(pm).get(url("projects", project)).json()
    assert body["forecast_date"] == (TODAY() + timedelta(days=99)).isoformat()


def test_a_project_without_milestones_has_no_forecast(as_user, pm, project):
    assert as_user(pm).get(url("projects", project)).json()["forecast_date"] is None


def test_projects_filter_by_key_status_and_health(as_user, pm, project):
    other = factories.ProjectFactory(status="on_hold", health="off_track")
    client = as_user(pm)
    assert ids(client.get(url("projects"), {"key": "VPN"})) == [project.pk]
    assert ids(client.get(url("projects"), {"status": "on_hold"})) == [other.pk]
    assert ids(client.get(url("projects"), {"health": ["off_track", "at_risk"]})) == [other.pk]
    assert ids(client.get(url("projects"), {"archived": "false"})) == sorted([project.pk, other.pk])
    assert ids(client.get(url("projects"), {"archived": "true"})) == []


@pytest.mark.parametrize("rows", [1, 50])
def test_the_project_list_runs_a_constant_number_of_queries(
    as_user, pm, rows, django_assert_num_queries
):
    for project in factories.ProjectFactory.create_batch(rows, owner=pm):
        factories.MilestoneFactory.create_batch(3, project=project)
    client = as_user(pm)
    with django_assert_num_queries(3):  # the caller's roles; the projects with their forecast
        response = client.get(url("projects"), {"page_size": 100})
    assert len(results(response)) == rows


# --- Milestones -----------------------------------------------------------------------------


def test_a_milestone_shows_the_contract_fields(as_user, pm, milestone):
    body = as_user(pm).get(url("milestones", milestone)).json()
    assert set(body) == MILESTONE_FIELDS
    assert body["baseline_date"] == body["target_date"] == milestone.target_date.isoformat()
    assert body["forecast_date"] == milestone.target_date.isoformat()  # no tasks yet
    assert (body["kind"], body["completed_at"], body["slip_days"]) == ("regular", None, 0)


def test_moving_a_milestone_records_the_slip_and_tells_the_help_desk(
    as_user, pm, milestone, django_capture_on_commit_callbacks
):
    old = milestone.target_date
    new = old + timedelta(days=14)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = patch(
            as_user(pm), "milestones", milestone, target_date=new.isoformat(),
            reason="  Vendor ships late  ",
        )  # fmt: skip
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["baseline_date"], body["target_date"]) == (old.isoformat(), new.isoformat())
    assert body["slip_days"] == 14
    slip = MilestoneSlip.objects.get()
    assert (slip.old_date, slip.new_date, slip.reason, slip.author) == (
        old, new, "Vendor ships late", pm
    )  # fmt: skip
    assert ProjectEvent.objects.filter(kind="milestone_rescheduled").count() == 1
    assert callbacks  # the help desk hears of it after commit


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"target_date": "2030-01-07"}, {"reason": [
            "Say why the date moves; the help desk will read it."]}),
        ({"target_date": "2030-01-07", "reason": "   "}, {"reason": [
            "Say why the date moves; the help desk will read it."]}),
        ({"reason": "Late"}, {"target_date": ["This field is required."]}),
    ],
)  # fmt: skip
def test_a_move_needs_a_date_and_a_reason(as_user, pm, milestone, body, expected):
    response = patch(as_user(pm), "milestones", milestone, **body)
    assert response.status_code == 400
    assert response.json() == expected
    milestone.refresh_from_db()
    assert milestone.target_date == milestone.baseline_date
    assert not MilestoneSlip.objects.exists()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"target_date": "next week", "reason": "x"}, ["target_date"]),
        ({"target_date": "2030-02-30", "reason": "x"}, ["target_date"]),
        ({"target_date": "0202-01-01", "reason": "x"}, ["target_date"]),
        ({"target_date": 20300107, "reason": "x"}, ["target_date"]),
        ({"target_date": None, "reason": "x"}, ["target_date"]),
        ({"target_date": "2030-01-07", "reason": ["x"]}, ["reason"]),
        ({"target_date": "2030-01-07", "reason": "r" * 2001}, ["reason"]),
        ({"target_date": "2030-01-07", "reason": "nul\x00"}, ["reason"]),
        ({"target_date": "2030-01-07", "reason": "x", "baseline_date": "2030-01-01"},
         ["baseline_date"]),
        ({"target_date": "2030-01-07", "reason": "x", "colour": "red"}, ["colour"]),
    ],
)  # fmt: skip
def test_a_bad_move_is_a_400_naming_the_field(as_user, pm, milestone, body, fields):
    response = patch(as_user(pm), "milestones", milestone, **body)
    assert response.status_code == 400, response.content
    assert sorted(response.json()) == fields
    assert not MilestoneSlip.objects.exists()


def test_a_completed_milestone_does_not_move(as_user, pm, milestone):
    services.milestone_complete(milestone=milestone, actor=pm)
    response = reschedule(as_user(pm), milestone)
    assert response.status_code == 400
    assert list(response.json()) == ["target_date"]


def test_a_new_milestone_takes_its_target_as_baseline(as_user, pm, project):
    body = {"project": project.pk, "name": "Cut-over", "kind": "go_live",
            "target_date": "2030-03-04"}  # fmt: skip
    response = as_user(pm).post(url("milestones"), body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert response["Location"] == url("milestones", data["id"])
    assert (data["baseline_date"], data["target_date"], data["kind"]) == (
        "2030-03-04", "2030-03-04", "go_live"
    )  # fmt: skip
    assert data["forecast_date"] == "2030-03-04"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["name", "project", "target_date"]),
        ({"name": "", "target_date": "2030-01-01"}, ["name"]),
        ({"name": "x" * 201, "target_date": "2030-01-01"}, ["name"]),
        ({"name": "M", "target_date": "2030-01-01", "kind": "party"}, ["kind"]),
        ({"name": "M", "target_date": "2030-01-01", "project": "VPN"}, ["project"]),
        ({"name": "M", "target_date": "2030-01-01", "project": 10**30}, ["project"]),
        ({"name": "M", "target_date": "2030-01-01", "baseline_date": "2029-01-01"},
         ["baseline_date"]),
    ],
)  # fmt: skip
def test_a_bad_new_milestone_is_a_400_naming_the_field(as_user, pm, project, body, fields):
    body = {"project": project.pk, **body} if body else body
    response = as_user(pm).post(url("milestones"), body, format="json")
    assert response.status_code == 400, response.content
    assert sorted(response.json()) == fields
    assert not Milestone.objects.exists()


def test_milestones_filter_by_project_kind_and_completion(as_user, pm, project, milestone):
    other = factories.MilestoneFactory(kind="go_live", completed_at=timezone.now())
    client = as_user(pm)
    assert ids(client.get(url("milestones"), {"project": project.pk})) == [milestone.pk]
    assert ids(client.get(url("milestones"), {"kind": "go_live"})) == [other.pk]
    assert ids(client.get(url("milestones"), {"completed": "false"})) == [milestone.pk]
    assert ids(client.get(url("milestones"), {"completed": "true"})) == [other.pk]


@pytest.mark.parametrize("rows", [1, 50])
def test_the_milestone_list_runs_a_constant_number_of_queries(
    as_user, pm, project, rows, django_assert_num_queries
):
    factories.MilestoneFactory.create_batch(rows, project=project)
    client = as_user(pm)
    with django_assert_num_queries(2):  # the caller's roles; the milestones
        response = client.get(url("milestones"), {"page_size": 100})
    assert len(results(response)) == rows


# --- Tasks ----------------------------------------------------------------------------------


def test_a_task_shows_the_contract_fields(as_user, pm, project, columns, task):
    services.task_update(task=task, actor=pm, assignee=pm, labels=["network"])
    before = services.task_create(project=project, title="Survey users", estimate_hours=8)
    services.dependency_add(predecessor=before, successor=task, type="SS", lag_days=2)
    body = as_user(pm).get(url("tasks", task)).json()
    assert set(body) == TASK_FIELDS
    assert (body["project"], body["milestone"], body["column"]) == (
        project.pk, task.milestone_id, columns[0].pk
    )  # fmt: skip
    assert (body["title"], body["assignee"], body["labels"]) == ("Order kit", pm.pk, ["network"])
    assert body["estimate_hours"] == 16
    assert body["depends_on"] == [before.pk]
    assert body["dependencies"] == [{"task": before.pk, "type": "SS", "lag_days": 2}]
    assert body["version"] == 2
    assert body["position"] == 0
    assert body["forecast_start"] and body["forecast_finish"]  # computed by the scheduler


def test_position_is_the_cards_place_in_its_column(as_user, pm, project, columns, task):
    second = services.task_create(project=project, title="Second")
    third = services.task_create(project=project, title="Third")
    elsewhere = services.task_create(project=project, title="Doing", column=columns[1])
    client = as_user(pm)
    positions = {row["title"]: row["position"] for row in results(client.get(url("tasks")))}
    assert positions == {"Order kit": 0, "Second": 1, "Third": 2, "Doing": 0}
    # A move writes one card; the others' positions follow from the ranks.
    services.task_move(task=third, column=columns[0], after=None)
    positions = {row["id"]: row["position"] for row in results(client.get(url("tasks")))}
    assert positions == {third.pk: 0, task.pk: 1, second.pk: 2, elsewhere.pk: 0}


def test_a_planner_creates_a_task_with_everything(as_user, pm, project, columns, milestone, task):
    body = {
        "project": project.pk,
        "title": "  Install   concentrators ",
        "description": "In DC1",
        "column": columns[1].pk,
        "milestone": milestone.pk,
        "assignee": pm.pk,
        "estimate_hours": "12.5",
        "start_date": "2030-01-07",
        "due_date": "2030-01-10",
        "labels": ["dc1"],
        "depends_on": [task.pk],
    }
    response = as_user(pm).post(url("tasks"), body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert response["Location"] == url("tasks", data["id"])
    assert data["title"] == "Install   concentrators"  # DRF trims the ends only
    assert (data["column"], data["milestone"], data["assignee"]) == (
        columns[1].pk, milestone.pk, pm.pk
    )  # fmt: skip
    assert (data["estimate_hours"], data["start_date"]) == (12.5, "2030-01-07")
    assert data["depends_on"] == [task.pk]
    assert data["forecast_start"] >= "2030-01-07"
    assert Dependency.objects.get().type == "FS"


def test_a_new_task_goes_to_the_bottom_of_the_first_column(as_user, pm, project, columns, task):
    data = as_user(pm).post(url("tasks"), {"project": project.pk, "title": "Next"},
                            format="json").json()  # fmt: skip
    assert (data["column"], data["position"], data["version"]) == (columns[0].pk, 1, 1)


def test_a_new_task_may_be_put_at_a_position(as_user, pm, project, columns, task):
    body = {"project": project.pk, "title": "Urgent", "position": 0}
    data = as_user(pm).post(url("tasks"), body, format="json").json()
    assert data["position"] == 0
    assert as_user(pm).get(url("tasks", task)).json()["position"] == 1


def test_a_planner_changes_a_task_at_its_version(as_user, pm, project, columns, task):
    response = patch(as_user(pm), "tasks", task, version=1, title="Order the kit",
                     estimate_hours=24, assignee=pm.pk, labels=["vendor"])  # fmt: skip
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["title"], data["estimate_hours"], data["assignee"]) == ("Order the kit", 24, pm.pk)
    assert (data["labels"], data["version"]) == (["vendor"], 2)


def test_moving_a_card_by_column_and_position(as_user, pm, project, columns, task):
    second = services.task_create(project=project, title="Second")
    doing = services.task_create(project=project, title="Doing", column=columns[1])
    client = as_user(pm)
    # Another column, no position: its bottom.
    data = patch(client, "tasks", task, version=1, column=columns[1].pk).json()
    assert (data["column"], data["position"]) == (columns[1].pk, 1)
    # The same column, a position: reordered there.
    data = patch(client, "tasks", task, version=1, position=0).json()
    assert (data["column"], data["position"]) == (columns[1].pk, 0)
    assert client.get(url("tasks", doing)).json()["position"] == 1
    # A position past the end: the bottom.
    data = patch(client, "tasks", task, version=1, column=columns[0].pk, position=99).json()
    assert (data["column"], data["position"]) == (columns[0].pk, 1)
    assert client.get(url("tasks", second)).json()["position"] == 0
    # Into the done column: the card is complete.
    data = patch(client, "tasks", task, version=1, column=columns[2].pk).json()
    assert data["completed_at"] is not None


def test_a_move_writes_only_the_moved_card(as_user, pm, project, columns, task):
    others = [services.task_create(project=project, title=f"Card {n}") for n in range(3)]
    ranks = {t.pk: t.rank for t in Task.objects.filter(pk__in=[o.pk for o in others])}
    patch(as_user(pm), "tasks", task, version=1, position=2)
    assert {t.pk: t.rank for t in Task.objects.filter(pk__in=ranks)} == ranks


def test_depends_on_adds_and_removes_links(as_user, pm, project, columns, task):
    a = services.task_create(project=project, title="A")
    b = services.task_create(project=project, title="B")
    services.dependency_add(predecessor=a, successor=task, type="FF", lag_days=3)
    client = as_user(pm)
    data = patch(client, "tasks", task, version=1, depends_on=[a.pk, b.pk, a.pk]).json()
    assert data["depends_on"] == sorted([a.pk, b.pk])
    kept = Dependency.objects.get(predecessor=a)
    assert (kept.type, kept.lag_days) == ("FF", 3)  # a link kept keeps its type and lag
    data = patch(client, "tasks", task, version=1, depends_on=[b.pk]).json()
    assert data["depends_on"] == [b.pk]
    data = patch(client, "tasks", task, version=1, depends_on=[]).json()
    assert data["depends_on"] == []
    assert not Dependency.objects.exists()


def test_a_loop_is_refused_naming_it_and_nothing_is_written(as_user, pm, project, columns, task):
    after = services.task_create(project=project, title="Install")
    services.dependency_add(predecessor=task, successor=after)
    response = patch(as_user(pm), "tasks", task, version=1, title="Renamed",
                     depends_on=[after.pk])  # fmt: skip
    assert response.status_code == 400
    (message,) = response.json()["depends_on"]
    assert message == "That would make a loop: Renamed → Install → Renamed."
    task.refresh_from_db()
    assert (task.title, task.version) == ("Order kit", 1)
    assert Dependency.objects.count() == 1


@pytest.mark.parametrize("ids_", [["self"], [999_999], ["other"]])
def test_depends_on_names_only_other_tasks_of_the_project(
    as_user, pm, project, columns, task, ids_
):
    other_project = factories.ProjectFactory(owner=pm)
    other_column = Column.objects.create(project=other_project, name="To do")
    elsewhere = services.task_create(project=other_project, title="Elsewhere", column=other_column)
    value = {"self": task.pk, "other": elsewhere.pk}.get(ids_[0], ids_[0])
    response = patch(as_user(pm), "tasks", task, version=1, depends_on=[value])
    assert response.status_code == 400
    assert list(response.json()) == ["depends_on"]
    assert not Dependency.objects.exists()


def test_a_stale_version_is_a_409_that_changes_nothing(as_user, pm, project, columns, task):
    client = as_user(pm)
    seen = client.get(url("tasks", task)).json()
    services.task_update(task=task, actor=pm, version=1, title="Changed meanwhile")
    other = services.task_create(project=project, title="Other")
    response = patch(client, "tasks", task, version=seen["version"], title="Mine",
                     column=columns[1].pk, depends_on=[other.pk])  # fmt: skip
    assert response.status_code == 409
    body = response.json()
    assert "version 1" in body["detail"] and "version 2" in body["detail"]
    assert set(body["current"]) == TASK_FIELDS
    assert (body["current"]["title"], body["current"]["version"]) == ("Changed meanwhile", 2)
    task.refresh_from_db()
    assert (task.title, task.column_id) == ("Changed meanwhile", columns[0].pk)
    assert not Dependency.objects.exists()
    retried = patch(client, "tasks", task, version=2, title="Mine")
    assert (retried.status_code, retried.json()["version"]) == (200, 3)


def test_a_patch_without_a_version_is_a_400_naming_it(as_user, pm, task):
    response = patch(as_user(pm), "tasks", task, title="x")
    assert response.json() == {"version": ["This field is required."]}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"version": "abc"}, ["version"]),
        ({"version": 0}, ["version"]),
        ({"version": 10**30}, ["version"]),
        ({"version": True}, ["version"]),
        ({"title": ""}, ["title"]),
        ({"title": "   "}, ["title"]),
        ({"title": "t" * 201}, ["title"]),
        ({"title": "nul\x00"}, ["title"]),
        ({"title": {"a": 1}}, ["title"]),
        ({"column": 999_999}, ["column"]),
        ({"column": "To do"}, ["column"]),
        ({"column": 10**30}, ["column"]),
        ({"position": -1}, ["position"]),
        ({"position": "top"}, ["position"]),
        ({"milestone": 999_999}, ["milestone"]),
        ({"assignee": 999_999}, ["assignee"]),
        ({"assignee": "pm"}, ["assignee"]),
        ({"estimate_hours": "lots"}, ["estimate_hours"]),
        ({"estimate_hours": -1}, ["estimate_hours"]),
        ({"estimate_hours": "NaN"}, ["estimate_hours"]),
        ({"estimate_hours": "Infinity"}, ["estimate_hours"]),
        ({"estimate_hours": 10**6}, ["estimate_hours"]),
        ({"estimate_hours": "1.234"}, ["estimate_hours"]),
        ({"start_date": "soon"}, ["start_date"]),
        ({"start_date": "9999-12-31"}, ["start_date"]),
        ({"start_date": "2030-01-10", "due_date": "2030-01-01"}, ["due_date"]),
        ({"labels": "vpn"}, ["labels"]),
        ({"labels": ["l" * 31]}, ["labels"]),
        ({"labels": [f"l{n}" for n in range(21)]}, ["labels"]),
        ({"depends_on": "1"}, ["depends_on"]),
        ({"depends_on": ["a"]}, ["depends_on"]),
        ({"depends_on": [0]}, ["depends_on"]),
        ({"depends_on": [10**30]}, ["depends_on"]),
        ({"depends_on": list(range(1, 502))}, ["depends_on"]),
        ({"project": 1}, ["project"]),
        ({"forecast_start": "2030-01-01"}, ["forecast_start"]),
        ({"is_critical": True}, ["is_critical"]),
        ({"colour": "red"}, ["colour"]),
    ],
)
def test_a_bad_task_change_is_a_400_naming_the_field(as_user, pm, task, body, fields):
    response = as_user(pm).patch(url("tasks", task), {"version": 1, **body}, format="json")
    assert response.status_code == 400, response.content
    assert sorted(response.json()) == fields
    task.refresh_from_db()
    assert (task.title, task.version) == ("Order kit", 1)


def test_a_read_only_field_says_so(as_user, pm, task):
    response = patch(as_user(pm), "tasks", task, version=1, is_critical=True, colour="red")
    assert response.json() == {
        "colour": ["Unknown field."],
        "is_critical": ["This field cannot be set here."],
    }


def test_a_column_or_milestone_of_another_project_is_refused(as_user, pm, project, task):
    other = factories.ProjectFactory(owner=pm)
    column = Column.objects.create(project=other, name="Theirs")
    milestone = factories.MilestoneFactory(project=other)
    client = as_user(pm)
    assert list(patch(client, "tasks", task, version=1, column=column.pk).json()) == ["column"]
    response = patch(client, "tasks", task, version=1, milestone=milestone.pk)
    assert response.json() == {"milestone": ["Choose a milestone of this project."]}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["project", "title"]),
        ({"project": "VPN", "title": "x"}, ["project"]),
        ({"title": ""}, ["title"]),
        ({"version": 1}, ["version"]),
        ({"column": 999_999}, ["column"]),
    ],
)
def test_a_bad_new_task_is_a_400_naming_the_field(as_user, pm, project, task, body, fields):
    if body and "project" not in body:
        body = {"project": project.pk, "title": "New", **body}
    response = as_user(pm).post(url("tasks"), body, format="json")
    assert response.status_code == 400, response.content
    assert sorted(response.json()) == fields
    assert Task.objects.count() == 1


@pytest.mark.parametrize("payload", ["[1, 2]", '"text"', "42", "null", "{not json"])
@pytest.mark.parametrize("resource", ["milestones", "tasks", "status-updates"])
def test_a_body_that_is_not_a_json_object_is_a_400(as_user, pm, task, resource, payload):
    response = as_user(pm).post(url(resource), payload, content_type="application/json")
    assert response.status_code == 400
    assert response.json()


def test_tasks_filter_by_project_milestone_assignee_and_column(
    as_user, pm, project, columns, milestone, task
):
    loose = services.task_create(project=project, title="Loose", assignee=pm, column=columns[1])
    client = as_user(pm)
    assert ids(client.get(url("tasks"), {"project": project.pk})) == [task.pk, loose.pk]
    assert ids(client.get(url("tasks"), {"milestone": milestone.pk})) == [task.pk]
    assert ids(client.get(url("tasks"), {"milestone": "none"})) == [loose.pk]
    assert ids(client.get(url("tasks"), {"assignee": "me"})) == [loose.pk]
    assert ids(client.get(url("tasks"), {"assignee": pm.pk})) == [loose.pk]
    assert ids(client.get(url("tasks"), {"assignee": "none"})) == [task.pk]
    assert ids(client.get(url("tasks"), {"column": columns[1].pk})) == [loose.pk]


@pytest.mark.parametrize(
    ("resource", "param", "value"),
    [
        ("tasks", "project", "abc"),
        ("tasks", "project", "0"),
        ("tasks", "project", str(10**30)),
        ("tasks", "milestone", "some"),
        ("tasks", "assignee", "someone"),
        ("tasks", "column", "-1"),
        ("tasks", "is_critical", "maybe"),
        ("milestones", "project", "1.5"),
        ("milestones", "kind", "party"),
        ("milestones", "completed", "yes please"),
        ("projects", "status", "sleeping"),
        ("projects", "health", "great"),
        ("projects", "key", "K" * 11),
        ("projects", "archived", "perhaps"),
        ("status-updates", "project", "VPN"),
        ("status-updates", "health", "fine"),
    ],
)
def test_an_unreadable_filter_is_a_400_naming_it(as_user, pm, task, resource, param, value):
    response = as_user(pm).get(url(resource), {param: value})
    assert response.status_code == 400
    assert list(response.json()) == [param]


def forged_cursor(querystring):
    return base64.b64encode(querystring.encode()).decode()


@pytest.mark.parametrize("cursor", ["garbage", forged_cursor("p=abc"), forged_cursor("p=1e400")])
@pytest.mark.parametrize("resource", ["projects", "milestones", "tasks", "status-updates"])
def test_a_bad_cursor_is_refused_cleanly(as_user, pm, task, resource, cursor):
    response = as_user(pm).get(url(resource), {"cursor": cursor})
    assert response.status_code == 400
    assert response.json() == {"cursor": ["Invalid cursor"]}


@pytest.mark.parametrize("pk", ["abc", "0", "-1", str(10**30), "١٢"])
@pytest.mark.parametrize("resource", ["projects", "milestones", "tasks", "status-updates"])
def test_an_unreadable_id_is_a_json_404(as_user, pm, task, resource, pk):
    response = as_user(pm).get(f"/api/v1/{resource}/{pk}/")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_lists_are_cursor_paginated_newest_first(as_user, pm, project, columns):
    tasks = [services.task_create(project=project, title=f"T{n}") for n in range(5)]
    client = as_user(pm)
    first = client.get(url("tasks"), {"page_size": 3}).json()
    assert set(first) == {"next", "previous", "results"}
    assert [row["id"] for row in first["results"]] == [t.pk for t in tasks[:1:-1]]
    second = client.get(first["next"]).json()
    assert [row["id"] for row in second["results"]] == [tasks[1].pk, tasks[0].pk]
    assert second["next"] is None


@pytest.mark.parametrize("rows", [1, 50])
def test_the_task_list_runs_a_constant_number_of_queries(
    as_user, pm, project, columns, rows, django_assert_num_queries
):
    milestone = factories.MilestoneFactory(project=project)
    tasks = Task.objects.bulk_create(
        Task(project=project, column=columns[n % 3], title=f"Task {n}", rank=f"i{n:05d}",
             milestone=milestone, assignee=pm)
        for n in range(rows)
    )  # fmt: skip
    Dependency.objects.bulk_create(
        Dependency(predecessor=a, successor=b) for a, b in pairwise(tasks)
    )
    client = as_user(pm)
    with django_assert_num_queries(3):  # roles; the tasks with their positions; their links
        response = client.get(url("tasks"), {"page_size": 100})
    assert len(results(response)) == rows
    assert all(len(row["depends_on"]) == 1 for row in results(response)[:-1])


@pytest.mark.parametrize("links", [1, 30])
def test_a_task_runs_a_constant_number_of_queries(
    as_user, pm, project, columns, task, links, django_assert_num_queries
):
    Dependency.objects.bulk_create(
        Dependency(predecessor=services.task_create(project=project, title=f"P{n}"),
                   successor=task)
        for n in range(links)
    )  # fmt: skip
    client = as_user(pm)
    with django_assert_num_queries(3):  # roles; the task with its position; its links
        response = client.get(url("tasks", task))
    assert len(response.json()["depends_on"]) == links


# --- Status updates -------------------------------------------------------------------------


def test_publishing_a_status_update_sets_the_projects_health(
    as_user, pm, project, django_capture_on_commit_callbacks
):
    body = {"project": project.pk, "health": "off_track", "summary": "**Blocked** on vendor."}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = as_user(pm).post(url("status-updates"), body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == UPDATE_FIELDS
    assert response["Location"] == url("status-updates", data["id"])
    assert (data["health"], data["summary"], data["author"]) == (
        "off_track", "**Blocked** on vendor.", pm.pk
    )  # fmt: skip
    assert data["author_name"] == pm.get_full_name()
    project.refresh_from_db()
    assert project.health == "off_track"
    assert ProjectEvent.objects.filter(kind="status_update_published").count() == 1
    assert callbacks


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["health", "project", "summary"]),
        ({"health": "great", "summary": "x"}, ["health"]),
        ({"health": "on_track", "summary": ""}, ["summary"]),
        ({"health": "on_track", "summary": " \n "}, ["summary"]),
        ({"health": "on_track", "summary": "s" * 100_001}, ["summary"]),
        ({"health": "on_track", "summary": "x", "author": 1}, ["author"]),
        ({"health": "on_track", "summary": "x", "project": "VPN"}, ["project"]),
    ],
)
def test_a_bad_status_update_is_a_400_naming_the_field(as_user, pm, project, body, fields):
    body = {"project": project.pk, **body} if body else body
    response = as_user(pm).post(url("status-updates"), body, format="json")
    assert response.status_code == 400, response.content
    assert sorted(response.json()) == fields
    assert not StatusUpdate.objects.exists()


def test_status_updates_filter_by_project_and_health(as_user, pm, project, update):
    other = services.status_update_publish(
        project=factories.ProjectFactory(), health="on_track", summary="Fine", actor=pm
    )
    client = as_user(pm)
    assert ids(client.get(url("status-updates"), {"project": project.pk})) == [update.pk]
    assert ids(client.get(url("status-updates"), {"health": "on_track"})) == [other.pk]


@pytest.mark.parametrize("rows", [1, 50])
def test_the_status_update_list_runs_a_constant_number_of_queries(
    as_user, pm, project, rows, django_assert_num_queries
):
    for n in range(rows):
        services.status_update_publish(project=project, health="on_track", summary=f"W{n}",
                                       actor=factories.UserFactory())  # fmt: skip
    client = as_user(pm)
    with django_assert_num_queries(2):  # the caller's roles; the updates with authors
        response = client.get(url("status-updates"), {"page_size": 100})
    assert len(results(response)) == rows


@pytest.mark.parametrize("resource", ["projects", "milestones", "tasks", "status-updates"])
def test_options_describe_the_endpoints_without_failing(as_user, pm, ctx, update, resource):
    obj = {"projects": ctx["project"], "milestones": ctx["milestone"], "tasks": ctx["task"],
           "status-updates": update}[resource]  # fmt: skip
    client = as_user(pm)
    assert client.options(url(resource)).status_code == 200
    assert client.options(url(resource, obj)).status_code == 200


# --- Schema ---------------------------------------------------------------------------------


def test_the_schema_describes_the_project_endpoints(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    assert set(paths["/api/v1/projects/"]) == {"get"}
    assert {"get", "post"} <= set(paths["/api/v1/milestones/"])
    assert {"get", "patch"} <= set(paths["/api/v1/milestones/{id}/"])
    assert {"get", "post"} <= set(paths["/api/v1/tasks/"])
    assert {"get", "patch"} <= set(paths["/api/v1/tasks/{id}/"])
    assert "409" in paths["/api/v1/tasks/{id}/"]["patch"]["responses"]
    assert {"get", "post"} <= set(paths["/api/v1/status-updates/"])
    assert set(paths["/api/v1/status-updates/{id}/"]) == {"get"}
    filters = {p["name"] for p in paths["/api/v1/tasks/"]["get"]["parameters"]}
    assert {"project", "milestone", "assignee", "column"} <= filters
