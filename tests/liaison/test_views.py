import pytest

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("rows", [1, 15])
def test_status_index_runs_a_constant_number_of_queries(
    client_for, stakeholder, rows, django_assert_num_queries
):
    for project in factories.ProjectFactory.create_batch(rows, stakeholders=[stakeholder]):
        factories.MilestoneFactory(project=project)
    client = client_for(stakeholder)
    # session, user, roles, visible projects, their open milestones
    with django_assert_num_queries(5):
        response = client.get("/status/")
    assert len(response.context["projects"]) == rows


@pytest.mark.parametrize("milestones", [1, 12])
def test_public_status_page_runs_a_constant_number_of_queries(
    client, project, milestones, django_assert_num_queries
):
    project.visibility = "public"
    project.save()
    factories.MilestoneFactory.create_batch(milestones, project=project)
    # the project, its milestones
    with django_assert_num_queries(2):
        response = client.get("/status/vpn/")
    assert response.status_code == 200
