"""The liaison's pages in a real browser, with a realistic week: the inbox and a project's
help desk side (bulletin preview, questions, promise ledger). Each test saves
tests/artifacts/liaison-*.png and checks what a person looking at the page would notice."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from config.celery import app as celery_app
from liaison.models import ProjectDesk, Promise, Question
from projects.models import Milestone, MilestoneSlip, Project
from tests import factories
from tests.projects import page_factories as pf

pytestmark = pytest.mark.browser

CALLERS = [
    ("Dana Whitfield", "dana@example.org", "VPN drops every hour"),
    ("Marc Olsen", "marc@example.org", "When does the new VPN client come?"),
    ("Ines Duarte", "ines@example.org", "Cannot reach the file share from home"),
    ("Tom Becker", "tom@example.org", "New laptop: which VPN should I install?"),
]


@pytest.fixture
def week(pm, agent, queue):
    """Lee, the liaison of two projects: the VPN replacement (its rollout slipped past
    dates agents gave callers) and a smaller one; questions, tickets, tasks, a paired
    help desk go-live."""
    today = timezone.localdate()
    now = timezone.now()
    pm.first_name, pm.last_name = "Priya", "Menon"
    pm.save()
    agent.first_name, agent.last_name = "Lee", "Adeyemi"
    agent.save()
    network = factories.QueueFactory(name="Network", slug="network", key="NET", members=[agent])
    vpn = factories.ProjectFactory(
        key="VPN",
        name="VPN replacement",
        slug="vpn",
        owner=pm,
        liaison=agent,
        health=Project.Health.AT_RISK,
        keywords="VPN, remote access, AnyConnect",
    )
    vpn.queues.add(queue, network)
    wiki = factories.ProjectFactory(
        key="WIKI", name="Intranet wiki", slug="wiki", owner=pm, liaison=agent
    )
    wiki.queues.add(queue)
    rollout = factories.MilestoneFactory(
        project=vpn,
        name="Client rollout",
        kind=Milestone.Kind.GO_LIVE,
        baseline_date=today + timedelta(days=5),
        target_date=today + timedelta(days=19),
    )
    MilestoneSlip.objects.create(
        milestone=rollout,
        old_date=today + timedelta(days=5),
        new_date=today + timedelta(days=19),
        reason="Certificate authority migration late (internal)",
        author=pm,
    )
    factories.MilestoneFactory(
        project=vpn,
        name="Help desk ready",
        kind=Milestone.Kind.HELPDESK_GO_LIVE,
        baseline_date=today + timedelta(days=12),
        target_date=today + timedelta(days=12),
        owner=agent,
        paired_go_live=rollout,
    )
    done = factories.MilestoneFactory(
        project=vpn,
        name="Pilot group live",
        baseline_date=today - timedelta(days=20),
        target_date=today - timedelta(days=20),
        completed_at=now - timedelta(days=21),
    )
    factories.MilestoneFactory(
        project=wiki, name="Wiki launch", target_date=today + timedelta(days=30)
    )
    tickets = []
    for name, email, subject in CALLERS:
        contact = factories.ContactFactory(name=name, email=email)
        tickets.append(
            factories.TicketFactory(
                queue=queue, requester=contact, subject=subject, project=vpn, milestone=rollout
            )
        )
    factories.TicketFactory(queue=network, subject="Wiki search is slow", project=wiki)
    for ticket, promised in zip(tickets[:3], (4, 7, 9), strict=True):
        Promise.objects.create(
            ticket=ticket, milestone=rollout, promised_date=today + timedelta(days=promised)
        )
    Promise.objects.create(
        ticket=tickets[3], milestone=rollout, promised_date=today + timedelta(days=25)
    )
    Promise.objects.create(
        ticket=tickets[0], milestone=done, promised_date=today - timedelta(days=18)
    )
    Question.objects.create(
        ticket=tickets[0],
        project=vpn,
        text="Does the new client still support **split tunnelling** for home workers?",
        asked_by=agent,
        due_at=now - timedelta(hours=3),
    )
    Question.objects.create(
        ticket=tickets[2],
        project=vpn,
        text="Will the old client keep working until the rollout?",
        asked_by=agent,
        due_at=now + timedelta(hours=20),
    )
    Question.objects.create(
        ticket=tickets[1],
        project=wiki,
        text="Is the old wiki read-only yet?",
        asked_by=agent,
        due_at=now + timedelta(days=2),
    )
    ProjectDesk.objects.create(
        project=vpn,
        workaround="Use the web portal at https://portal.example.org until your laptop has "
        "the new client.",
        workaround_public=True,
    )
    pf.TaskFactory(
        project=vpn,
        title="Write the help desk runbook",
        assignee=agent,
        due_date=today + timedelta(days=6),
    )
    pf.TaskFactory(
        project=vpn,
        title="Train the first-line team",
        assignee=agent,
        due_date=today - timedelta(days=1),
    )
    return {"vpn": vpn, "rollout": rollout}


def test_the_liaison_inbox_at_1280(page, log_in, agent, week, screenshot):
    log_in(page, agent)
    page.goto("/liaison/")
    expect(page.get_by_role("heading", name="Liaison inbox")).to_be_visible()
    projects = page.locator("table.liaison-projects tbody tr")
    expect(projects).to_have_count(2)
    expect(projects.first).to_contain_text("Intranet wiki")
    expect(page.locator("tr.is-overdue")).to_contain_text("split tunnelling")
    expect(page.get_by_text("3 callers to update")).to_be_visible()
    expect(page.locator(".liaison-work")).to_contain_text("Help desk ready")
    expect(page.locator(".liaison-work")).to_contain_text("Train the first-line team")
    screenshot(page, "liaison-inbox.png")


@pytest.fixture
def run_tasks_here():
    """The update's mail task runs in the live server's thread (into the locmem outbox),
    not on the machine's shared broker."""
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


