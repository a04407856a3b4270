"""The project pages: who may open and post to each, what each shows, forms that keep
what was typed, constant query counts, and the weekly status update reminder."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from celery import Celery
from django.core.cache import cache
from django.utils import timezone

from config.celery import _schedule_periodic_tasks
from config.celery import app as celery_app
from projects import services, tasks
from projects.models import (
    LessonLearned,
    Milestone,
    MilestoneSlip,
    Project,
    ProjectEvent,
    Risk,
    StatusUpdate,
)
from projects.views.pages import heat_map, risk_level, spread_hours, week_start
from tests import factories
from tests.projects import page_factories as pf

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def status_of(response):
    if response.status_code == 302 and response["Location"].startswith(LOGIN):
        return "login"
    return response.status_code


def page_text(response) -> str:
    """The visible text of a page, whitespace collapsed, for phrases split over lines."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def member(db, project):
    """An agent on the project's team: may plan it without being a project manager."""
    user = factories.AgentFactory(username="member")
    project.members.add(user)
    return user


@pytest.fixture
def milestone(project):
    return factories.MilestoneFactory(project=project, name="Pilot live")


@pytest.fixture
def risk(project):
    return pf.RiskFactory(project=project, title="Vendor goes bust", probability=2, impact=5)


@pytest.fixture
def cast(agent, outsider, pm, stakeholder, admin, member):
    return {
        "pm": pm,
        "member": member,
        "agent": agent,
        "outsider": outsider,
        "stakeholder": stakeholder,
        "admin": admin,
        "anonymous": None,
    }


# --- Access: every page ----------------------------------------------------------------

READ_PAGES = [
    "/projects/VPN/",
    "/projects/VPN/milestones/",
    "/projects/VPN/risks/",
    "/projects/VPN/updates/",
    "/projects/VPN/review/",
]
WRITE_PAGES = [
    "/projects/VPN/edit/",
    "/projects/VPN/milestones/{milestone}/reschedule/",
    "/projects/VPN/risks/{risk}/edit/",
]


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("pm", 200),
        ("member", 200),
        ("agent", 200),
        ("outsider", 200),
        ("admin", 200),
        ("stakeholder", 403),  # project pages are for staff; the status page is theirs
        ("anonymous", "login"),
    ],
)
@pytest.mark.parametrize("path", READ_PAGES)
def test_project_pages_are_read_by_staff(client_for, cast, project, path, who, expected):
    assert status_of(client_for(cast[who]).get(path)) == expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("pm", 200),
        ("member", 200),
        ("admin", 200),
        ("agent", 403),
        ("outsider", 403),
        ("stakeholder", 403),
        ("anonymous", "login"),
    ],
)
@pytest.mark.parametrize("path", WRITE_PAGES)
def test_edit_pages_are_for_those_who_plan(
    client_for, cast, project, milestone, risk, path, who, expected
):
    url = path.format(milestone=milestone.pk, risk=risk.pk)
    assert status_of(client_for(cast[who]).get(url)) == expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("pm", 200),
        ("admin", 200),
        ("agent", 403),
        ("member", 403),
        ("stakeholder", 403),
        ("anonymous", "login"),
    ],
)
def test_only_project_managers_start_projects(client_for, cast, who, expected):
    assert status_of(client_for(cast[who]).get("/projects/new/")) == expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [("pm", 200), ("agent", 200), ("admin", 200), ("stakeholder", 403), ("anonymous", "login")],
)
@pytest.mark.parametrize("path", ["/projects/", "/projects/workload/"])
def test_list_and_workload_are_for_staff(client_for, cast, path, who, expected):
    assert status_of(client_for(cast[who]).get(path)) == expected


@pytest.mark.parametrize("path", [*READ_PAGES, "/projects/VPN/edit/"])
def test_a_private_project_is_404_to_a_stakeholder_who_cannot_see_it(
    client_for, stakeholder, project, path
):
    Project.objects.filter(pk=project.pk).update(visibility=Project.Visibility.PRIVATE)
    assert client_for(stakeholder).get(path).status_code == 404


@pytest.mark.parametrize("path", [*READ_PAGES, "/projects/VPN/edit/"])
def test_an_unknown_project_is_404(client_for, pm, path):
    assert client_for(pm).get(path.replace("VPN", "NOPE")).status_code == 404


def test_a_milestone_or_risk_of_another_project_is_404(client_for, pm, project):
    other = factories.ProjectFactory()
    foreign_milestone = factories.MilestoneFactory(project=other)
    foreign_risk = pf.RiskFactory(project=other)
    client = client_for(pm)
    assert (
        client.get(f"/projects/VPN/milestones/{foreign_milestone.pk}/reschedule/").status_code
        == 404
    )
    assert client.get(f"/projects/VPN/risks/{foreign_risk.pk}/edit/").status_code == 404
    assert client.post(f"/projects/VPN/risks/{foreign_risk.pk}/close/").status_code == 404
    assert (
        client.post(f"/projects/VPN/milestones/{foreign_milestone.pk}/complete/").status_code == 404
    )


