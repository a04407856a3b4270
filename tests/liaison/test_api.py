"""The bridge's API: `bulletins/` (read-only) and `handovers/` (API.md), and the `queues`
of `projects/`.

Readers: agents, project managers and administrators; stakeholders 403, anonymous 401.
Writers of a handover: its project's planners and liaison; support leads sign off."""

from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.test import APIClient

from liaison import handover, publish
from liaison.models import DEFAULT_CRITERIA, Bulletin, HandoverCriterion, HandoverPlan
from tests import factories

pytestmark = pytest.mark.django_db

BULLETIN_FIELDS = {
    "id", "queue", "project", "title", "body", "health", "next_milestone",
    "next_milestone_name", "forecast_date", "baseline_date", "slip_days", "slips",
    "workaround", "active", "updated_at",
}  # fmt: skip
HANDOVER_FIELDS = {
    "id", "project", "readiness", "criteria", "support_queue", "second_line_queue",
    "hypercare_days", "hypercare_until", "in_hypercare", "signed_off_by", "signed_off_at",
}  # fmt: skip
CRITERION_FIELDS = {"id", "name", "owner", "evidence_url", "status"}


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def as_user(api):
    def login(user):
        api.force_authenticate(user)
        return api

    return login


@pytest.fixture
def support_lead(db):
    user = factories.AgentFactory(username="lead")
    user.user_permissions.add(
        Permission.objects.get(codename="sign_off_handover", content_type__app_label="liaison")
    )
    return user


@pytest.fixture
def cast(agent, pm, admin, stakeholder, support_lead):
    return {
        "agent": agent,
        "pm": pm,
        "admin": admin,
        "support_lead": support_lead,
        "stakeholder": stakeholder,
        "anonymous": None,
    }


def make_bulletin(queue, project, **fields):
    values = {
        "title": f"{project.key}: cut-over expected Mon 18 Mar 2030",
        "health": "at_risk",
        "body": "Tell callers the new VPN arrives on **18 March**.",
        "updated_at": timezone.now(),
        "forecast_date": date(2030, 3, 18),
        "baseline_date": date(2030, 3, 11),
        "slips": [
            {
                "old": "2030-03-11",
                "new": "2030-03-18",
                "reason": "Vendor late",
                "at": "2030-02-01T10:00:00+00:00",
            }
        ],
    }
    values.update(fields)
    return Bulletin.objects.create(queue=queue, project=project, **values)


def results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


# --- Bulletins ------------------------------------------------------------------------------


def test_a_bulletin_shows_the_contract_fields(as_user, agent, queue, project):
    bulletin = make_bulletin(queue, project, workaround="Use the old client meanwhile.")
    (body,) = results(as_user(agent).get("/api/v1/bulletins/"))
    assert set(body) == BULLETIN_FIELDS
    assert (body["id"], body["queue"], body["project"]) == (bulletin.pk, queue.pk, project.pk)
    assert body["body"] == "Tell callers the new VPN arrives on **18 March**."
    assert (body["forecast_date"], body["baseline_date"], body["slip_days"]) == (
        "2030-03-18",
        "2030-03-11",
        7,
    )
    assert body["slips"] == [
        {
            "old": "2030-03-11",
            "new": "2030-03-18",
            "reason": "Vendor late",
            "at": "2030-02-01T10:00:00+00:00",
        }
    ]
    assert (body["workaround"], body["active"], body["health"]) == (
        "Use the old client meanwhile.",
        True,
        "at_risk",
    )
    detail = as_user(agent).get(f"/api/v1/bulletins/{bulletin.pk}/")
    assert detail.json() == body


def test_bulletins_written_by_the_push_are_served(as_user, pm, queue, project):
    queue.projects.add(project)
    milestone = factories.MilestoneFactory(project=project, name="Cut-over")
    publish.bulletins_refresh(project)
    (body,) = results(as_user(pm).get("/api/v1/bulletins/", {"project": project.pk}))
    assert body["queue"] == queue.pk
    assert (body["next_milestone"], body["next_milestone_name"]) == (milestone.pk, "Cut-over")
    assert body["forecast_date"] == milestone.target_date.isoformat()


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("agent", 200),
        ("pm", 200),
        ("admin", 200),
        ("stakeholder", 403),
        ("anonymous", 401),
    ],
)
def test_who_reads_bulletins(as_user, cast, queue, project, who, expected):
    bulletin = make_bulletin(queue, project)
    client = as_user(cast[who])
    assert client.get("/api/v1/bulletins/").status_code == expected
    assert client.get(f"/api/v1/bulletins/{bulletin.pk}/").status_code == expected


