"""A project's handover to support: the page at /projects/<key>/handover/, its criteria and
readiness, the support lead's sign-off, and the rule that a project cannot be closed
while hypercare runs or the handover is unsigned."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from rest_framework.test import APIRequestFactory

from config.api import exception_handler
from liaison import handover
from liaison.models import DEFAULT_CRITERIA, HandoverCriterion, HandoverPlan
from projects import services as project_services
from projects.models import Project
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/projects/VPN/handover/"
LOGIN = "/accounts/login/"
Status = HandoverCriterion.Status


def make_support_lead(username="lead"):
    user = factories.AgentFactory(username=username)
    user.user_permissions.add(
        Permission.objects.get(codename="sign_off_handover", content_type__app_label="liaison")
    )
    return user


@pytest.fixture
def support_lead(db):
    return make_support_lead()


@pytest.fixture
def liaison(project):
    user = factories.AgentFactory(username="liaison")
    project.liaison = user
    project.save(update_fields=["liaison"])
    return user


@pytest.fixture
def member(project):
    user = factories.AgentFactory(username="member")
    project.members.add(user)
    return user


@pytest.fixture
def plan(project):
    return handover.handover_plan_for(project)


@pytest.fixture
def ready_plan(plan, queue):
    """Every criterion met and a support queue named: ready to sign off."""
    plan.criteria.update(status=Status.DONE)
    plan.support_queue = queue
    plan.save(update_fields=["support_queue"])
    return plan


@pytest.fixture
def cast(agent, outsider, pm, stakeholder, admin, support_lead, liaison, member):
    return {
        "pm": pm,
        "liaison": liaison,
        "member": member,
        "admin": admin,
        "agent": agent,
        "outsider": outsider,
        "support_lead": support_lead,
        "stakeholder": stakeholder,
        "anonymous": None,
    }


def status_of(response):
    if response.status_code == 302:
        return "login" if response["Location"].startswith(LOGIN) else "redirect"
    return response.status_code


def text_of(response) -> str:
    html = re.sub(r"<[^>]+>", " ", response.content.decode())
    return " ".join(html.split())


def row_data(plan, **changes_by_name) -> dict:
    """The criteria table as the page posts it, with `changes_by_name[name]` applied."""
    data = {}
    for criterion in plan.criteria.all():
        prefix = f"c{criterion.pk}"
        values = {
            "owner": criterion.owner_id or "",
            "evidence_url": criterion.evidence_url,
            "status": criterion.status,
        }
        values.update(changes_by_name.get(criterion.name, {}))
        for field, value in values.items():
            data[f"{prefix}-{field}"] = value
    return data


# --- Who may open and change it -----------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected", "editable"),
    [
        ("pm", 200, True),
        ("liaison", 200, True),
        ("member", 200, True),
        ("admin", 200, True),
        ("agent", 200, False),
        ("outsider", 200, False),
        ("support_lead", 200, False),
        ("stakeholder", 403, None),
        ("anonymous", "login", None),
    ],
)
def test_who_reads_and_who_edits_the_handover(client_for, cast, project, who, expected, editable):
    response = client_for(cast[who]).get(URL)
    assert status_of(response) == expected
    if expected == 200:
        assert response.context["can_edit"] is editable
        assert ('id="criteria-form"' in response.content.decode()) is editable


def test_an_unknown_or_invisible_project_is_404(client_for, pm, stakeholder, project):
    assert client_for(pm).get("/projects/NOPE/handover/").status_code == 404
    Project.objects.filter(pk=project.pk).update(visibility=Project.Visibility.PRIVATE)
    assert client_for(stakeholder).get(URL).status_code == 404


@pytest.mark.parametrize("who", ["agent", "outsider", "support_lead", "stakeholder"])
def test_readers_cannot_change_anything(client_for, cast, plan, queue, who):
    client = client_for(cast[who])
    criterion = plan.criteria.first()
    posts = [
        (URL, row_data(plan, **{criterion.name: {"status": "done"}})),
        (f"{URL}criteria/", {"name": "Hacked"}),
        (f"{URL}criteria/{criterion.pk}/remove/", {}),
        (f"{URL}settings/", {"support_queue": queue.pk, "hypercare_days": 3}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    plan.refresh_from_db()
    assert plan.support_queue is None and plan.hypercare_days == 14
    assert plan.criteria.count() == len(DEFAULT_CRITERIA)
    assert not plan.criteria.filter(status=Status.DONE).exists()


def test_anonymous_posts_go_to_the_login_page(client, plan):
    response = client.post(f"{URL}criteria/", {"name": "x"})
    assert status_of(response) == "login"


# --- The plan and its readiness -----------------------------------------------------------


def test_the_first_visit_opens_a_plan_with_the_default_criteria(client_for, agent, project):
    assert not HandoverPlan.objects.filter(project=project).exists()
    response = client_for(agent).get(URL)
    plan = HandoverPlan.objects.get(project=project)
    assert [c.name for c in plan.criteria.all()] == list(DEFAULT_CRITERIA)
    assert {c.status for c in plan.criteria.all()} == {Status.TODO}
    assert (plan.hypercare_days, plan.hypercare_until, plan.signed_off_at) == (14, None, None)
    assert response.context["readiness"] == 0
    client_for(agent).get(URL)
    assert HandoverPlan.objects.filter(project=project).count() == 1


def test_done_and_not_applicable_count_as_met(plan):
    criteria = list(plan.criteria.all())
    assert handover.readiness(criteria) == 0
    for criterion, status in zip(criteria, ["done", "not_applicable", "in_progress"], strict=False):
        criterion.status = status
    assert handover.readiness(criteria) == 2 * 100 // 7 == 28
    for criterion in criteria:
        criterion.status = Status.NOT_APPLICABLE
    assert handover.readiness(criteria) == 100
    assert handover.readiness([]) == 0


def test_the_readiness_score_is_shown_prominently(client_for, pm, plan):
    names = list(DEFAULT_CRITERIA)
    HandoverCriterion.objects.filter(plan=plan, name__in=names[:3]).update(status=Status.DONE)
    HandoverCriterion.objects.filter(plan=plan, name=names[3]).update(status=Status.NOT_APPLICABLE)
    response = client_for(pm).get(URL)
    assert response.context["readiness"] == 57
    html = response.content.decode()
    assert re.search(r'class="readiness-score[^"]*"><span class="num">57</span>', html)
    assert "4 of 7 criteria met" in text_of(response)


def test_the_planner_saves_owners_evidence_and_status(client_for, pm, agent, plan):
    client = client_for(pm)
    data = row_data(
        plan,
        **{
            "Runbook written": {
                "owner": agent.pk,
                "evidence_url": "https://wiki.example/vpn/runbook",
                "status": "done",
            },
            "SLA agreed": {"status": "not_applicable"},
        },
    )
    response = client.post(URL, data)
    assert response.status_code == 302
    assert response["Location"].endswith("/projects/VPN/handover/#criteria")
    runbook = plan.criteria.get(name="Runbook written")
    assert (runbook.owner, runbook.evidence_url, runbook.status) == (
        agent,
        "https://wiki.example/vpn/runbook",
        "done",
    )
    assert plan.criteria.get(name="SLA agreed").status == "not_applicable"
    page = client.get(URL)
    assert page.context["readiness"] == 28
    assert "Criteria saved." in text_of(page)


def test_the_liaison_and_a_team_member_may_edit_too(client_for, liaison, member, plan):
    for user, name in ((liaison, "Agents trained"), (member, "Monitoring in place")):
        response = client_for(user).post(URL, row_data(plan, **{name: {"status": "in_progress"}}))
        assert response.status_code == 302
        assert plan.criteria.get(name=name).status == "in_progress"


def test_a_bad_evidence_link_keeps_what_was_typed_and_saves_nothing(client_for, pm, plan):
    data = row_data(
        plan,
        **{
            "Runbook written": {"status": "done"},
            "Agents trained": {"evidence_url": "javascript:alert(1)", "status": "done"},
        },
    )
    response = client_for(pm).post(URL, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'value="javascript:alert(1)"' in html
    assert "Enter a valid URL." in html
    assert "Nothing was saved" in html
    assert not plan.criteria.filter(status=Status.DONE).exists()


def test_an_unknown_status_or_owner_is_refused(client_for, pm, stakeholder, plan):
    client = client_for(pm)
    bad_status = row_data(plan, **{"Runbook written": {"status": "finished"}})
    assert client.post(URL, bad_status).status_code == 400
    not_staff = row_data(plan, **{"Runbook written": {"owner": stakeholder.pk}})
    assert client.post(URL, not_staff).status_code == 400
    assert plan.criteria.get(name="Runbook written").owner is None


def test_custom_criteria_are_added_and_removed(client_for, pm, plan):
    client = client_for(pm)
    response = client.post(f"{URL}criteria/", {"name": "  Backup   restore tested "})
    assert response.status_code == 302
    added = plan.criteria.last()
    assert (added.name, added.status) == ("Backup restore tested", Status.TODO)
    assert added.position == len(DEFAULT_CRITERIA)
    assert "“Backup restore tested” added." in text_of(client.get(URL))

    duplicate = client.post(f"{URL}criteria/", {"name": "backup restore TESTED"})
    assert duplicate.status_code == 400
    assert "already a criterion" in duplicate.content.decode()
    blank = client.post(f"{URL}criteria/", {"name": "   "})
    assert blank.status_code == 400

    runbook = plan.criteria.get(name="Runbook written")
    response = client.post(f"{URL}criteria/{runbook.pk}/remove/")
    assert response.status_code == 302
    assert not plan.criteria.filter(pk=runbook.pk).exists()
    assert plan.criteria.count() == len(DEFAULT_CRITERIA)


def test_a_criterion_of_another_plan_cannot_be_removed_here(client_for, pm, plan):
    other = handover.handover_plan_for(factories.ProjectFactory())
    foreign = other.criteria.first()
    assert client_for(pm).post(f"{URL}criteria/{foreign.pk}/remove/").status_code == 404
    assert HandoverCriterion.objects.filter(pk=foreign.pk).exists()


def test_settings_name_the_queues_and_the_length_of_hypercare(client_for, pm, plan, queue):
    second = factories.QueueFactory(name="VPN team", key="VPNT")
    response = client_for(pm).post(
        f"{URL}settings/",
        {"support_queue": queue.pk, "second_line_queue": second.pk, "hypercare_days": 21},
    )
    assert response.status_code == 302
    plan.refresh_from_db()
    assert (plan.support_queue, plan.second_line_queue, plan.hypercare_days) == (queue, second, 21)


@pytest.mark.parametrize("days", ["-1", "366", "two weeks", ""])
def test_bad_settings_keep_what_was_typed(client_for, pm, plan, queue, days):
    response = client_for(pm).post(
        f"{URL}settings/", {"support_queue": queue.pk, "hypercare_days": days}
    )
    assert response.status_code == 400
    form = response.context["settings_form"]
    assert "hypercare_days" in form.errors
    assert form["support_queue"].value() == str(queue.pk)
    plan.refresh_from_db()
    assert (plan.support_queue, plan.hypercare_days) == (None, 14)


def test_an_unknown_queue_is_refused(client_for, pm, plan):
    response = client_for(pm).post(
        f"{URL}settings/", {"support_queue": 999999, "hypercare_days": 14}
    )
    assert response.status_code == 400
    assert "support_queue" in response.context["settings_form"].errors


def test_a_longer_hypercare_moves_the_end_of_a_running_one(plan, pm):
    day = timezone.localdate()
    handover.go_live_reached(plan.project, day)
    plan.refresh_from_db()
    assert plan.hypercare_until == day + timedelta(days=14)
    handover.handover_settings_update(plan=plan, actor=pm, hypercare_days=30)
    plan.refresh_from_db()
    assert plan.hypercare_until == day + timedelta(days=30)


# --- Sign-off -----------------------------------------------------------------------------


def test_the_support_lead_signs_off_a_ready_plan(client_for, support_lead, ready_plan):
    client = client_for(support_lead)
    assert 'action="/projects/VPN/handover/sign-off/"' in client.get(URL).content.decode()
    response = client.post(f"{URL}sign-off/")
    assert response.status_code == 302
    ready_plan.refresh_from_db()
    assert ready_plan.signed_off_by == support_lead
    assert ready_plan.signed_off_at is not None
    text = text_of(client.get(URL))
    assert f"Signed off by {support_lead.get_full_name()}" in text
    assert "signed off: support takes it over" in text


def test_a_superuser_may_sign_off(client_for, admin, ready_plan):
    assert client_for(admin).post(f"{URL}sign-off/").status_code == 302
    ready_plan.refresh_from_db()
    assert ready_plan.signed_off_by == admin


@pytest.mark.parametrize("who", ["pm", "liaison", "agent"])
def test_only_support_leads_sign_off(client_for, cast, ready_plan, who):
    client = client_for(cast[who])
    assert "Sign off handover" not in client.get(URL).content.decode()
    assert client.post(f"{URL}sign-off/").status_code == 403
    ready_plan.refresh_from_db()
    assert ready_plan.signed_off_at is None


def test_the_service_refuses_a_user_without_the_permission(ready_plan, pm):
    with pytest.raises(PermissionDenied):
        handover.handover_sign_off(plan=ready_plan, actor=pm)


def test_sign_off_needs_readiness_100(client_for, support_lead, ready_plan):
    ready_plan.criteria.filter(name="Agents trained").update(status=Status.IN_PROGRESS)
    response = client_for(support_lead).post(f"{URL}sign-off/")
    assert response.status_code == 400
    text = text_of(response)
    assert "Readiness is 85, not 100. Not met yet: Agents trained." in text
    ready_plan.refresh_from_db()
    assert ready_plan.signed_off_at is None


def test_sign_off_needs_a_support_queue(client_for, support_lead, ready_plan):
    HandoverPlan.objects.filter(pk=ready_plan.pk).update(support_queue=None)
    response = client_for(support_lead).post(f"{URL}sign-off/")
    assert response.status_code == 400
    assert "Name the support queue that takes the project over." in text_of(response)
    ready_plan.refresh_from_db()
    assert ready_plan.signed_off_at is None


def test_an_empty_plan_cannot_be_signed_off(ready_plan, support_lead):
    ready_plan.criteria.all().delete()
    with pytest.raises(ValidationError) as refused:
        handover.handover_sign_off(plan=ready_plan, actor=support_lead)
    assert "no criteria" in refused.value.message_dict["readiness"][0]


def signed(plan, lead):
    handover.handover_sign_off(plan=plan, actor=lead)
    plan.refresh_from_db()
    assert plan.signed_off_at is not None
    return plan


def test_changing_a_criterion_after_sign_off_clears_it(client_for, pm, support_lead, ready_plan):
    signed(ready_plan, support_lead)
    client = client_for(pm)
    page = client.get(URL)
    assert "Saving a change clears the sign-off." in text_of(page)
    response = client.post(
        URL,
        row_data(ready_plan, **{"Runbook written": {"evidence_url": "https://wiki.example/rb"}}),
        follow=True,
    )
    ready_plan.refresh_from_db()
    assert (ready_plan.signed_off_at, ready_plan.signed_off_by) == (None, None)
    assert "this change cleared the sign-off" in text_of(response)
    assert "Not signed off yet." in text_of(response)


def test_saving_an_unchanged_table_keeps_the_sign_off(client_for, pm, support_lead, ready_plan):
    signed(ready_plan, support_lead)
    response = client_for(pm).post(URL, row_data(ready_plan), follow=True)
    assert "Nothing to save" in text_of(response)
    ready_plan.refresh_from_db()
    assert ready_plan.signed_off_by == support_lead


def test_adding_or_removing_a_criterion_clears_the_sign_off(
    client_for, pm, support_lead, ready_plan
):
    client = client_for(pm)
    signed(ready_plan, support_lead)
    client.post(f"{URL}criteria/", {"name": "Backup restore tested"})
    ready_plan.refresh_from_db()
    assert ready_plan.signed_off_at is None

    ready_plan.criteria.update(status=Status.DONE)
    signed(ready_plan, support_lead)
    client.post(f"{URL}criteria/{ready_plan.criteria.last().pk}/remove/")
    ready_plan.refresh_from_db()
    assert ready_plan.signed_off_at is None


def test_another_support_queue_clears_the_sign_off_but_hypercare_days_do_not(
    client_for, pm, support_lead, ready_plan, queue
):
    signed(ready_plan, support_lead)
    client = client_for(pm)
    client.post(f"{URL}settings/", {"support_queue": queue.pk, "hypercare_days": 20})
    ready_plan.refresh_from_db()
    assert ready_plan.signed_off_by == support_lead
    other = factories.QueueFactory()
    response = client.post(
        f"{URL}settings/", {"support_queue": other.pk, "hypercare_days": 20}, follow=True
    )
    ready_plan.refresh_from_db()
    assert ready_plan.signed_off_at is None
    assert "cleared the sign-off" in text_of(response)


# --- Hypercare on the page and in the project head ------------------------------------------


def test_hypercare_shows_on_the_handover_page_and_every_project_page(client_for, agent, plan):
    today = timezone.localdate()
    client = client_for(agent)
    assert "Hypercare until" not in client.get("/projects/VPN/").content.decode()
    HandoverPlan.objects.filter(pk=plan.pk).update(hypercare_until=today + timedelta(days=3))
    for path in ("/projects/VPN/", "/projects/VPN/milestones/", URL):
        html = client.get(path).content.decode()
        assert f"Hypercare until {today + timedelta(days=3):%-d %b}" in html, path
    assert "3 days left" in text_of(client.get(URL))
    HandoverPlan.objects.filter(pk=plan.pk).update(hypercare_until=today - timedelta(days=1))
    assert "Hypercare until" not in client.get("/projects/VPN/").content.decode()
    assert "Ended on" in text_of(client.get(URL))


def test_the_handover_tab_is_in_the_project_head(client_for, pm, project):
    html = client_for(pm).get("/projects/VPN/").content.decode()
    assert 'href="/projects/VPN/handover/">Handover</a>' in html
    html = client_for(pm).get(URL).content.decode()
    assert 'href="/projects/VPN/handover/" aria-current="page">Handover</a>' in html


# --- Query counts -------------------------------------------------------------------------


def _grow(plan, rows, agent):
    for n in range(rows):
        HandoverCriterion.objects.create(plan=plan, name=f"Extra {n}", owner=agent, position=20 + n)


@pytest.mark.parametrize("rows", [0, 30])
def test_the_editors_page_runs_a_constant_number_of_queries(
    client_for, pm, agent, plan, rows, django_assert_num_queries
):
    _grow(plan, rows, agent)
    client = client_for(pm)
    # session, user, roles, project, plan, criteria with owners, people for owners, the
    # queues of both selects, the user's permissions and groups' permissions (sign-off)
    with django_assert_num_queries(11):
        response = client.get(URL)
    assert len(response.context["criteria"]) == len(DEFAULT_CRITERIA) + rows


@pytest.mark.parametrize("rows", [0, 30])
def test_the_readers_page_runs_a_constant_number_of_queries(
    client_for, pm, agent, plan, rows, django_assert_num_queries
):
    _grow(plan, rows, agent)
    client = client_for(agent)
    # session, user, roles, project, team membership (can_plan), plan, criteria with
    # owners, the user's permissions and groups' permissions
    with django_assert_num_queries(9):
        response = client.get(URL)
    assert len(response.context["criteria"]) == len(DEFAULT_CRITERIA) + rows


# --- Closing the project ------------------------------------------------------------------

EDIT = "/projects/VPN/edit/"


def close_form(**overrides):
    return {"name": "VPN replacement", "status": "done", "visibility": "stakeholders", **overrides}


def test_an_unsigned_handover_keeps_the_project_open(client_for, pm, project):
    response = client_for(pm).post(EDIT, close_form(name="VPN replacement (final)"))
    assert response.status_code == 400
    errors = response.context["form"].errors["status"]
    assert any("not signed off" in error for error in errors)
    assert 'value="VPN replacement (final)"' in response.content.decode()
    project.refresh_from_db()
    assert (project.status, project.name) == ("active", "VPN replacement")


def test_open_hypercare_keeps_the_project_open(client_for, pm, support_lead, ready_plan):
    signed(ready_plan, support_lead)
    until = timezone.localdate() + timedelta(days=2)
    HandoverPlan.objects.filter(pk=ready_plan.pk).update(hypercare_until=until)
    response = client_for(pm).post(EDIT, close_form())
    assert response.status_code == 400
    (error,) = response.context["form"].errors["status"]
    assert error.startswith("Hypercare runs until")
    assert ready_plan.project.__class__.objects.get(pk=ready_plan.project_id).status == "active"


def test_both_reasons_are_named_together(project, pm):
    plan = handover.handover_plan_for(project)
    HandoverPlan.objects.filter(pk=plan.pk).update(hypercare_until=timezone.localdate())
    with pytest.raises(ValidationError) as refused:
        project_services.project_update(project=project, actor=pm, status="done")
    reasons = refused.value.message_dict["status"]
    assert len(reasons) == 2
    assert reasons[0].startswith("Hypercare runs until")
    assert "not signed off" in reasons[1]


def test_a_signed_handover_after_hypercare_lets_the_project_close(
    client_for, pm, support_lead, ready_plan
):
    signed(ready_plan, support_lead)
    yesterday = timezone.localdate() - timedelta(days=1)
    HandoverPlan.objects.filter(pk=ready_plan.pk).update(hypercare_until=yesterday)
    response = client_for(pm).post(EDIT, close_form())
    assert response.status_code == 302
    assert Project.objects.get(pk=ready_plan.project_id).status == "done"


def test_other_status_changes_are_not_vetoed(project, pm):
    project_services.project_update(project=project, actor=pm, status="cancelled")
    project.refresh_from_db()
    assert project.status == "cancelled"


def test_the_api_answers_a_vetoed_close_with_400_naming_status(project, pm):
    """The projects API has no PATCH of a project (closing happens on its edit page), so
    this drives the API's error handler with the veto a service call raises."""
    with pytest.raises(ValidationError) as refused:
        project_services.project_update(project=project, actor=pm, status="done")
    request = APIRequestFactory().patch("/api/v1/projects/1/")
    response = exception_handler(refused.value, {"request": request, "view": None})
    assert response.status_code == 400
    assert "not signed off" in response.data["status"][0]