def test_the_help_desk_page_at_1280_and_the_ledger_action(
    page, log_in, agent, week, screenshot, run_tasks_here, mailoutbox
):
    log_in(page, agent)
    page.goto("/projects/VPN/helpdesk/")
    expect(page.get_by_role("link", name="Help desk", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.locator(".bulletin-preview")).to_contain_text("VPN replacement")
    expect(page.locator(".bulletin-preview")).to_contain_text("Use the web portal")
    expect(page.locator(".ledger-stats")).to_contain_text("Accuracy")
    button = page.get_by_role("button", name="Send an update to these 3 callers")
    expect(button).to_be_visible()
    assert "Certificate authority" not in page.locator(".update-preview").inner_text()
    screenshot(page, "liaison-helpdesk.png")
    page.get_by_text("Change what the help desk is told").click()
    expect(page.get_by_label("What to tell callers")).to_be_visible()
    expect(page.get_by_label("Network")).to_be_checked()
    page.locator(".desk-settings").scroll_into_view_if_needed()
    screenshot(page, "liaison-helpdesk-settings.png", full_page=False)
    page.get_by_text("Change what the help desk is told").click()  # closed again

    # An empty answer comes back with the error; a real one is sent.
    overdue = page.locator(".question.is-overdue")
    overdue.get_by_role("button", name="Send answer").click()
    expect(page.locator(".question.is-overdue .error")).to_have_text(
        "Write an answer before sending it."
    )
    page.locator(".question.is-overdue textarea").fill("Yes, split tunnelling stays on.")
    page.locator(".question.is-overdue").get_by_role("button", name="Send answer").click()
    expect(
        page.get_by_text("Answer sent: it is on the ticket as an internal note.")
    ).to_be_visible()

    page.get_by_role("button", name="Send an update to these 3 callers").click()
    expect(page.get_by_text("Update sent to 3 callers")).to_be_visible()
    expect(page.get_by_text("No caller is waiting on a date that no longer holds.")).to_be_visible()
    assert sorted(m.to[0] for m in mailoutbox) == [
        "dana@example.org", "ines@example.org", "marc@example.org"
    ]  # fmt: skip
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "liaison-helpdesk-after.png")
