"""The status page: what it shows (and never shows), that hostile text stays inert, that
it is served from the cache and rendered afresh after every change it shows, and that
its queries do not grow with the project."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from helpdesk.models import TicketEvent
from liaison import status
from liaison.models import Bulletin, ProjectDesk
from liaison.publish import bulletins_refresh, publish_project
from projects import services
from projects.models import Milestone, Project
from tests import factories
from tests.projects.page_factories import RiskFactory, SlipFactory, StatusUpdateFactory
from tests.security.test_hostile_text import HOSTILE, assert_inert

pytestmark = pytest.mark.django_db


@pytest.fixture
def public_project(project):
    Project.objects.filter(pk=project.pk).update(visibility=Project.Visibility.PUBLIC)
    project.refresh_from_db()
    return project


@pytest.fixture
def plan(public_project, pm):
    """A public project with a done milestone, a slipped one, a go-live, updates, a risk,
    a linked ticket with an internal note and a public known issue in two queues."""
    project = public_project
    today = timezone.localdate()
    factories.MilestoneFactory(
        project=project,
        name="Pilot group live",
        baseline_date=today - timedelta(days=20),
        target_date=today - timedelta(days=20),
        completed_at=timezone.now() - timedelta(days=19),
    )
    slipped = factories.MilestoneFactory(
        project=project,
        name="Client rolled out",
        baseline_date=today + timedelta(days=10),
        target_date=today + timedelta(days=24),
    )
    SlipFactory(
        milestone=slipped,
        old_date=today + timedelta(days=10),
        new_date=today + timedelta(days=24),
        reason="Certificate vendor delivered late",
        author=pm,
    )
    go_live = factories.MilestoneFactory(
        project=project,
        name="Cut-over",
        kind=Milestone.Kind.GO_LIVE,
        baseline_date=today + timedelta(days=44),
        target_date=today + timedelta(days=44),
    )
    StatusUpdateFactory(project=project, health="on_track", summary="Pilot went well.")
    StatusUpdateFactory(
        project=project, health="at_risk", summary="Rollout **delayed** a fortnight."
    )
    RiskFactory(project=project, title="Key engineer may leave")
    for name in ("Service desk", "Field support"):
        queue = factories.QueueFactory(name=name)
        queue.projects.add(project)
    ProjectDesk.objects.create(
        project=project,
        tell_callers="The new client arrives by the end of the month.",
        workaround="Use the web portal at portal.example.org meanwhile.",
        workaround_public=True,
    )
    bulletins_refresh(project)
    ticket = factories.TicketFactory(subject="Laptop 42 cannot connect", project=project)
    factories.TicketEventFactory(
        ticket=ticket, kind=TicketEvent.Kind.NOTE, public=False, body="Caller is the CFO"
    )
    return {"project": project, "slipped": slipped, "go_live": go_live}


def page_html(client, project, **params):
    response = client.get(f"/status/{project.slug}/", params)
    assert response.status_code == 200
    return response.content.decode()


def body_of(html: str) -> str:
    """The cached part of the page (the frame holds the per-visitor CSRF token)."""
    return html[html.index('<div class="status-overview">') : html.index("<footer")]


def test_the_page_shows_the_plan_updates_and_the_known_issue(client, plan):
    html = page_html(client, plan["project"])
    assert "Rollout <strong>delayed</strong> a fortnight." in html  # the latest, as Markdown
    assert "Pilot went well." in html  # an earlier update
    assert "Client rolled out" in html
    assert "Certificate vendor delivered late" in html  # why it moved
    assert "+14 d" in html
    assert "Cut-over" in html and "Go-live" in html  # upcoming go-lives
    assert "Known issue" in html
    assert "Use the web portal at portal.example.org meanwhile." in html
    # One known issue, however many queues carry the bulletin.
    assert html.count("Use the web portal") == 1


def test_the_page_never_shows_risks_tickets_or_internal_notes(client, plan):
    html = page_html(client, plan["project"])
    assert "Key engineer may leave" not in html
    assert "Laptop 42" not in html
    assert "Caller is the CFO" not in html


def test_a_workaround_not_marked_public_is_not_shown(client, plan):
    project = plan["project"]
    ProjectDesk.objects.filter(project=project).update(workaround_public=False)
    bulletins_refresh(project)
    status.bump(project.pk)
    html = page_html(client, project)
    assert "Use the web portal" not in html
    assert "Known issue" not in html


def test_anonymous_readers_are_not_told_who_moved_a_date(client, client_for, plan, pm, stakeholder):
    name = pm.get_full_name()
    assert name not in page_html(client, plan["project"])
    assert name in page_html(client_for(stakeholder), plan["project"])


def test_hostile_text_renders_inert(client, public_project, pm):
    text = "\n\n".join(HOSTILE)
    project = public_project
    milestone = factories.MilestoneFactory(project=project, name=HOSTILE[1])
    SlipFactory(milestone=milestone, reason=text)
    StatusUpdateFactory(project=project, summary=text)
    StatusUpdateFactory(project=project, summary=text)
    queue = factories.QueueFactory()
    queue.projects.add(project)
    ProjectDesk.objects.create(
        project=project, tell_callers=text, workaround=text, workaround_public=True
    )
    bulletins_refresh(project)
    Project.objects.filter(pk=project.pk).update(description=text)
    html = page_html(client, project)
    assert "Known issue" in html
    assert_inert(html)
    assert "&lt;script&gt;" in html or "alert(&quot;xss&quot;)" in html


# --- The cache ----------------------------------------------------------------------


def test_a_cached_anonymous_page_costs_one_query(client, plan, django_assert_num_queries):
    project = plan["project"]
    first = page_html(client, project)
    with django_assert_num_queries(1):  # is the page (still) public?
        second = page_html(client, project)
    assert body_of(second) == body_of(first)


def test_a_published_status_update_shows_on_the_next_request(
    client, public_project, pm, django_capture_on_commit_callbacks
):
    page_html(client, public_project)
    with django_capture_on_commit_callbacks(execute=True):
        services.status_update_publish(
            project=public_project, health="off_track", summary="Supplier went bust.", actor=pm
        )
    html = page_html(client, public_project)
    assert "Supplier went bust." in html
    assert "Off track" in html


def test_a_moved_milestone_shows_once_published(
    client, plan, pm, django_capture_on_commit_callbacks
):
    project, slipped = plan["project"], plan["slipped"]
    page_html(client, project)
    new_date = slipped.target_date + timedelta(days=21)
    with django_capture_on_commit_callbacks(execute=True):
        services.milestone_reschedule(
            milestone=slipped, target_date=new_date, reason="Firmware recall", actor=pm
        )
    with django_capture_on_commit_callbacks(execute=True):
        assert publish_project(project.pk) >= 1
    html = page_html(client, project)
    assert "Firmware recall" in html
    assert f"{new_date.day} {new_date:%b %Y}" in html


def test_a_changed_bulletin_shows_on_the_next_request(
    client, plan, django_capture_on_commit_callbacks
):
    project = plan["project"]
    assert "web portal" in page_html(client, project)
    with django_capture_on_commit_callbacks(execute=True):
        desk = ProjectDesk.objects.get(project=project)
        desk.workaround = "Dial in through the old VPN until Friday."
        desk.save()
        bulletins_refresh(project)
    html = page_html(client, project)
    assert "Dial in through the old VPN until Friday." in html
    assert "web portal" not in html


def test_a_project_no_longer_affecting_any_queue_loses_its_known_issue(
    client, plan, django_capture_on_commit_callbacks
):
    project = plan["project"]
    assert "Known issue" in page_html(client, project)
    with django_capture_on_commit_callbacks(execute=True):
        project.queues.set([])
        bulletins_refresh(project)  # bulletins retired with raw SQL: no model signal
    assert "Known issue" not in page_html(client, project)


def test_a_bulletin_saved_directly_shows_on_the_next_request(
    client, plan, django_capture_on_commit_callbacks
):
    project = plan["project"]
    page_html(client, project)
    with django_capture_on_commit_callbacks(execute=True):
        Bulletin.objects.filter(project=project).update(workaround="")
        bulletin = Bulletin.objects.filter(project=project).first()
        bulletin.workaround = "Restart the client twice."
        bulletin.save()
    assert "Restart the client twice." in page_html(client, project)


def test_a_project_made_private_disappears_at_once(
    client, public_project, pm, django_capture_on_commit_callbacks
):
    page_html(client, public_project)
    with django_capture_on_commit_callbacks(execute=True):
        services.project_update(project=public_project, actor=pm, visibility="private")
    assert client.get(f"/status/{public_project.slug}/").status_code == 404


def test_a_change_inside_an_unfinished_transaction_does_not_invalidate_early(
    client, public_project, django_capture_on_commit_callbacks
):
    """The version moves on commit: a reader in between cannot cache the old data under
    the new version."""
    page_html(client, public_project)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        StatusUpdateFactory(project=public_project, summary="Not yet committed")
    assert callbacks  # the bump waits for the commit
    for callback in callbacks:
        callback()
    assert "Not yet committed" in page_html(client, public_project)


def test_the_page_is_served_when_the_cache_is_down(client, public_project, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(status.cache, "get_many", broken)
    StatusUpdateFactory(project=public_project, summary="Still readable")
    assert "Still readable" in page_html(client, public_project)


# --- Queries ------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [1, 12])
def test_an_uncached_page_runs_a_constant_number_of_queries(
    client, public_project, pm, rows, django_assert_num_queries
):
    for _ in range(rows):
        milestone = factories.MilestoneFactory(project=public_project)
        SlipFactory(milestone=milestone, author=pm)
        StatusUpdateFactory(project=public_project)
    status.bump(public_project.pk)
    # is it public?; the project; its milestones, their moves, updates, the known issue
    with django_assert_num_queries(6):
        page_html(client, public_project)


@pytest.mark.parametrize("rows", [1, 12])
def test_a_stakeholders_page_runs_a_constant_number_of_queries(
    client_for, project, stakeholder, pm, rows, django_assert_num_queries
):
    for _ in range(rows):
        milestone = factories.MilestoneFactory(project=project)
        SlipFactory(milestone=milestone, author=pm)
        StatusUpdateFactory(project=project, author=pm)
    client = client_for(stakeholder)
    status.bump(project.pk)
    # session, user, roles, project, stakeholder?; milestones, moves, updates, known issue
    with django_assert_num_queries(9):
        page_html(client, project)
    # cached: the body costs nothing
    with django_assert_num_queries(5):
        page_html(client, project)


# --- The whole page cached for anonymous readers -------------------------------------


def csrf_of(html: str) -> str:
    return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def test_each_anonymous_reader_gets_a_working_csrf_token_of_their_own(public_project):
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    token = csrf_of(page_html(first, public_project))
    other = csrf_of(page_html(second, public_project))
    assert status.csrf_placeholder() not in token
    assert token != other
    assert first.cookies["csrftoken"].value
    # The token in the cached page is accepted with the visitor's cookie ...
    url = f"/status/{public_project.slug}/"
    assert first.post(url, HTTP_X_CSRFTOKEN=token).status_code == 200
    # ... and is not someone else's: a page cached with one visitor's token would fail here.
    assert second.post(url, HTTP_X_CSRFTOKEN=token).status_code == 403


def test_signed_in_readers_never_get_the_anonymous_page(client, client_for, public_project, pm):
    page_html(client, public_project)  # the anonymous page is in the cache now
    html = page_html(client_for(pm), public_project)
    assert "Share with a link" in html
    assert "Log out" in html
