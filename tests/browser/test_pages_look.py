"""A walk through every main page with realistic data, in a real browser.

Each test saves a screenshot under tests/artifacts/ (CI keeps them, so a reviewer sees what
a change did to the pages) and checks something a person looking at the page would notice.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from helpdesk.models import Ticket, TicketEvent
from projects.models import Milestone, Project
from tests import factories
from tests.browser.conftest import PHONE

pytestmark = pytest.mark.browser

S = Ticket.Status
P = Ticket.Priority

# subject, status, priority, requester name (or "" for an e-mail-only caller), assigned
TICKETS = [
    ("Laptop will not connect to office Wi-Fi", S.NEW, P.P2, "Lena Fischer", False),
    ("New starter needs accounts on Monday", S.OPEN, P.P3, "HR team", True),
    ("Outlook keeps asking for my password", S.PENDING, P.P3, "Omar Haddad", True),
    ("When does the new VPN arrive?", S.NEW, P.P4, "", False),
    ("Printer on floor 2 jams on every job", S.OPEN, P.P3, "Facilities", False),
    ("Cannot open shared drive S:", S.RESOLVED, P.P2, "Mei Chen", True),
    ("Branch office link down since this morning, all 14 staff offline", S.OPEN, P.P1,
     "Branch manager", True),
    ("Request firewall rule for payroll vendor", S.ON_HOLD, P.P3, "Payroll", False),
    ("VPN drops every 20 minutes", S.OPEN, P.P2, "Kwame Osei", True),
    ("Monitor flickers", S.CLOSED, P.P4, "Ana Silva", True),
    ("Phone extension 4411 rings nowhere", S.NEW, P.P3, "Reception", False),
    ("Access to the finance share for the auditors, read only until the end of the month",
     S.PENDING, P.P2, "", True),
    ("Teams meeting room camera is upside down", S.OPEN, P.P4, "Facilities", False),
    ("Password reset for a locked-out account", S.NEW, P.P1, "Jo Martin", False),
    ("Keyboard missing the letter Q", S.ON_HOLD, P.P4, "Kim Lee", True),
]  # fmt: skip


@pytest.fixture
def seeded(agent, queue, pm, stakeholder, project, requester):
    """A queue with 15 tickets of mixed status and priority, a project with milestones
    (one done, one slipped), and one ticket with a public reply, an internal note and a
    system note. Returns the things the tests look for."""
    today = timezone.localdate()
    project.description = (
        "Replace the old VPN concentrators with the new client.\n\n"
        "**Callers** who cannot connect after the cut-over should restart the client first."
    )
    project.health = Project.Health.AT_RISK
    project.visibility = Project.Visibility.STAKEHOLDERS
    project.liaison = agent
    project.start_date = today - timedelta(days=40)
    project.target_date = today + timedelta(days=60)
    project.save()
    factories.MilestoneFactory(
        project=project,
        name="Pilot group live",
        baseline_date=today - timedelta(days=20),
        target_date=today - timedelta(days=20),
        completed_at=timezone.now() - timedelta(days=20),
    )
    slipped = factories.MilestoneFactory(
        project=project,
        name="Client rolled out to all laptops",
        baseline_date=today + timedelta(days=10),
        target_date=today + timedelta(days=24),
    )
    factories.MilestoneFactory(
        project=project,
        name="Cut-over: old VPN switched off",
        kind=Milestone.Kind.GO_LIVE,
        baseline_date=today + timedelta(days=44),
        target_date=today + timedelta(days=44),
    )
    factories.ProjectFactory(
        key="WIFI", name="Wi-Fi refresh", slug="wifi", owner=pm, stakeholders=[stakeholder]
    )

    contacts = {}
    for number, (subject, status, priority, name, assigned) in enumerate(TICKETS, start=1):
        email = f"{(name or f'caller{number}').lower().replace(' ', '.')}@example.org"
        if email not in contacts:
            contacts[email] = factories.ContactFactory(email=email, name=name)
        factories.TicketFactory(
            queue=queue,
            number=100 + number,
            subject=subject,
            status=status,
            priority=priority,
            requester=contacts[email],
            assignee=agent if assigned else None,
        )

    ticket = factories.TicketFactory(
        queue=queue,
        number=200,
        subject="VPN client says 'certificate expired'",
        status=S.OPEN,
        priority=P.P2,
        requester=requester,
        assignee=agent,
        project=project,
        milestone=slipped,
    )
    events = [
        (TicketEvent.Kind.CREATED, True, None, "Since this morning the VPN client says "
         "*certificate expired* and will not connect.", requester),
        (TicketEvent.Kind.REPLY, True, agent, "Thanks Casey. The new VPN client fixes this; "
         "it reaches your laptop with the next rollout wave.", None),
        (TicketEvent.Kind.NOTE, False, agent, "Known issue with the old concentrator "
         "certificate. INTERNAL-ONLY: do not promise a date before the liaison confirms.",
         None),
        (TicketEvent.Kind.SYSTEM, False, None, "VPN replacement: *Client rolled out to all "
         "laptops* moved from baseline +10 days to +24 days.", None),
        (TicketEvent.Kind.STATUS, True, agent, "New → Open", None),
    ]  # fmt: skip
    for kind, public, author, body, contact in events:
        factories.TicketEventFactory(
            ticket=ticket,
            kind=kind,
            public=public,
            author=author,
            author_contact=contact,
            body=body,
        )
    return {"ticket": ticket, "project": project, "slipped": slipped}


def assert_fits_the_screen(page):
    """Nothing sticks out sideways: no horizontal scrolling of the whole page."""
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"


def test_login_page(page, screenshot):
    page.goto("/accounts/login/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in to Bridgedesk")
    expect(page.get_by_label("Username")).to_be_focused()
    # Anonymous visitors get no navigation and no user menu.
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    screenshot(page, "page-login.png")


def test_triage_lists_open_tickets_with_reference_and_badges(
    page, log_in, agent, seeded, screenshot
):
    log_in(page, agent)
    page.goto("/tickets/")
    expect(page.get_by_role("heading", level=1, name="Tickets")).to_be_visible()
    table = page.get_by_role("table")
    expect(table.get_by_role("link", name="SD-200", exact=True)).to_be_visible()
    expect(table.get_by_role("link", name="SD-107", exact=True)).to_be_visible()
    # The default filter shows open work: resolved and closed tickets stay out of the way.
    expect(table.get_by_text("Cannot open shared drive S:")).to_have_count(0)
    expect(table.get_by_role("row")).to_have_count(1 + 14)  # header + open tickets
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Tickets")).to_have_attribute("aria-current", "page")
    assert_fits_the_screen(page)
    screenshot(page, "page-triage.png")


def test_triage_keyboard_focus_is_visible(page, log_in, agent, seeded, screenshot):
    log_in(page, agent)
    page.goto("/tickets/")
    # The first Tab reveals the skip link; the next ones walk the top bar.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    focused = page.locator(":focus")
    outline = focused.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none", "the focused link shows no outline"
    screenshot(page, "page-triage-focus.png", full_page=False)


def test_ticket_detail_shows_the_whole_timeline_to_the_agent(
    page, log_in, agent, seeded, screenshot
):
    ticket = seeded["ticket"]
    log_in(page, agent)
    page.goto(ticket.get_absolute_url())
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("SD-200")
    expect(heading).to_contain_text("certificate expired")
    timeline = page.get_by_role("list", name="Timeline")
    expect(timeline.get_by_role("listitem")).to_have_count(5)
    expect(timeline.get_by_text("INTERNAL-ONLY")).to_be_visible()
    details = page.get_by_role("complementary", name="Ticket details")
    expect(details.get_by_role("link", name="VPN replacement")).to_be_visible()
    assert_fits_the_screen(page)
    screenshot(page, "page-ticket.png")


def test_project_list(page, log_in, pm, seeded, screenshot):
    log_in(page, pm)
    page.goto("/projects/")
    expect(page.get_by_role("heading", level=1, name="Projects")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="VPN replacement")
    expect(row).to_contain_text("At risk")
    expect(row).to_contain_text("Client rolled out to all laptops")
    assert_fits_the_screen(page)
    screenshot(page, "page-projects.png")


def test_project_detail_shows_the_slipped_milestone(page, log_in, pm, seeded, screenshot):
    project = seeded["project"]
    log_in(page, pm)
    page.goto(project.get_absolute_url())
    expect(page.get_by_role("heading", level=1, name="VPN replacement")).to_be_visible()
    slipped = page.get_by_role("row").filter(has_text="Client rolled out to all laptops")
    expect(slipped).to_contain_text("+14 d")
    expect(page.locator(".prose strong")).to_have_text("Callers")  # Markdown rendered
    assert_fits_the_screen(page)
    screenshot(page, "page-project.png")


def test_status_index(page, log_in, stakeholder, seeded, screenshot):
    log_in(page, stakeholder)
    page.goto("/status/")
    expect(page.get_by_role("heading", level=1, name="Status pages")).to_be_visible()
    expect(page.get_by_role("link", name="VPN replacement")).to_be_visible()
    expect(page.get_by_role("link", name="Wi-Fi refresh")).to_be_visible()
    assert_fits_the_screen(page)
    screenshot(page, "page-status-index.png")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_status_page(page, log_in, stakeholder, seeded, screenshot, size):
    if size == "phone":
        page.set_viewport_size(PHONE)
    log_in(page, stakeholder)
    page.goto(f"/status/{seeded['project'].slug}/")
    expect(page.get_by_role("heading", level=1, name="VPN replacement")).to_be_visible()
    expect(page.get_by_text("At risk").first).to_be_visible()
    slipped = page.get_by_role("row").filter(has_text="Client rolled out to all laptops")
    expect(slipped).to_contain_text("+14 d")
    assert_fits_the_screen(page)
    screenshot(page, f"page-status-{size}.png")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_requester_page_shows_public_entries_only(page, seeded, screenshot, size):
    if size == "phone":
        page.set_viewport_size(PHONE)
    ticket = seeded["ticket"]
    page.goto(ticket.get_requester_url())
    expect(page.get_by_role("heading", level=1)).to_have_text(ticket.subject)
    expect(page.get_by_text("SD-200")).to_be_visible()
    expect(page.get_by_text("Thanks Casey.")).to_be_visible()
    # Internal notes and internal system notes never reach the caller.
    expect(page.get_by_text("INTERNAL-ONLY")).to_have_count(0)
    expect(page.get_by_text("moved from baseline")).to_have_count(0)
    expect(page.get_by_text("internal", exact=False)).to_have_count(0)
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    assert_fits_the_screen(page)
    screenshot(page, f"page-requester-{size}.png")


def test_not_found_page(page, log_in, agent, seeded, screenshot):
    log_in(page, agent)
    response = page.goto("/tickets/999999/")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1, name="Not found")).to_be_visible()
    expect(page.get_by_role("link", name="Go to your home page")).to_have_attribute("href", "/")
    screenshot(page, "page-404.png")
