"""The portfolio of status pages (/status/) and the status page's query counts."""

import pytest

from liaison import status
from projects.models import Project
from tests import factories
from tests.projects.page_factories import StatusUpdateFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("rows", [1, 15])
def test_status_index_runs_a_constant_number_of_queries(
    client_for, stakeholder, rows, django_assert_num_queries
):
    for project in factories.ProjectFactory.create_batch(rows, stakeholders=[stakeholder]):
        factories.MilestoneFactory(project=project)
        StatusUpdateFactory(project=project)
    client = client_for(stakeholder)
    # session, user, roles, visible projects (with their last update), their open milestones
    with django_assert_num_queries(5):
        response = client.get("/status/")
    assert len(response.context["projects"]) == rows


@pytest.mark.parametrize("rows", [1, 15])
def test_the_public_portfolio_runs_a_constant_number_of_queries(
    client, rows, django_assert_num_queries
):
    for project in factories.ProjectFactory.create_batch(rows, visibility="public"):
        factories.MilestoneFactory(project=project)
    with django_assert_num_queries(2):  # projects, their open milestones
        response = client.get("/status/")
    assert len(response.context["projects"]) == rows


def test_anonymous_visitors_see_the_public_pages_only(client, project, stakeholder):
    public = factories.ProjectFactory(name="Public Wi-Fi", visibility="public")
    factories.ProjectFactory(name="Secret merger", visibility="private")
    html = client.get("/status/").content.decode()
    assert public.name in html
    assert project.name not in html  # stakeholders only
    assert "Secret merger" not in html
    assert "Log in" in html


def test_stakeholders_see_public_pages_and_their_own(client_for, project, stakeholder):
    factories.ProjectFactory(name="Public Wi-Fi", visibility="public")
    factories.ProjectFactory(name="Other board", visibility="stakeholders")
    factories.ProjectFactory(name="Secret merger", visibility="private")
    html = client_for(stakeholder).get("/status/").content.decode()
    assert "Public Wi-Fi" in html and project.name in html
    assert "Other board" not in html and "Secret merger" not in html


def test_staff_see_every_current_project_with_its_visibility(client_for, agent, project):
    factories.ProjectFactory(name="Secret merger", visibility="private")
    factories.ProjectFactory(name="Old thing", visibility="public", archived_at="2024-01-01T00:00Z")
    html = client_for(agent).get("/status/").content.decode()
    assert "Secret merger" in html and "Private" in html
    assert project.name in html
    assert "Old thing" not in html


def test_the_portfolio_pages_by_name(client, django_assert_num_queries):
    from liaison.views import status as views

    for n in range(views.PORTFOLIO_PAGE + 3):
        factories.ProjectFactory(name=f"Project {n:03d}", visibility="public")
    first = client.get("/status/")
    assert len(first.context["projects"]) == views.PORTFOLIO_PAGE
    cursor = first.context["next_cursor"]
    second = client.get("/status/", {"after": cursor})
    names = [p.name for p in second.context["projects"]]
    assert names == [
        f"Project {n:03d}" for n in range(views.PORTFOLIO_PAGE, views.PORTFOLIO_PAGE + 3)
    ]
    assert client.get("/status/", {"after": "not-a-cursor"}).status_code == 200


@pytest.mark.parametrize("milestones", [1, 12])
def test_public_status_page_runs_a_constant_number_of_queries(
    client, project, milestones, django_assert_num_queries
):
    Project.objects.filter(pk=project.pk).update(visibility="public")
    factories.MilestoneFactory.create_batch(milestones, project=project)
    status.bump(project.pk)
    # is it public?; the project; its milestones, their moves, updates, the known issue
    with django_assert_num_queries(6):
        response = client.get("/status/vpn/")
    assert response.status_code == 200
    # then from the cache: "is it still public?" alone
    with django_assert_num_queries(1):
        assert client.get("/status/vpn/").status_code == 200