def test_bulletins_are_read_only(as_user, admin, queue, project):
    bulletin = make_bulletin(queue, project)
    client = as_user(admin)
    assert client.post("/api/v1/bulletins/", {}, format="json").status_code == 405
    url = f"/api/v1/bulletins/{bulletin.pk}/"
    assert client.patch(url, {"title": "x"}, format="json").status_code == 405
    assert client.delete(url).status_code == 405


def test_bulletins_filter_by_queue_project_and_active(as_user, agent, queue, project):
    other_queue = factories.QueueFactory()
    other_project = factories.ProjectFactory()
    a = make_bulletin(queue, project)
    b = make_bulletin(other_queue, project)
    c = make_bulletin(queue, other_project, active=False)
    client = as_user(agent)

    def ids(**params):
        return sorted(row["id"] for row in results(client.get("/api/v1/bulletins/", params)))

    assert ids(queue=queue.pk) == sorted([a.pk, c.pk])
    assert ids(project=project.pk) == sorted([a.pk, b.pk])
    assert ids(queue=queue.pk, project=project.pk) == [a.pk]
    assert ids(active="false") == [c.pk]
    assert ids(queue=999_999) == []


@pytest.mark.parametrize(
    "params", [{"queue": "abc"}, {"project": "-1"}, {"active": "maybe"}, {"queue": "9" * 30}]
)
def test_a_bad_bulletin_filter_is_a_400_naming_it(as_user, agent, params):
    response = as_user(agent).get("/api/v1/bulletins/", params)
    assert response.status_code == 400
    assert set(response.json()) == set(params)


@pytest.mark.parametrize("pk", ["abc", "0", "999999", "9" * 40])
def test_an_unknown_bulletin_is_404(as_user, agent, pk):
    assert as_user(agent).get(f"/api/v1/bulletins/{pk}/").status_code == 404


def test_bulletins_are_cursor_paginated_newest_first(as_user, agent, project):
    made = [make_bulletin(factories.QueueFactory(), project) for _ in range(3)]
    client = as_user(agent)
    first = client.get("/api/v1/bulletins/", {"page_size": 2}).json()
    assert set(first) == {"next", "previous", "results"}
    assert [row["id"] for row in first["results"]] == [made[2].pk, made[1].pk]
    second = client.get(first["next"]).json()
    assert [row["id"] for row in second["results"]] == [made[0].pk]
    assert second["next"] is None
    assert client.get("/api/v1/bulletins/", {"cursor": "nonsense"}).status_code == 400


@pytest.mark.parametrize("rows", [1, 30])
def test_the_bulletin_list_runs_a_constant_number_of_queries(
    as_user, agent, project, rows, django_assert_num_queries
):
    for _ in range(rows):
        make_bulletin(factories.QueueFactory(), project)
    client = as_user(agent)
    with django_assert_num_queries(2):  # the caller's roles; the bulletins
        response = client.get("/api/v1/bulletins/", {"page_size": 100})
    assert len(results(response)) == rows


# --- Handovers: reading ---------------------------------------------------------------------


@pytest.fixture
def plan(project):
    return handover.handover_plan_for(project)


def test_a_handover_shows_the_contract_fields(as_user, agent, pm, plan, queue):
    criterion = plan.criteria.get(name="Runbook written")
    criterion.status, criterion.owner = "done", agent
    criterion.evidence_url = "https://wiki.example/runbook"
    criterion.save()
    plan.criteria.filter(name="SLA agreed").update(status="not_applicable")
    plan.support_queue = queue
    plan.save()
    (body,) = results(as_user(pm).get("/api/v1/handovers/"))
    assert set(body) == HANDOVER_FIELDS
    assert (body["id"], body["project"], body["readiness"]) == (plan.pk, plan.project_id, 28)
    assert [c["name"] for c in body["criteria"]] == list(DEFAULT_CRITERIA)
    assert set(body["criteria"][0]) == CRITERION_FIELDS
    assert body["criteria"][0] == {
        "id": criterion.pk,
        "name": "Runbook written",
        "owner": agent.pk,
        "evidence_url": "https://wiki.example/runbook",
        "status": "done",
    }
    assert (body["support_queue"], body["second_line_queue"], body["hypercare_days"]) == (
        queue.pk,
        None,
        14,
    )
    assert (body["signed_off_by"], body["signed_off_at"], body["hypercare_until"]) == (
        None,
        None,
        None,
    )
    assert body["in_hypercare"] is False
    assert as_user(pm).get(f"/api/v1/handovers/{plan.pk}/").json() == body


