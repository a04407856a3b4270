"""A public status page in a real browser, at phone width first: readable, nothing sticks
out sideways, the moves of a milestone unfold, and the screenshots are kept as artifacts
(tests/artifacts/status-*.png)."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from liaison import status
from liaison.models import ProjectDesk
from liaison.publish import bulletins_refresh
from projects.models import Milestone, Project
from tests import factories
from tests.browser.conftest import PHONE
from tests.projects.page_factories import SlipFactory, StatusUpdateFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def public_page(project, pm, agent):
    """A public project as people would write it: updates, a slipped milestone with its
    reasons, a go-live and its help desk go-live, and a public known issue."""
    today = timezone.localdate()
    now = timezone.now()
    project.description = (
        "Replace the old VPN concentrators with the new client. Everyone with a company "
        "laptop gets the new client automatically; nothing to install by hand."
    )
    project.health = Project.Health.AT_RISK
    project.visibility = Project.Visibility.PUBLIC
    project.liaison = agent
    project.target_date = today + timedelta(days=60)
    project.save()
    factories.MilestoneFactory(
        project=project,
        name="Pilot group live",
        baseline_date=today - timedelta(days=20),
        target_date=today - timedelta(days=20),
        completed_at=now - timedelta(days=20),
    )
    slipped = factories.MilestoneFactory(
        project=project,
        name="Client rolled out to all laptops",
        baseline_date=today + timedelta(days=10),
        target_date=today + timedelta(days=24),
        forecast_date=today + timedelta(days=26),
    )
    SlipFactory(
        milestone=slipped,
        old_date=today + timedelta(days=10),
        new_date=today + timedelta(days=17),
        reason="The certificate vendor delivered a week late.",
        author=pm,
    )
    SlipFactory(
        milestone=slipped,
        old_date=today + timedelta(days=17),
        new_date=today + timedelta(days=24),
        reason="Rollout paused over the finance month-end freeze.",
        author=pm,
    )
    go_live = factories.MilestoneFactory(
        project=project,
        name="Cut-over: old VPN switched off",
        kind=Milestone.Kind.GO_LIVE,
        baseline_date=today + timedelta(days=44),
        target_date=today + timedelta(days=44),
    )
    factories.MilestoneFactory(
        project=project,
        name="Help desk ready for the cut-over",
        kind=Milestone.Kind.HELPDESK_GO_LIVE,
        baseline_date=today + timedelta(days=37),
        target_date=today + timedelta(days=37),
        paired_go_live=go_live,
    )
    StatusUpdateFactory(
        project=project,
        health="on_track",
        summary="The pilot group of 40 people is live. Feedback is good: connections are "
        "faster and the client reconnects by itself after sleep.",
    )
    StatusUpdateFactory(
        project=project,
        health="at_risk",
        summary="Rollout to all laptops is **two weeks later** than planned: the certificate "
        "vendor was late and we paused over month-end.\n\n- Cut-over date unchanged\n"
        "- Next update on Friday",
    )
    queue = factories.QueueFactory(name="Service desk")
    queue.projects.add(project)
    ProjectDesk.objects.create(
        project=project,
        tell_callers="Some laptops drop the VPN after sleep with the old client.",
        workaround="Quit and reopen the VPN client, or use the web portal until your "
        "laptop has the new client.",
        workaround_public=True,
    )
    bulletins_refresh(project)
    status.bump(project.pk)
    return project


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_a_public_status_page_reads_well(page, public_page, screenshot, size):
    if size == "phone":
        page.set_viewport_size(PHONE)
    page.goto(f"/status/{public_page.slug}/")
    expect(page.get_by_role("heading", level=1, name="VPN replacement")).to_be_visible()
    expect(page.get_by_role("heading", name="Known issue")).to_be_visible()
    expect(page.get_by_text("two weeks later")).to_be_visible()
    upcoming = page.locator(".status-upcoming li")
    expect(upcoming).to_have_count(2)
    expect(upcoming.first).to_contain_text("Help desk ready for the cut-over")
    slipped = page.get_by_role("row").filter(has_text="Client rolled out to all laptops")
    expect(slipped).to_contain_text("+16 d")
    slipped.get_by_text("Moved 2 times").click()
    expect(slipped.get_by_text("The certificate vendor delivered a week late.")).to_be_visible()
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"
    # Text stays legible on a phone: nothing in the body under 12px.
    smallest = page.evaluate(
        "Math.min(...[...document.querySelectorAll('main p, main td, main li')]"
        ".map(e => parseFloat(getComputedStyle(e).fontSize)))"
    )
    assert smallest >= 12
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar belongs at the top
    screenshot(page, f"status-page-{size}.png")


def test_the_public_portfolio_on_a_phone(page, public_page, screenshot):
    page.set_viewport_size(PHONE)
    page.goto("/status/")
    expect(page.get_by_role("heading", level=1, name="Status pages")).to_be_visible()
    page.get_by_role("link", name="VPN replacement").click()
    expect(page).to_have_url(f"{page.url.split('/status/')[0]}/status/{public_page.slug}/")
    page.goto("/status/")
    screenshot(page, "status-portfolio-phone.png")


def test_a_pm_hands_out_a_link_and_a_reader_opens_it(
    page, project, pm, log_in, screenshot, browser, live_server
):
    Project.objects.filter(pk=project.pk).update(visibility="stakeholders")
    factories.MilestoneFactory(project=project, name="Client rolled out")
    log_in(page, pm)
    page.goto(f"/projects/{project.key}/status-links/")
    page.get_by_label("Who is it for?").fill("Finance leads")
    page.get_by_role("button", name="Create link").click()
    field = page.get_by_label("Link for Finance leads")
    expect(field).to_be_visible()
    url = field.input_value()
    screenshot(page, "status-links.png")
    reader = browser.new_context(viewport=PHONE)
    try:
        other = reader.new_page()
        parts = urlsplit(url)  # SITE_URL's host: the live server listens elsewhere
        other.goto(f"{live_server.url}{parts.path}?{parts.query}")
        expect(other.get_by_role("heading", level=1, name="VPN replacement")).to_be_visible()
        expect(other.get_by_text("through a private link")).to_be_visible()
    finally:
        reader.close()