def _posts(milestone, risk):
    today = timezone.localdate()
    return {
        "archive": ("/projects/VPN/archive/", {}),
        "edit": (
            "/projects/VPN/edit/",
            {"name": "VPN 2", "status": "active", "visibility": "public"},
        ),
        "milestone": (
            "/projects/VPN/milestones/",
            {"name": "Go", "kind": "regular", "target_date": today.isoformat()},
        ),
        "reschedule": (
            f"/projects/VPN/milestones/{milestone.pk}/reschedule/",
            {"target_date": (milestone.target_date + timedelta(days=3)).isoformat(), "reason": "x"},
        ),
        "complete": (f"/projects/VPN/milestones/{milestone.pk}/complete/", {}),
        "risk": ("/projects/VPN/risks/", {"title": "R", "probability": "2", "impact": "2"}),
        "risk_edit": (
            f"/projects/VPN/risks/{risk.pk}/edit/",
            {"title": "R2", "probability": "2", "impact": "2", "status": "open"},
        ),
        "risk_close": (f"/projects/VPN/risks/{risk.pk}/close/", {}),
        "update": ("/projects/VPN/updates/", {"health": "at_risk", "summary": "Late"}),
        "lesson": ("/projects/VPN/review/", {"text": "Order early"}),
    }


ACTIONS = [
    "archive", "edit", "milestone", "reschedule", "complete", "risk", "risk_edit", "risk_close",
    "update", "lesson",
]  # fmt: skip


@pytest.mark.parametrize(
    ("who", "expected"),
    [("agent", 403), ("outsider", 403), ("stakeholder", 403), ("anonymous", "login")],
)
@pytest.mark.parametrize("action", ACTIONS)
def test_readers_cannot_post(client_for, cast, project, milestone, risk, action, who, expected):
    url, data = _posts(milestone, risk)[action]
    before = (
        ProjectEvent.objects.count(),
        Risk.objects.filter(status="open").count(),
        StatusUpdate.objects.count(),
        LessonLearned.objects.count(),
        Milestone.objects.count(),
    )
    assert status_of(client_for(cast[who]).post(url, data)) == expected
    after = (
        ProjectEvent.objects.count(),
        Risk.objects.filter(status="open").count(),
        StatusUpdate.objects.count(),
        LessonLearned.objects.count(),
        Milestone.objects.count(),
    )
    assert after == before
    project.refresh_from_db()
    assert project.archived_at is None and project.name == "VPN replacement"


@pytest.mark.parametrize("who", ["pm", "member"])
@pytest.mark.parametrize("action", ACTIONS)
def test_planners_can_post(client_for, cast, project, milestone, risk, action, who):
    url, data = _posts(milestone, risk)[action]
    response = client_for(cast[who]).post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]


@pytest.mark.parametrize(
    "path",
    [
        "/projects/VPN/archive/",
        "/projects/VPN/milestones/{m}/complete/",
        "/projects/VPN/risks/{r}/close/",
    ],
)
def test_actions_answer_only_post(client_for, pm, milestone, risk, path):
    url = path.format(m=milestone.pk, r=risk.pk)
    assert client_for(pm).get(url).status_code == 405


def test_published_status_updates_have_no_edit_route(client_for, pm, project):
    update = services.status_update_publish(
        project=project, health="on_track", summary="Hi", actor=pm
    )
    client = client_for(pm)
    assert client.get(f"/projects/VPN/updates/{update.pk}/").status_code == 404
    assert client.get(f"/projects/VPN/updates/{update.pk}/edit/").status_code == 404
    assert (
        client.post(f"/projects/VPN/updates/{update.pk}/edit/", {"summary": "x"}).status_code == 404
    )


def test_readers_see_no_write_controls(client_for, agent, project, milestone, risk):
    for path in READ_PAGES:
        html = client_for(agent).get(path).content.decode()
        main = html.split('<main id="main"', 1)[1]  # the top bar's log-out form aside
        assert 'method="post"' not in main, path
        assert "Edit project" not in html


# --- The project list ----------------------------------------------------------------


@pytest.mark.parametrize("rows", [5, 50])
def test_project_list_runs_a_constant_number_of_queries(
    client_for, pm, agent, rows, django_assert_num_queries
):
    for project in factories.ProjectFactory.create_batch(rows, owner=pm, liaison=agent):
        factories.MilestoneFactory.create_batch(3, project=project)
    client = client_for(pm)
    # session, user, roles, projects with owner and liaison, their open milestones
    with django_assert_num_queries(5):
        response = client.get("/projects/?health=on_track&mine=on&status=active")
    assert len(response.context["projects"]) == rows


def test_project_list_shows_the_next_milestone_with_its_expected_date(client_for, pm, project):
    today = timezone.localdate()
    factories.MilestoneFactory(
        project=project, name="Done one", baseline_date=today, completed_at=timezone.now()
    )
    factories.MilestoneFactory(
        project=project,
        name="Later one",
        baseline_date=today + timedelta(days=40),
    )
    factories.MilestoneFactory(
        project=project,
        name="Next one",
        baseline_date=today + timedelta(days=10),
        target_date=today + timedelta(days=15),
    )
    text = page_text(client_for(pm).get("/projects/"))
    expected = (today + timedelta(days=15)).strftime("%-d %b %Y")
    assert "Next one" in text and expected in text and "+5 d" in text
    assert "Later one" not in text and "Done one" not in text