def test_a_running_hypercare_shows(as_user, agent, plan):
    handover.go_live_reached(plan.project, timezone.localdate())
    body = as_user(agent).get(f"/api/v1/handovers/{plan.pk}/").json()
    assert body["in_hypercare"] is True
    assert body["hypercare_until"] == (timezone.localdate() + timedelta(days=14)).isoformat()


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("agent", 200),
        ("pm", 200),
        ("admin", 200),
        ("support_lead", 200),
        ("stakeholder", 403),
        ("anonymous", 401),
    ],
)
def test_who_reads_handovers(as_user, cast, plan, who, expected):
    client = as_user(cast[who])
    assert client.get("/api/v1/handovers/").status_code == expected
    assert client.get(f"/api/v1/handovers/{plan.pk}/").status_code == expected


def test_handovers_filter_by_project(as_user, agent, plan):
    other = handover.handover_plan_for(factories.ProjectFactory())
    client = as_user(agent)
    assert [
        r["id"] for r in results(client.get("/api/v1/handovers/", {"project": plan.project_id}))
    ] == [plan.pk]
    assert [r["id"] for r in results(client.get("/api/v1/handovers/"))] == [other.pk, plan.pk]
    assert client.get("/api/v1/handovers/", {"project": "x"}).status_code == 400


@pytest.mark.parametrize("rows", [1, 20])
def test_the_handover_list_runs_a_constant_number_of_queries(
    as_user, agent, rows, django_assert_num_queries
):
    for _ in range(rows):
        plan = handover.handover_plan_for(factories.ProjectFactory())
        HandoverCriterion.objects.create(plan=plan, name="Extra", owner=agent)
    client = as_user(agent)
    with django_assert_num_queries(3):  # the caller's roles; the plans; their criteria
        response = client.get("/api/v1/handovers/", {"page_size": 100})
    assert len(results(response)) == rows
    assert all(len(row["criteria"]) == len(DEFAULT_CRITERIA) + 1 for row in results(response))


# --- Handovers: writing ---------------------------------------------------------------------


@pytest.fixture
def liaison(project):
    user = factories.AgentFactory(username="liaison")
    project.liaison = user
    project.save(update_fields=["liaison"])
    return user


@pytest.mark.parametrize(("who", "expected"), [("pm", 200), ("admin", 200), ("liaison", 200)])
def test_planners_and_the_liaison_patch_the_routing(as_user, request, plan, queue, who, expected):
    user = request.getfixturevalue(who)
    second = factories.QueueFactory()
    response = as_user(user).patch(
        f"/api/v1/handovers/{plan.pk}/",
        {"support_queue": queue.pk, "second_line_queue": second.pk, "hypercare_days": 21},
        format="json",
    )
    assert response.status_code == expected
    body = response.json()
    assert (body["support_queue"], body["second_line_queue"], body["hypercare_days"]) == (
        queue.pk,
        second.pk,
        21,
    )
    plan.refresh_from_db()
    assert (plan.support_queue, plan.second_line_queue, plan.hypercare_days) == (queue, second, 21)


