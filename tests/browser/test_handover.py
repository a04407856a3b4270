"""The handover page in a real browser: the liaison works through the criteria, the support
lead signs off, and hypercare shows in the project head. Saves
tests/artifacts/handover-*.png."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from playwright.sync_api import expect

from liaison import handover
from liaison.models import HandoverPlan
from projects.models import Project
from tests import factories

pytestmark = pytest.mark.browser

URL = "/projects/VPN/handover/"


@pytest.fixture
def people(pm, agent):
    pm.first_name, pm.last_name = "Priya", "Menon"
    pm.save()
    agent.first_name, agent.last_name = "Alex", "Kowalski"
    agent.save()
    lead = factories.AgentFactory(username="lead", first_name="Lee", last_name="Support")
    lead.user_permissions.add(
        Permission.objects.get(codename="sign_off_handover", content_type__app_label="liaison")
    )
    return {"pm": pm, "liaison": agent, "lead": lead}


@pytest.fixture
def plan(people, queue):
    """The VPN replacement's handover, half way: some criteria done, one not applicable."""
    project = factories.ProjectFactory(
        key="VPN", name="VPN replacement", slug="vpn", owner=people["pm"], liaison=people["liaison"]
    )
    plan = handover.handover_plan_for(project)
    second = factories.QueueFactory(name="VPN project team", slug="vpn-team", key="VPNT")
    HandoverPlan.objects.filter(pk=plan.pk).update(support_queue=queue, second_line_queue=second)
    states = {
        "Runbook written": ("done", people["liaison"], "https://wiki.example/it/vpn/runbook"),
        "Support owner accepted": ("done", people["pm"], ""),
        "Agents trained": ("in_progress", people["liaison"], ""),
        "SLA agreed": ("not_applicable", None, ""),
        "Escalation contacts named": ("done", people["pm"], "https://wiki.example/it/vpn/contacts"),
    }
    for criterion in plan.criteria.all():
        if criterion.name in states:
            criterion.status, criterion.owner, criterion.evidence_url = states[criterion.name]
            criterion.save()
    return plan


def test_the_liaison_completes_the_criteria_and_the_lead_signs_off(
    page, log_in, people, plan, screenshot
):
    log_in(page, people["liaison"])
    page.goto(URL)
    expect(page.locator(".readiness-score .num")).to_have_text("57")
    expect(page.get_by_role("link", name="Handover")).to_have_attribute("aria-current", "page")
    screenshot(page, "handover-liaison.png")

    for name in ("Agents trained", "Known issues loaded", "Monitoring in place"):
        page.get_by_label(f"Status of {name}").select_option("done")
    page.get_by_label("Evidence link for Agents trained").fill("https://lms.example/vpn-course")
    page.get_by_role("button", name="Save criteria").click()
    expect(page.locator(".flash")).to_contain_text("Criteria saved.")
    expect(page.locator(".readiness-score .num")).to_have_text("100")
    expect(page.locator(".signoff-card")).to_contain_text("Ready")

    page.context.clear_cookies()
    log_in(page, people["lead"])
    page.goto(URL)
    page.get_by_role("button", name="Sign off handover").click()
    expect(page.locator(".signoff-card")).to_contain_text("Signed off by Lee Support")
    plan.refresh_from_db()
    assert plan.signed_off_by == people["lead"]


def test_a_bad_link_is_kept_and_marked(page, log_in, people, plan):
    log_in(page, people["pm"])
    page.goto(URL)
    field = page.get_by_label("Evidence link for Monitoring in place")
    field.fill("not a link")
    page.get_by_role("button", name="Save criteria").click()
    expect(page.locator(".error-box")).to_contain_text("Nothing was saved")
    expect(page.get_by_label("Evidence link for Monitoring in place")).to_have_value("not a link")
    expect(page.locator("#criteria-form .error")).to_contain_text("Enter a valid URL.")


def test_hypercare_in_the_head_and_the_readers_view(page, log_in, people, plan, screenshot):
    handover.go_live_reached(plan.project, timezone.localdate() - timedelta(days=3))
    Project.objects.filter(pk=plan.project_id).update(health="on_track")
    reader = factories.AgentFactory(username="reader")
    log_in(page, reader)
    page.goto(URL)
    badge = page.locator(".project-head .badge-hypercare")
    expect(badge).to_be_visible()
    expect(page.locator(".hypercare-card")).to_contain_text("11 days left")
    expect(page.locator("#criteria-form")).to_have_count(0)
    screenshot(page, "handover-hypercare-reader.png")
    page.goto("/projects/VPN/")
    expect(page.locator(".project-head .badge-hypercare")).to_contain_text("Hypercare until")
