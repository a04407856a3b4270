"""The bridge as the agent sees it, in a real browser: a go-live moved by the PM reaches the
open triage page by itself (published by a real Celery worker), and the answer card puts
a dated answer into a reply that records the promise."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from helpdesk.models import Ticket
from helpdesk.services import ticket_refresh_search
from liaison import publish
from liaison.briefing import human_date
from liaison.models import Bulletin, HandoverPlan, ProjectDesk, Promise, Question
from projects import services as plan
from projects.models import Milestone
from tests import factories
from tests.kit import celery_worker

pytestmark = pytest.mark.browser


@pytest.fixture
def go_live(queue, project, pm, agent):
    """VPN affects the agent's queue; its go-live (and the paired help desk go-live) are
    published, so the triage page has a banner to start from."""
    queue.projects.add(project)
    project.liaison = agent
    project.save(update_fields=["liaison"])
    ProjectDesk.objects.create(
        project=project, workaround="Use the **web client** at vpn.example.org meanwhile."
    )
    milestone = plan.milestone_create(
        project=project,
        name="Go-live",
        target_date=timezone.localdate() + timedelta(days=60),
        kind=Milestone.Kind.GO_LIVE,
        actor=pm,
    )
    publish.publish_project(project.pk)
    return milestone


def banner_date(project) -> str:
    """The date the banner shows: the forecast of the project's next open milestone."""
    bulletin = Bulletin.objects.get(project=project)
    return human_date(bulletin.forecast_date)


def test_a_moved_go_live_reaches_the_open_triage_page_without_a_reload(
    page, log_in, agent, pm, project, go_live, redis_url, tmp_path, screenshot
):
    factories.TicketFactory(queue=go_live.project.queues.get(), subject="VPN drops at login")
    old_date = banner_date(project)
    with celery_worker(tmp_path) as worker:
        log_in(page, agent)
        page.goto("/tickets/")
        banner = page.locator("#bulletins .bulletin", has_text="VPN replacement")
        expect(banner).to_contain_text(old_date)
        page.evaluate("window.stillTheSamePage = true")

        plan.milestone_reschedule(
            milestone=go_live,
            target_date=go_live.target_date + timedelta(days=14),
            reason="Vendor delivers the new gateways late",
            actor=pm,
        )

        go_live.refresh_from_db()
        new_date = human_date(go_live.expected_date)
        assert new_date != old_date
        try:
            expect(banner).to_contain_text(new_date, timeout=60_000)
        except AssertionError as error:
            raise AssertionError(f"{error}\nworker log:\n{worker.output()[-3000:]}") from None
    assert page.evaluate("window.stillTheSamePage") is True
    expect(banner).to_contain_text("+14 d")
    expect(banner).to_contain_text("Vendor delivers the new gateways late")
    banner.get_by_text("What to tell callers").click()
    expect(banner.locator(".bulletin-tell .prose")).to_be_visible()
    screenshot(page, "bridge-triage-banners.png", full_page=False)


def test_the_answer_card_inserts_a_dated_answer_and_records_the_promise(
    page, log_in, agent, project, go_live, queue, screenshot
):
    HandoverPlan.objects.create(project=project, hypercare_until=timezone.localdate())
    plan.milestone_reschedule(
        milestone=go_live,
        target_date=go_live.target_date + timedelta(days=7),
        reason="Pilot found a login bug",
        actor=project.owner,
    )
    publish.publish_project(project.pk)
    ticket = factories.TicketFactory(queue=queue, subject="When does the new VPN come?")
    Ticket.objects.filter(pk=ticket.pk).update(project=project, milestone=go_live)
    go_live.refresh_from_db()
    promised = human_date(go_live.expected_date)

    log_in(page, agent)
    page.goto(ticket.get_absolute_url())
    card = page.locator("#answer-card")
    expect(card).to_contain_text(promised)
    expect(card).to_contain_text("Hypercare until")
    page.get_by_label("Internal note").check()
    page.locator("#reply textarea").fill("Hello Casey,")
    screenshot(page, "bridge-ticket-answer-card.png", full_page=False)

    card.get_by_role("button", name="Insert answer").click()

    body = page.locator("#reply textarea")
    expect(body).to_have_value(
        re.compile(rf"^Hello Casey,\n\nGo-live for VPN replacement .*{promised}")
    )
    expect(page.get_by_label("Public reply")).to_be_checked()
    expect(page.locator("[data-promise-note]")).to_contain_text(f"Go-live by {promised}")
    screenshot(page, "bridge-ticket-answer-inserted.png", full_page=False)
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_text("Reply sent.")).to_be_visible()
    promise = Promise.objects.get()
    assert (promise.ticket_id, promise.milestone_id) == (ticket.pk, go_live.pk)
    assert promise.promised_date == go_live.expected_date and promise.made_by == agent


def test_agent_asks_the_project_and_links_a_suggested_ticket(
    page, log_in, agent, project, go_live, queue, screenshot
):
    project.keywords = "remote access, gateway"
    project.save(update_fields=["keywords"])
    ticket = factories.TicketFactory(queue=queue, subject="No remote access since Monday")
    ticket_refresh_search(ticket.pk)

    log_in(page, agent)
    page.goto(ticket.get_absolute_url())
    suggestion = page.locator(".link-suggestions")
    expect(suggestion).to_contain_text("VPN replacement")
    screenshot(page, "bridge-ticket-suggestion.png", full_page=False)
    suggestion.get_by_role("button", name="Link to VPN").click()
    expect(page.get_by_text("Linked to VPN · VPN replacement.")).to_be_visible()

    card = page.locator("#answer-card")
    card.get_by_text("Ask the project team").click()
    card.get_by_label("Question").fill("Will the old client keep working until go-live?")
    card.get_by_label("Answer needed by").fill("2001-01-01T10:00")
    card.get_by_role("button", name="Ask").click()
    expect(card.get_by_text("Choose a time in the future.")).to_be_visible()
    expect(card.get_by_label("Question")).to_have_value(
        "Will the old client keep working until go-live?"
    )
    card.get_by_label("Answer needed by").fill("2030-01-07T10:00")
    card.get_by_role("button", name="Ask").click()

    expect(card.locator(".desk-question")).to_contain_text("Will the old client keep working")
    expect(card.locator(".desk-question")).to_contain_text("answer due 7 Jan 2030, 10:00")
    question = Question.objects.get()
    assert (question.ticket_id, question.project_id, question.asked_by) == (
        ticket.pk,
        project.pk,
        agent,
    )
    screenshot(page, "bridge-ticket-question.png", full_page=False)