@pytest.mark.parametrize(
    ("who", "expected"),
    [("agent", 403), ("support_lead", 403), ("stakeholder", 403), ("anonymous", 401)],
)
def test_others_may_not_patch_a_handover(as_user, cast, plan, queue, who, expected):
    response = as_user(cast[who]).patch(
        f"/api/v1/handovers/{plan.pk}/", {"support_queue": queue.pk}, format="json"
    )
    assert response.status_code == expected
    plan.refresh_from_db()
    assert plan.support_queue is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"hypercare_days": -1}, "hypercare_days"),
        ({"hypercare_days": 366}, "hypercare_days"),
        ({"hypercare_days": "two"}, "hypercare_days"),
        ({"support_queue": 999_999}, "support_queue"),
        ({"support_queue": "abc"}, "support_queue"),
        ({"second_line_queue": 10**30}, "second_line_queue"),
        ({"readiness": 100}, "readiness"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_handover_input_is_a_400_naming_the_field(as_user, pm, plan, data, field):
    response = as_user(pm).patch(f"/api/v1/handovers/{plan.pk}/", data, format="json")
    assert response.status_code == 400
    assert field in response.json()
    plan.refresh_from_db()
    assert (plan.support_queue, plan.hypercare_days) == (None, 14)


def test_put_and_delete_are_not_offered(as_user, pm, plan):
    client = as_user(pm)
    assert client.put(f"/api/v1/handovers/{plan.pk}/", {}, format="json").status_code == 405
    assert client.delete(f"/api/v1/handovers/{plan.pk}/").status_code == 405


def test_a_null_queue_unsets_it(as_user, pm, plan, queue):
    HandoverPlan.objects.filter(pk=plan.pk).update(second_line_queue=queue)
    response = as_user(pm).patch(
        f"/api/v1/handovers/{plan.pk}/", {"second_line_queue": None}, format="json"
    )
    assert response.json()["second_line_queue"] is None


def test_posting_opens_a_plan_once(as_user, pm, agent, stakeholder):
    project = factories.ProjectFactory(owner=pm)
    client = as_user(pm)
    created = client.post("/api/v1/handovers/", {"project": project.pk}, format="json")
    assert created.status_code == 201
    assert len(created.json()["criteria"]) == len(DEFAULT_CRITERIA)
    again = client.post("/api/v1/handovers/", {"project": project.pk}, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == created.json()["id"]
    other = factories.ProjectFactory()
    assert as_user(agent).post("/api/v1/handovers/", {"project": other.pk}).status_code == 403
    assert as_user(stakeholder).post("/api/v1/handovers/", {"project": other.pk}).status_code == 403
    missing = as_user(pm).post("/api/v1/handovers/", {"project": 999_999}, format="json")
    assert missing.status_code == 400 and "project" in missing.json()


# --- Handovers: sign-off --------------------------------------------------------------------


def test_the_support_lead_signs_off_through_the_api(as_user, support_lead, plan, queue):
    plan.criteria.update(status="done")
    HandoverPlan.objects.filter(pk=plan.pk).update(support_queue=queue)
    response = as_user(support_lead).post(f"/api/v1/handovers/{plan.pk}/sign-off/")
    assert response.status_code == 200
    body = response.json()
    assert body["signed_off_by"] == support_lead.pk and body["signed_off_at"]
    assert body["readiness"] == 100


def test_sign_off_refusals_name_what_is_missing(as_user, support_lead, plan):
    response = as_user(support_lead).post(f"/api/v1/handovers/{plan.pk}/sign-off/")
    assert response.status_code == 400
    assert set(response.json()) == {"readiness", "support_queue"}
    assert response.json()["readiness"][0].startswith("Readiness is 0, not 100.")


@pytest.mark.parametrize("who", ["pm", "agent"])
def test_only_support_leads_sign_off_through_the_api(as_user, cast, plan, queue, who):
    plan.criteria.update(status="done")
    HandoverPlan.objects.filter(pk=plan.pk).update(support_queue=queue)
    response = as_user(cast[who]).post(f"/api/v1/handovers/{plan.pk}/sign-off/")
    assert response.status_code == 403
    plan.refresh_from_db()
    assert plan.signed_off_at is None


def test_a_new_support_queue_through_the_api_clears_the_sign_off(
    as_user, pm, support_lead, plan, queue
):
    plan.criteria.update(status="done")
    HandoverPlan.objects.filter(pk=plan.pk).update(support_queue=queue)
    handover.handover_sign_off(plan=plan, actor=support_lead)
    other = factories.QueueFactory()
    body = (
        as_user(pm)
        .patch(f"/api/v1/handovers/{plan.pk}/", {"support_queue": other.pk}, format="json")
        .json()
    )
    assert (body["signed_off_by"], body["signed_off_at"]) == (None, None)


# --- projects/ `queues` and the schema ------------------------------------------------------


def test_a_project_lists_the_queues_it_affects(as_user, agent, project, queue):
    other = factories.QueueFactory()
    factories.QueueFactory()  # not affected
    queue.projects.add(project)
    other.projects.add(project)
    body = as_user(agent).get(f"/api/v1/projects/{project.pk}/").json()
    assert body["queues"] == sorted([queue.pk, other.pk])


@pytest.mark.parametrize("rows", [1, 20])
def test_the_project_list_with_queues_runs_a_constant_number_of_queries(
    as_user, pm, rows, django_assert_num_queries
):
    for project in factories.ProjectFactory.create_batch(rows, owner=pm):
        factories.QueueFactory().projects.add(project)
    client = as_user(pm)
    with django_assert_num_queries(3):  # roles; the projects with their forecast; the queues
        response = client.get("/api/v1/projects/", {"page_size": 100})
    assert all(len(row["queues"]) == 1 for row in results(response))


def test_the_schema_describes_bulletins_and_handovers(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(paths["/api/v1/bulletins/"]) == {"get"}
    assert set(paths["/api/v1/bulletins/{id}/"]) == {"get"}
    assert {"get", "post"} == set(paths["/api/v1/handovers/"])
    assert {"get", "patch"} == set(paths["/api/v1/handovers/{id}/"])
    assert "post" in paths["/api/v1/handovers/{id}/sign-off/"]
    filters = {p["name"] for p in paths["/api/v1/bulletins/"]["get"]["parameters"]}
    assert {"queue", "project", "cursor"} <= filters
