from datetime import timedelta

import pytest

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("rows", [1, 25])
def test_project_list_runs_a_constant_number_of_queries(
    client_for, pm, rows, django_assert_num_queries
):
    for project in factories.ProjectFactory.create_batch(rows, owner=pm):
        factories.MilestoneFactory.create_batch(2, project=project)
    client = client_for(pm)
    # session, user, roles, projects with owner and liaison, their open milestones
    with django_assert_num_queries(5):
        response = client.get("/projects/")
    assert len(response.context["projects"]) == rows


@pytest.mark.parametrize("milestones", [1, 20])
def test_project_page_runs_a_constant_number_of_queries(
    client_for, pm, project, milestones, django_assert_num_queries
):
    factories.MilestoneFactory.create_batch(milestones, project=project)
    client = client_for(pm)
    # session, user, roles, the project, latest update, milestones, top risks, task
    # totals, events, slips (tests/projects/test_pages.py pins this with 500 rows too)
    with django_assert_num_queries(12):
        response = client.get("/projects/VPN/")
    assert response.content.decode().count("<tr>") == milestones + 1


def test_project_page_shows_slip_against_baseline(client_for, pm, project):
    baseline = factories.MilestoneFactory().baseline_date
    factories.MilestoneFactory(
        project=project, baseline_date=baseline, target_date=baseline + timedelta(days=9)
    )
    assert "+9 d" in client_for(pm).get("/projects/VPN/").content.decode()
