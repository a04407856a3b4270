"""The project pages in a real browser, with a realistic plan: the home page, the risk
register's heat map and the workload. Each test saves tests/artifacts/project-*.png and
checks what a person looking at the page would notice."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from projects import services
from projects.models import Milestone, Project
from tests import factories
from tests.browser.conftest import PHONE
from tests.projects import page_factories as pf

pytestmark = pytest.mark.browser

RISKS = [
    # title, probability, impact, mitigation
    ("Old concentrators fail before cut-over", 3, 5, "Spare unit on site."),
    ("Client certificate roll-out misses home workers", 4, 4, "Installer by e-mail; desk script."),
    ("Firewall change window refused", 2, 4, "Book the CAB slot two weeks ahead."),
    ("Licence count too low", 2, 2, "Order 10% spare seats."),
    ("Trainer unavailable", 1, 3, ""),
    ("Vendor ships wrong firmware", 4, 5, "Test every unit in the lab before it goes to a site."),
    ("Staff ignore the reminder e-mails", 5, 2, "Team leads follow up in stand-ups."),
]  # fmt: skip


@pytest.fixture
def plan(pm, agent, stakeholder):
    """The VPN replacement, six weeks in: milestones (one done, one moved twice), risks,
    three status updates and a team with tasks over the next weeks."""
    today = timezone.localdate()
    pm.first_name, pm.last_name = "Priya", "Menon"
    pm.save()
    agent.first_name, agent.last_name = "Alex", "Kowalski"
    agent.save()
    team = [
        factories.AgentFactory(first_name=first, last_name=last)
        for first, last in [("Sam", "Okafor"), ("Jo", "Lindqvist"), ("Ravi", "Shah")]
    ]
    project = services.project_create(
        owner=pm,
        actor=pm,
        key="VPN",
        name="VPN replacement",
        slug="vpn",
        status=Project.Status.ACTIVE,
        liaison=agent,
        start_date=today - timedelta(days=42),
        target_date=today + timedelta(days=70),
        description="Replace the old VPN concentrators with the new client.\n\n"
        "**Callers** who cannot connect after the cut-over should restart the client first.",
    )
    project.stakeholders.add(stakeholder)
    services.members_set(project=project, users=[agent, *team], actor=pm)
    pilot = services.milestone_create(
        project=project, name="Pilot group live", target_date=today - timedelta(days=14), actor=pm
    )
    services.milestone_complete(milestone=pilot, actor=pm)
    rollout = services.milestone_create(
        project=project,
        name="Client rolled out to all laptops",
        target_date=today + timedelta(days=10),
        actor=pm,
    )
    services.milestone_create(
        project=project,
        name="Cut-over: old VPN switched off",
        kind=Milestone.Kind.GO_LIVE,
        target_date=today + timedelta(days=44),
        actor=pm,
    )
    services.milestone_create(
        project=project,
        name="Handover to the service desk",
        kind=Milestone.Kind.HANDOVER,
        target_date=today + timedelta(days=60),
        actor=pm,
    )
    services.milestone_reschedule(
        milestone=rollout,
        target_date=today + timedelta(days=17),
        reason="Certificate authority needs a new intermediate first.",
        actor=pm,
    )
    services.milestone_reschedule(
        milestone=rollout,
        target_date=today + timedelta(days=24),
        reason="Packaging team on leave for a week.",
        actor=pm,
    )
    owners = [pm, agent, *team]
    for n, (title, probability, impact, mitigation) in enumerate(RISKS):
        services.risk_save(
            project=project,
            actor=pm,
            title=title,
            probability=probability,
            impact=impact,
            mitigation=mitigation,
            owner=owners[n % len(owners)],
            review_date=today + timedelta(days=7 * (n - 1)),
        )
    for health, summary in [
        ("on_track", "Pilot group live on the new client. No tickets about it."),
        ("on_track", "Packaging started; certificate work planned."),
        (
            "at_risk",
            "**Roll-out moved by two weeks.** The certificate authority needs a new "
            "intermediate before laptops can trust the new gateway.\n\n"
            "- Next: CA change on Tuesday\n- Then: wave 1 (120 laptops)\n\n"
            "Help desk: callers on the old VPN are not affected.",
        ),
    ]:
        services.status_update_publish(project=project, health=health, summary=summary, actor=pm)
    # Work for the team over the next weeks, across this and another project.
    other = factories.ProjectFactory(name="Wi-Fi refresh", key="WIFI", owner=pm)
    column = project.columns.first()
    other_column = pf.ColumnFactory(project=other)
    pf.CapacityFactory(user=team[0], hours_per_week=32)
    pf.CapacityFactory(user=team[2], hours_per_week=20)
    monday = today - timedelta(days=today.weekday())
    load = [
        # person, project, hours, week
        (agent, project, 30, 0), (agent, other, 16, 0), (agent, project, 24, 1),
        (agent, project, 12, 3), (team[0], project, 28, 0), (team[0], project, 30, 1),
        (team[0], other, 20, 2), (team[1], project, 16, 0), (team[1], project, 38, 2),
        (team[1], project, 20, 5), (team[2], other, 12, 1), (team[2], project, 14, 1),
        (team[2], project, 8, 4), (pm, project, 6, 0), (pm, project, 6, 1), (pm, project, 40, 12),
    ]  # fmt: skip
    for n, (person, where, hours, week) in enumerate(load):
        pf.TaskFactory(
            project=where,
            column=column if where == project else other_column,
            assignee=person,
            title=f"Work package {n}",
            estimate_hours=hours,
            due_date=monday + timedelta(weeks=week, days=3),
        )
    return project


def assert_fits_the_screen(page):
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"


def test_project_home(page, log_in, pm, plan, screenshot):
    log_in(page, pm)
    page.goto("/projects/VPN/")
    expect(page.get_by_role("heading", level=1, name="VPN replacement")).to_be_visible()
    expect(page.locator(".project-head .badge-at_risk")).to_have_text("At risk")
    update = page.get_by_role("region", name="Latest status update")
    expect(update.locator("strong").first).to_have_text("Roll-out moved by two weeks.")
    slipped = page.get_by_role("row").filter(has_text="Client rolled out to all laptops")
    expect(slipped).to_contain_text("+14 d")
    expect(page.get_by_role("list", name="Recent changes to the plan")).to_contain_text(
        "Packaging team on leave for a week."
    )
    expect(page.get_by_role("navigation", name="Project")).to_be_visible()
    assert_fits_the_screen(page)
    screenshot(page, "project-home.png")


def test_project_home_on_a_phone(page, log_in, pm, plan, screenshot):
    page.set_viewport_size(PHONE)
    log_in(page, pm)
    page.goto("/projects/VPN/")
    expect(page.get_by_role("heading", level=1, name="VPN replacement")).to_be_visible()
    assert_fits_the_screen(page)
    screenshot(page, "project-home-phone.png")


def test_risk_register_heat_map(page, log_in, pm, plan, screenshot):
    log_in(page, pm)
    page.goto("/projects/VPN/risks/")
    extreme = page.get_by_role(
        "link", name="Probability 4, impact 5, score 20 (Extreme): 1 open risk"
    )
    expect(extreme).to_be_visible()
    expect(page.get_by_role("link", name="Probability 4, impact 4, score 16 (High): 1 open risk"))
    screenshot(page, "project-risks.png")
    extreme.click()
    expect(
        page.get_by_role("heading", name="Risks with probability 4 and impact 5")
    ).to_be_visible()
    expect(page.locator(".risk-table tbody tr")).to_have_count(1)
    assert_fits_the_screen(page)


def test_milestones_with_their_moves(page, log_in, pm, plan, screenshot):
    log_in(page, pm)
    page.goto("/projects/VPN/milestones/")
    moves = page.get_by_role("list", name="Moves of Client rolled out to all laptops")
    expect(moves.get_by_role("listitem")).to_have_count(2)
    expect(moves).to_contain_text("Packaging team on leave for a week.")
    assert_fits_the_screen(page)
    screenshot(page, "project-milestones.png")


def test_status_updates(page, log_in, pm, plan, screenshot):
    log_in(page, pm)
    page.goto("/projects/VPN/updates/")
    updates = page.get_by_role("list", name="Status updates, newest first")
    expect(updates.get_by_role("listitem").first).to_contain_text("Roll-out moved by two weeks.")
    page.get_by_label("Off track").check()
    page.get_by_label("Summary").fill("Gateway **down** in the lab.")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".project-head .badge-off_track")).to_have_text("Off track")
    expect(updates.get_by_role("listitem").first.locator("strong").last).to_have_text("down")
    screenshot(page, "project-updates.png")


def test_workload(page, log_in, pm, plan, screenshot):
    log_in(page, pm)
    page.goto("/projects/workload/")
    expect(page.get_by_role("heading", level=1, name="Workload")).to_be_visible()
    alex = page.get_by_role("row").filter(has_text="Alex Kowalski")
    expect(alex.locator("td.load").first).to_have_class("load over this-week")
    expect(alex.locator("td.load").first).to_contain_text("46")
    ravi = page.get_by_role("row").filter(has_text="Ravi Shah")
    expect(ravi.locator("td.load").nth(1)).to_contain_text("over")  # 26 h of 20
    assert_fits_the_screen(page)
    screenshot(page, "project-workload.png")


def test_project_list(page, log_in, pm, plan, screenshot):
    factories.ProjectFactory(name="Phone system", key="TEL", status="planning", owner=pm)
    log_in(page, pm)
    page.goto("/projects/")
    row = page.get_by_role("row").filter(has_text="VPN replacement")
    expect(row).to_contain_text("Client rolled out to all laptops")
    expect(row).to_contain_text("+14 d")
    page.get_by_label("Status").select_option("planning")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row").filter(has_text="VPN replacement")).to_have_count(0)
    expect(page.get_by_role("row").filter(has_text="Phone system")).to_have_count(1)
    page.goto("/projects/")
    assert_fits_the_screen(page)
    screenshot(page, "project-list.png")


def test_edit_form_keeps_what_was_typed(page, log_in, pm, plan, screenshot):
    log_in(page, pm)
    page.goto("/projects/VPN/edit/")
    page.get_by_label("Name").fill("VPN replacement, phase 2")
    page.get_by_label("Start date").fill("2031-05-01")
    page.get_by_label("Target date").fill("2031-04-01")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert").first).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value("VPN replacement, phase 2")
    assert_fits_the_screen(page)
    screenshot(page, "project-edit-error.png")


def test_review(page, log_in, pm, plan, screenshot):
    log_in(page, pm)
    page.goto("/projects/VPN/review/")
    row = page.get_by_role("row").filter(has_text="Client rolled out to all laptops")
    expect(row).to_contain_text("+14 d")
    page.get_by_label("Lesson", exact=True).fill("Book the **certificate** work before packaging.")
    page.get_by_role("button", name="Add lesson").click()
    expect(page.locator(".lessons .prose strong")).to_have_text("certificate")
    assert_fits_the_screen(page)
    screenshot(page, "project-review.png")