def test_project_list_filters(client_for, pm, agent, project):
    at_risk = factories.ProjectFactory(name="Wi-Fi refresh", health="at_risk", liaison=agent)
    planning = factories.ProjectFactory(name="Phone system", status="planning")
    archived = factories.ProjectFactory(name="Old intranet", archived_at=timezone.now())
    mine = factories.ProjectFactory(name="Team project")
    mine.members.add(agent)
    client = client_for(agent)

    def names(query):
        return {p.name for p in client.get(f"/projects/?{query}").context["projects"]}

    everything_current = {project.name, at_risk.name, planning.name, mine.name}
    assert names("") == everything_current
    assert names("status=planning") == {planning.name}
    assert names("status=archived") == {archived.name}
    assert names("status=all") == everything_current | {archived.name}
    assert names("health=at_risk") == {at_risk.name}
    assert names("mine=on") == {at_risk.name, mine.name}  # liaison of one, member of the other
    assert names("status=bogus&health=<script>") == everything_current  # ignored, not an error


def test_project_list_pages_by_keyset(client_for, pm, monkeypatch):
    monkeypatch.setattr("projects.views.pages.PAGE_SIZE", 2)
    for name in ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]:
        factories.ProjectFactory(name=name)
    client = client_for(pm)
    seen = []
    url = "/projects/"
    while url:
        response = client.get(url)
        seen += [p.name for p in response.context["projects"]]
        url = (
            f"/projects/?{response.context['next_query']}" if response.context["next_query"] else ""
        )
    assert seen == ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]
    assert client.get("/projects/?after=not-a-cursor").status_code == 200
    assert client.get("/projects/?after=WzEsMl0").status_code == 200  # [1, 2]: wrong types


# --- Create, edit, archive ------------------------------------------------------------


def _new_project_data(pm, **overrides):
    data = {
        "name": "Network refresh",
        "key": "net",
        "slug": "network-refresh",
        "owner": pm.pk,
        "status": "planning",
        "visibility": "stakeholders",
        "start_date": "2030-01-06",
        "target_date": "2030-06-30",
        "description": "Core switches **first**.",
    }
    data.update(overrides)
    return data


def test_a_pm_creates_a_project_with_columns_team_and_stakeholders(
    client_for, pm, agent, stakeholder
):
    data = _new_project_data(
        pm, liaison=agent.pk, members=[agent.pk], stakeholders=[stakeholder.pk]
    )
    response = client_for(pm).post("/projects/new/", data)
    project = Project.objects.get(key="NET")
    assert response.status_code == 302 and response["Location"] == "/projects/NET/"
    assert (project.owner, project.liaison, project.status) == (pm, agent, "planning")
    assert list(project.members.all()) == [agent]
    assert list(project.stakeholders.all()) == [stakeholder]
    assert project.columns.count() == 4
    assert ProjectEvent.objects.filter(project=project, payload__change="created").exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"key": "1bad"}, "key"),
        ({"key": "VPN"}, "key"),  # taken by the fixture project
        ({"slug": "vpn"}, "slug"),
        ({"name": ""}, "name"),
        ({"target_date": "2029-01-01"}, "target_date"),  # before the start
        ({"start_date": "31/02/2030"}, "start_date"),
        ({"status": "exploded"}, "status"),
        ({"owner": "999999"}, "owner"),
    ],
)
def test_a_bad_new_project_comes_back_with_what_was_typed(
    client_for, pm, project, overrides, field
):
    data = _new_project_data(pm, **overrides)
    response = client_for(pm).post("/projects/new/", data)
    assert response.status_code == 400
    form = response.context["form"]
    assert (field in form.errors) if field else form.non_field_errors()
    html = response.content.decode()
    assert 'value="Network refresh"' in html or overrides.get("name") == ""
    assert "Core switches **first**." in html
    assert not Project.objects.filter(slug="network-refresh").exists()


def test_edit_changes_the_project_and_records_it(client_for, pm, agent, project, stakeholder):
    client = client_for(pm)
    form = client.get("/projects/VPN/edit/").context["form"]
    assert "key" not in form.fields and "health" not in form.fields
    response = client.post(
        "/projects/VPN/edit/",
        {
            "name": "VPN replacement",
            "status": "active",
            "visibility": "public",
            "liaison": agent.pk,
            "members": [agent.pk],
            "stakeholders": [],
            "target_date": "2031-01-31",
        },
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.status, project.visibility, project.liaison) == ("active", "public", agent)
    assert project.target_date == date(2031, 1, 31)
    assert list(project.members.all()) == [agent]
    assert not project.stakeholders.exists()
    event = ProjectEvent.objects.filter(project=project).latest("id")
    assert event.payload["changes"]["visibility"] == ["stakeholders", "public"]
    text = page_text(client.get("/projects/VPN/"))
    assert "changed the status page visibility from Stakeholders to Public" in text
    assert f"changed the liaison from nobody to {agent.get_full_name()}" in text


def test_a_bad_edit_keeps_what_was_typed_and_changes_nothing(client_for, pm, project):
    response = client_for(pm).post(
        "/projects/VPN/edit/",
        {
            "name": "Renamed while typing",
            "status": "active",
            "visibility": "public",
            "start_date": "2030-05-01",
            "target_date": "2030-04-01",
        },
    )
    assert response.status_code == 400
    assert 'value="Renamed while typing"' in response.content.decode()
    assert "The target date cannot be before the start date." in response.content.decode()
    # The head still shows the saved name, not the typed one.
    assert "<h1>VPN replacement</h1>" in response.content.decode()
    project.refresh_from_db()
    assert project.name == "VPN replacement" and project.visibility == "stakeholders"


def test_archive_moves_the_project_out_of_the_current_list(client_for, pm, project):
    client = client_for(pm)
    assert client.post("/projects/VPN/archive/").status_code == 302
    project.refresh_from_db()
    assert project.archived_at is not None
    assert project not in client.get("/projects/").context["projects"]
    assert project in client.get("/projects/?status=archived").context["projects"]
    assert "Archived" in client.get("/projects/VPN/").content.decode()
    assert client.post("/projects/VPN/archive/", follow=True).status_code == 200  # twice: fine


# --- The project's home ---------------------------------------------------------------


@pytest.mark.parametrize("rows", [5, 500])
def test_project_page_runs_a_constant_number_of_queries(
    client_for, pm, agent, project, rows, django_assert_num_queries
):
    column = pf.ColumnFactory(project=project)
    milestones = factories.MilestoneFactory.create_batch(rows, project=project)
    pf.TaskFactory.create_batch(rows, project=project, column=column, assignee=agent)
    for m in milestones[:5]:
        pf.SlipFactory(milestone=m, author=pm)
    pf.RiskFactory.create_batch(min(rows, 20), project=project, owner=agent)
    pf.StatusUpdateFactory(project=project, author=pm)
    pf.ProjectEventFactory.create_batch(min(rows, 20), project=project, actor=pm)
    client = client_for(pm)
    # session, user, roles, project, latest update, milestones, top risks, task totals,
    # events, slips
    with django_assert_num_queries(12):
        response = client.get("/projects/VPN/")
    assert len(response.context["milestones"]) == rows
    assert response.context["progress"]["total"] == rows


def test_project_page_shows_health_latest_update_risks_and_activity(
    client_for, pm, agent, project, milestone
):
    services.status_update_publish(project=project, health="on_track", summary="Old news", actor=pm)
    services.status_update_publish(
        project=project, health="at_risk", summary="Certificates **expire** soon", actor=pm
    )
    pf.RiskFactory(project=project, title="Low thing", probability=1, impact=2)
    pf.RiskFactory(project=project, title="Big thing", probability=5, impact=5)
    pf.RiskFactory(project=project, title="Closed thing", probability=5, impact=5, status="closed")
    services.milestone_reschedule(
        milestone=milestone,
        target_date=milestone.target_date + timedelta(days=9),
        reason="Vendor shipped the wrong firmware",
        actor=pm,
    )
    response = client_for(agent).get("/projects/VPN/")
    html = response.content.decode()
    text = page_text(response)
    assert "<strong>expire</strong>" in html
    assert "Old news" not in html
    assert "At risk" in text
    assert [r.title for r in response.context["top_risks"]] == ["Big thing", "Low thing"]
    assert response.context["open_risk_count"] == 2
    assert "Closed thing" not in text
    assert "+9 d" in text
    assert "moved “Pilot live” from" in text
    # Its forecast merely followed the target: not repeated as a line of its own.
    assert "Forecast of “Pilot live” moved" not in text
    assert "Vendor shipped the wrong firmware" in text
    assert "published a status update: At risk" in text


def test_project_page_leaves_a_block_for_linked_tickets():
    # The liaison app fills it with the open linked tickets count; projects knows nothing
    # of tickets and shows nothing there by itself.
    from django.template.loader import get_template
    from django.template.loader_tags import BlockNode

    template = get_template("projects/project_detail.html").template
    blocks = {node.name for node in template.nodelist.get_nodes_by_type(BlockNode)}
    assert "linked_tickets" in blocks


def test_pages_survive_people_who_were_deleted(client_for, pm, project, milestone):
    pf.StatusUpdateFactory(project=project, author=None)
    pf.SlipFactory(milestone=milestone, author=None)
    pf.ProjectEventFactory(project=project, actor=None)
    pf.LessonFactory(project=project, author=None)
    client = client_for(pm)
    for path in [*READ_PAGES, f"/projects/VPN/milestones/{milestone.pk}/reschedule/"]:
        assert client.get(path).status_code == 200, path
    assert "Bridgedesk created the project" in page_text(client.get("/projects/VPN/"))


def test_project_page_says_when_a_weekly_update_is_overdue(client_for, pm, project):
    update = pf.StatusUpdateFactory(project=project, author=pm)
    client = client_for(pm)
    assert "More than a week old" not in client.get("/projects/VPN/").content.decode()
    pf.backdate(update, 8)
    assert "More than a week old" in client.get("/projects/VPN/").content.decode()


def test_hostile_text_on_project_pages_is_inert(client_for, pm, project, milestone):
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">[x](javascript:alert(3))'
    services.status_update_publish(project=project, health="on_track", summary=hostile, actor=pm)
    pf.RiskFactory(project=project, title=hostile, mitigation=hostile, description=hostile)
    LessonLearned.objects.create(project=project, text=hostile, author=pm)
    services.milestone_reschedule(
        milestone=milestone, target_date=milestone.target_date + timedelta(days=1),
        reason=hostile, actor=pm,
    )  # fmt: skip
    client = client_for(pm)
    for path in READ_PAGES:
        html = client.get(path).content.decode()
        assert "<script>alert" not in html, path
        assert "<img" not in html, path
        assert 'href="javascript:' not in html, path


# --- Milestones -------------------------------------------------------------------------


def test_adding_a_milestone_sets_its_baseline_to_its_first_target(client_for, pm, project):
    response = client_for(pm).post(
        "/projects/VPN/milestones/",
        {"name": "Go-live", "kind": "go_live", "target_date": "2030-03-01"},
    )
    assert response.status_code == 302
    milestone = project.milestones.get(kind="go_live")
    assert milestone.baseline_date == milestone.target_date == date(2030, 3, 1)
    assert milestone.kind == "go_live"


def test_a_bad_milestone_comes_back_with_what_was_typed(client_for, pm, project):
    response = client_for(pm).post(
        "/projects/VPN/milestones/", {"name": "Go-live", "kind": "go_live", "target_date": "soon"}
    )
    assert response.status_code == 400
    assert "target_date" in response.context["form"].errors
    assert 'value="Go-live"' in response.content.decode()
    assert not project.milestones.exists()


def test_moving_a_milestone_records_the_slip_and_shows_its_history(client_for, pm, milestone):
    client = client_for(pm)
    first = milestone.target_date + timedelta(days=7)
    second = milestone.target_date + timedelta(days=12)
    url = f"/projects/VPN/milestones/{milestone.pk}/reschedule/"
    assert (
        client.post(url, {"target_date": first.isoformat(), "reason": "Kit late"}).status_code
        == 302
    )
    assert (
        client.post(url, {"target_date": second.isoformat(), "reason": "Holiday"}).status_code
        == 302
    )
    milestone.refresh_from_db()
    assert milestone.target_date == second
    assert milestone.baseline_date == second - timedelta(days=12)
    assert list(milestone.slips.values_list("reason", flat=True)) == ["Holiday", "Kit late"]
    assert MilestoneSlip.objects.filter(author=pm).count() == 2
    text = page_text(client.get("/projects/VPN/milestones/"))
    assert "Kit late" in text and "Holiday" in text and "+12 d" in text
    assert pm.get_full_name() in text
    assert "Holiday" in page_text(client.get(url))  # the history beside the form too


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"target_date": "2031-01-01", "reason": "  "}, "reason"),
        ({"target_date": "2031-01-01"}, "reason"),
        ({"target_date": "never", "reason": "Kit late"}, "target_date"),
        ({"reason": "Kit late"}, "target_date"),
    ],
)
def test_a_move_needs_a_date_and_a_reason_and_keeps_what_was_typed(
    client_for, pm, milestone, data, field
):
    url = f"/projects/VPN/milestones/{milestone.pk}/reschedule/"
    response = client_for(pm).post(url, data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    if data.get("reason", "").strip():
        assert data["reason"] in response.content.decode()
    assert not MilestoneSlip.objects.exists()


def test_moving_to_the_same_date_is_refused(client_for, pm, milestone):
    url = f"/projects/VPN/milestones/{milestone.pk}/reschedule/"
    response = client_for(pm).post(
        url, {"target_date": milestone.target_date.isoformat(), "reason": "x"}
    )
    assert response.status_code == 400
    assert "already its target date" in response.content.decode()


def test_a_completed_milestone_cannot_move(client_for, pm, milestone):
    client = client_for(pm)
    assert client.post(f"/projects/VPN/milestones/{milestone.pk}/complete/").status_code == 302
    milestone.refresh_from_db()
    assert milestone.completed_at is not None
    assert ProjectEvent.objects.filter(kind="milestone_completed").count() == 1
    # Completing twice is harmless and announces nothing new.
    client.post(f"/projects/VPN/milestones/{milestone.pk}/complete/")
    assert ProjectEvent.objects.filter(kind="milestone_completed").count() == 1
    response = client.post(
        f"/projects/VPN/milestones/{milestone.pk}/reschedule/",
        {"target_date": "2031-01-01", "reason": "Too late"},
    )
    assert response.status_code == 400
    assert "complete" in response.content.decode()


@pytest.mark.parametrize("rows", [5, 100])
def test_milestones_page_runs_a_constant_number_of_queries(
    client_for, pm, project, rows, django_assert_num_queries
):
    for m in factories.MilestoneFactory.create_batch(rows, project=project):
        pf.SlipFactory.create_batch(2, milestone=m, author=pm)
    client = client_for(pm)
    # session, user, roles, project, milestones, their slips with authors
    with django_assert_num_queries(7):
        client.get("/projects/VPN/milestones/")


# --- Risks ------------------------------------------------------------------------------


def test_risk_levels_follow_the_5x5_bands():
    assert [risk_level(s) for s in (1, 4, 5, 9, 10, 16, 20, 25)] == [
        "low", "low", "medium", "medium", "high", "high", "extreme", "extreme",
    ]  # fmt: skip
    rows = heat_map({(5, 5): 2, (1, 1): 1})
    assert [row["impact"] for row in rows] == [5, 4, 3, 2, 1]
    assert rows[0]["cells"][4] == {
        "probability": 5, "impact": 5, "score": 25, "level": "extreme",
        "level_label": "Extreme", "count": 2,
    }  # fmt: skip
    assert rows[4]["cells"][0]["count"] == 1


def test_heat_map_counts_open_risks_per_cell_with_accessible_text(client_for, agent, project):
    pf.RiskFactory.create_batch(2, project=project, probability=4, impact=5)
    pf.RiskFactory(project=project, probability=1, impact=1)
    pf.RiskFactory(project=project, probability=4, impact=5, status="closed")
    html = client_for(agent).get("/projects/VPN/risks/").content.decode()
    assert 'aria-label="Probability 4, impact 5, score 20 (Extreme): 2 open risks"' in html
    assert 'aria-label="Probability 1, impact 1, score 1 (Low): 1 open risk"' in html
    assert "Probability 3, impact 3, score 9 (Medium): none" in html
    assert "<caption" in html


def test_a_heat_map_cell_filters_the_register(client_for, agent, project):
    pf.RiskFactory(project=project, title="Power cut", probability=4, impact=5)
    pf.RiskFactory(project=project, title="Typo in docs", probability=1, impact=1)
    response = client_for(agent).get("/projects/VPN/risks/?p=4&i=5")
    assert [r.title for r in response.context["open_risks"]] == ["Power cut"]
    assert client_for(agent).get("/projects/VPN/risks/?p=9&i=x").status_code == 200


def test_risks_are_created_edited_and_closed(client_for, pm, agent, project):
    client = client_for(pm)
    response = client.post(
        "/projects/VPN/risks/",
        {"title": "Licences run out", "probability": "4", "impact": "3", "owner": agent.pk,
         "mitigation": "Renew early", "review_date": "2030-02-01"},
    )  # fmt: skip
    assert response.status_code == 302
    risk = project.risks.get()
    assert (risk.score, risk.owner, risk.status) == (12, agent, "open")
    response = client.post(
        f"/projects/VPN/risks/{risk.pk}/edit/",
        {"title": "Licences run out", "probability": "2", "impact": "3", "status": "open"},
    )
    assert response.status_code == 302
    risk.refresh_from_db()
    assert risk.score == 6 and risk.owner is None
    assert client.post(f"/projects/VPN/risks/{risk.pk}/close/").status_code == 302
    risk.refresh_from_db()
    assert risk.status == "closed"
    response = client.get("/projects/VPN/risks/")
    assert response.context["closed_risks"] == [risk]
    assert response.context["open_count"] == 0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"title": "X", "probability": "6", "impact": "3"}, "probability"),
        ({"title": "X", "probability": "3", "impact": "0"}, "impact"),
        ({"title": "", "probability": "3", "impact": "3"}, "title"),
        ({"title": "X", "probability": "3", "impact": "3", "review_date": "soon"}, "review_date"),
    ],
)
def test_a_bad_risk_comes_back_with_what_was_typed(client_for, pm, project, data, field):
    data = {**data, "mitigation": "Keep spare switches"}
    response = client_for(pm).post("/projects/VPN/risks/", data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert "Keep spare switches" in response.content.decode()
    assert not project.risks.exists()


def test_a_bad_risk_edit_keeps_what_was_typed(client_for, pm, risk):
    response = client_for(pm).post(
        f"/projects/VPN/risks/{risk.pk}/edit/",
        {"title": "Typed title", "probability": "3", "impact": "3", "status": "maybe"},
    )
    assert response.status_code == 400
    assert 'value="Typed title"' in response.content.decode()
    risk.refresh_from_db()
    assert risk.title == "Vendor goes bust"


@pytest.mark.parametrize("rows", [5, 100])
def test_risks_page_runs_a_constant_number_of_queries(
    client_for, pm, agent, project, rows, django_assert_num_queries
):
    for n in range(rows):
        pf.RiskFactory(project=project, probability=n % 5 + 1, impact=(n // 5) % 5 + 1, owner=agent)
    client = client_for(pm)
    # session, user, roles, project, heat map counts, the risks with owners, owner choices
    with django_assert_num_queries(8):
        client.get("/projects/VPN/risks/")


# --- Status updates --------------------------------------------------------------------


def test_publishing_an_update_sets_the_projects_health(client_for, pm, project):
    client = client_for(pm)
    response = client.post(
        "/projects/VPN/updates/", {"health": "off_track", "summary": "Firewall **blocked**"}
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.health == "off_track"
    update = project.status_updates.get()
    assert (update.author, update.summary) == (pm, "Firewall **blocked**")
    assert "<strong>blocked</strong>" in client.get("/projects/VPN/updates/").content.decode()


def test_updates_are_listed_newest_first_and_paged(client_for, agent, project, monkeypatch):
    monkeypatch.setattr("projects.views.pages.UPDATES_PAGE", 2)
    for n in range(5):
        pf.StatusUpdateFactory(project=project, summary=f"Week {n}")
    client = client_for(agent)
    response = client.get("/projects/VPN/updates/")
    assert [u.summary for u in response.context["updates"]] == ["Week 4", "Week 3"]
    older = response.context["older"]
    response = client.get(f"/projects/VPN/updates/?before={older}")
    assert [u.summary for u in response.context["updates"]] == ["Week 2", "Week 1"]
    assert client.get("/projects/VPN/updates/?before=abc").status_code == 200


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"health": "at_risk", "summary": "   "}, "summary"),
        ({"health": "splendid", "summary": "All fine"}, "health"),
        ({"summary": "All fine"}, "health"),
    ],
)
def test_a_bad_update_comes_back_with_what_was_typed(client_for, pm, project, data, field):
    response = client_for(pm).post("/projects/VPN/updates/", data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    html = response.content.decode()
    if data["summary"].strip():
        assert data["summary"] in html
    if data.get("health") == "at_risk":
        assert re.search(r'value="at_risk"[^>]*checked', html)
    assert not project.status_updates.exists()
    project.refresh_from_db()
    assert project.health == "on_track"


@pytest.mark.parametrize("rows", [5, 50])
def test_updates_page_runs_a_constant_number_of_queries(
    client_for, pm, project, rows, django_assert_num_queries
):
    pf.StatusUpdateFactory.create_batch(rows, project=project, author=pm)
    # session, user, roles, project, updates with authors
    client = client_for(pm)
    with django_assert_num_queries(6):
        client.get("/projects/VPN/updates/")


# --- Weekly reminder -----------------------------------------------------------------------


@pytest.fixture
def reminder_cache():
    """Forget the reminders' once-a-week claims around each test (never cache.clear():
    under Redis that would empty the whole database, other runs' keys included)."""
    keys = []

    def track(project):
        keys.append(tasks.reminder_key(project.pk))
        cache.delete(keys[-1])
        return project

    yield track
    cache.delete_many(keys)


@pytest.fixture
def eager_celery():
    """Run .delay() inline for this test: the sweep's fan-out becomes observable."""
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = False


def _stale(project, days=8):
    pf.backdate(project, days)
    return project


def test_owner_is_reminded_once_a_week_when_no_update_was_published(
    pm, project, mailoutbox, reminder_cache, eager_celery
):
    reminder_cache(_stale(project))
    assert tasks.remind_status_updates() == 1
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [pm.email]
    assert "[VPN]" in mail.subject
    assert "/projects/VPN/updates/" in mail.body
    assert "has no status update yet" in mail.body
    # The next day's sweep, and a redelivered task, send nothing more this week.
    assert tasks.remind_status_updates() == 0
    assert tasks.send_status_update_reminder(project.pk) is False
    assert len(mailoutbox) == 1
    # A week later (the claim has expired) the owner hears again.
    cache.delete(tasks.reminder_key(project.pk))
    assert tasks.remind_status_updates() == 1
    assert len(mailoutbox) == 2


def test_an_old_update_is_reminded_with_its_date(pm, project, mailoutbox, reminder_cache):
    reminder_cache(_stale(project, 30))
    update = pf.StatusUpdateFactory(project=project)
    pf.backdate(update, 9)
    assert tasks.send_status_update_reminder(project.pk) is True
    assert "has had no status update since" in mailoutbox[0].body


@pytest.mark.parametrize(
    "case", ["recent_update", "new_project", "done", "planning", "archived", "started_recently"]
)
def test_no_reminder_when_none_is_due(pm, project, mailoutbox, reminder_cache, case):
    reminder_cache(_stale(project))
    today = timezone.localdate()
    if case == "recent_update":
        pf.StatusUpdateFactory(project=project)
    elif case == "new_project":
        pf.backdate(project, 3)
    elif case == "started_recently":
        Project.objects.filter(pk=project.pk).update(start_date=today - timedelta(days=2))
    elif case == "archived":
        Project.objects.filter(pk=project.pk).update(archived_at=timezone.now())
    else:
        Project.objects.filter(pk=project.pk).update(status=case)
    assert not tasks.projects_needing_an_update().filter(pk=project.pk).exists()
    assert tasks.send_status_update_reminder(project.pk) is False
    assert mailoutbox == []


def test_a_failed_send_gives_the_claim_back(pm, project, reminder_cache, monkeypatch):
    reminder_cache(_stale(project))

    def smtp_down(self, *args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", smtp_down)
    with pytest.raises(OSError):
        tasks.send_status_update_reminder.run(project.pk)
    assert cache.get(tasks.reminder_key(project.pk)) is None


def test_beat_runs_the_reminder_sweep_daily(settings):
    app = Celery("beat-schedule-test", set_as_current=False)
    _schedule_periodic_tasks(app)
    entries = {entry["task"]: entry for entry in app.conf.beat_schedule.values()}
    schedule = entries["projects.tasks.remind_status_updates"]["schedule"]
    assert schedule.hour == {8} and schedule.minute == {0}
    assert schedule.day_of_week == set(range(7))


# --- Workload ----------------------------------------------------------------------------

MONDAY = date(2030, 1, 7)
WEEKS = [MONDAY + timedelta(weeks=n) for n in range(8)]


def test_hours_spread_over_the_working_days_of_the_forecast():
    # Thursday to the next Wednesday: 2 working days in week 0, 3 in week 1.
    placed, later = spread_hours(
        Decimal(10), start=MONDAY + timedelta(days=3), finish=MONDAY + timedelta(days=9),
        due=None, weeks=WEEKS,
    )  # fmt: skip
    assert placed == {0: Decimal(4), 1: Decimal(6)} and later == 0


def test_hours_fall_in_the_due_week_else_this_week_and_past_work_counts_now():
    assert spread_hours(Decimal(5), start=None, finish=None, due=MONDAY + timedelta(days=16),
                        weeks=WEEKS)[0] == {2: Decimal(5)}  # fmt: skip
    assert spread_hours(Decimal(5), start=None, finish=None, due=None, weeks=WEEKS)[0] == {
        0: Decimal(5)
    }
    overdue = spread_hours(
        Decimal(5), start=None, finish=None, due=MONDAY - timedelta(days=20), weeks=WEEKS
    )
    assert overdue[0] == {0: Decimal(5)}
    beyond = spread_hours(
        Decimal(5), start=None, finish=None, due=MONDAY + timedelta(weeks=9), weeks=WEEKS
    )
    assert beyond == ({}, Decimal(5))
    weekend = spread_hours(
        Decimal(3), start=MONDAY + timedelta(days=5), finish=MONDAY + timedelta(days=6),
        due=None, weeks=WEEKS,
    )  # fmt: skip
    assert weekend[0] == {0: Decimal(3)}
    assert week_start(date(2030, 1, 13)) == MONDAY


def test_workload_highlights_over_allocation_across_projects(client_for, pm, agent, project):
    other = factories.ProjectFactory(name="Wi-Fi refresh")
    this_monday = week_start(timezone.localdate())
    next_week = this_monday + timedelta(weeks=1)
    pf.CapacityFactory(user=agent, hours_per_week=20)
    # 12 h in one project and 12 h in another, both due next week: 24 h of 20.
    pf.TaskFactory(project=project, assignee=agent, estimate_hours=12, due_date=next_week)
    pf.TaskFactory(project=other, assignee=agent, estimate_hours=12, due_date=next_week)
    # The PM (default 40 h) has 8 h this week; finished work counts for nobody.
    pf.TaskFactory(project=project, assignee=pm, estimate_hours=8)
    pf.TaskFactory(project=project, assignee=pm, estimate_hours=99, completed_at=timezone.now())
    response = client_for(pm).get("/projects/workload/")
    rows = {row["person"]: row for row in response.context["rows"]}
    assert rows[agent]["capacity"] == 20
    assert [cell["hours"] for cell in rows[agent]["cells"][:2]] == [0, 24]
    assert rows[agent]["cells"][1]["over"] is True
    assert rows[agent]["over_weeks"] == 1
    assert rows[pm]["capacity"] == 40
    assert rows[pm]["cells"][0]["hours"] == 8 and not rows[pm]["cells"][0]["over"]
    assert response.context["over_count"] == 1
    html = response.content.decode()
    assert "over capacity" in html
    assert len(response.context["weeks"]) == 8


def test_workload_for_one_team_keeps_their_other_projects_load(client_for, pm, agent, project):
    other = factories.ProjectFactory(name="Wi-Fi refresh")
    stranger = factories.AgentFactory()
    project.members.add(pm)
    pf.TaskFactory(project=project, assignee=agent, estimate_hours=10)
    pf.TaskFactory(project=other, assignee=agent, estimate_hours=35)
    pf.TaskFactory(project=other, assignee=stranger, estimate_hours=5)
    response = client_for(pm).get("/projects/workload/?project=VPN")
    rows = {row["person"]: row for row in response.context["rows"]}
    assert set(rows) == {agent, pm}
    assert rows[agent]["cells"][0]["hours"] == 45 and rows[agent]["cells"][0]["over"]
    assert client_for(pm).get("/projects/workload/?project=<x>").status_code == 200


@pytest.mark.parametrize("rows", [5, 200])
def test_workload_runs_a_constant_number_of_queries(
    client_for, pm, project, rows, django_assert_num_queries
):
    people = [factories.AgentFactory() for _ in range(5)]
    column = pf.ColumnFactory(project=project)
    for n in range(rows):
        pf.TaskFactory(project=project, column=column, assignee=people[n % 5],
                       due_date=timezone.localdate() + timedelta(days=n % 50))  # fmt: skip
    pf.CapacityFactory(user=people[0], hours_per_week=10)
    client = client_for(pm)
    # session, user, roles, projects, tasks, people with capacities
    with django_assert_num_queries(6):
        response = client.get("/projects/workload/")
    assert len(response.context["rows"]) == 5


# --- Post-project review ------------------------------------------------------------------


def test_review_compares_baselines_with_actual_and_expected_dates(client_for, agent, project):
    today = timezone.localdate()
    factories.MilestoneFactory(
        project=project, name="Pilot", baseline_date=today - timedelta(days=10),
        completed_at=timezone.now() - timedelta(days=6),
    )  # fmt: skip
    factories.MilestoneFactory(
        project=project, name="Rollout", baseline_date=today + timedelta(days=5),
        target_date=today + timedelta(days=5), forecast_date=today + timedelta(days=8),
    )  # fmt: skip
    factories.MilestoneFactory(project=project, name="Handover", baseline_date=today)
    response = client_for(agent).get("/projects/VPN/review/")
    outcomes = {row["milestone"].name: row for row in response.context["outcomes"]}
    assert (outcomes["Pilot"]["days"], outcomes["Pilot"]["done"]) == (4, True)
    assert (outcomes["Rollout"]["days"], outcomes["Rollout"]["done"]) == (3, False)
    assert outcomes["Handover"]["days"] == 0
    summary = response.context["summary"]
    assert (summary["total"], summary["done"], summary["late"], summary["worst"]) == (3, 1, 2, 4)
    text = page_text(response)
    assert "+4 d" in text and "+3 d" in text and "on plan" in text


def test_lessons_are_added_and_listed(client_for, pm, project):
    client = client_for(pm)
    assert client.post("/projects/VPN/review/", {"text": "Order **kit** early"}).status_code == 302
    lesson = project.lessons.get()
    assert (lesson.author, lesson.text) == (pm, "Order **kit** early")
    assert "<strong>kit</strong>" in client.get("/projects/VPN/review/").content.decode()


def test_an_empty_lesson_is_refused(client_for, pm, project):
    response = client_for(pm).post("/projects/VPN/review/", {"text": "   "})
    assert response.status_code == 400
    assert "text" in response.context["form"].errors
    assert not project.lessons.exists()


@pytest.mark.parametrize("rows", [5, 100])
def test_review_runs_a_constant_number_of_queries(
    client_for, pm, project, rows, django_assert_num_queries
):
    factories.MilestoneFactory.create_batch(rows, project=project)
    pf.LessonFactory.create_batch(rows, project=project, author=pm)
    # session, user, roles, project, milestones, lessons with authors
    client = client_for(pm)
    with django_assert_num_queries(7):
        client.get("/projects/VPN/review/")
