"""An agent at work in a real browser: triage with the keyboard, a canned reply, and a
colleague's change caught before it is overwritten."""

import re

import pytest
from playwright.sync_api import expect

from helpdesk.models import CannedResponse, TicketEvent
from helpdesk.presence import presence_touch
from helpdesk.services import ticket_reply
from tests import factories

pytestmark = pytest.mark.browser


@pytest.fixture
def inbox(queue, requester):
    """Three tickets, newest first in triage: C, B, A."""
    return [
        factories.TicketFactory(queue=queue, requester=requester, subject=subject)
        for subject in ("A: mouse is dead", "B: printer jams", "C: Wi-Fi drops")
    ]


def test_agent_triages_with_the_keyboard(page, log_in, agent, inbox, screenshot):
    log_in(page, agent)
    page.goto("/tickets/")
    page.keyboard.press("j")
    page.keyboard.press("j")
    second = page.locator("tbody tr").nth(1)
    expect(second).to_have_class(re.compile("is-current"))
    page.keyboard.press("x")
    expect(second.get_by_role("checkbox")).to_be_checked()
    expect(page.locator("#bulk-count")).to_have_text("1")
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    screenshot(page, "agent-triage-shortcuts.png")
    page.keyboard.press("Escape")
    page.keyboard.press("a")  # assign the current ticket (B) to me
    expect(page.get_by_text(f"{inbox[1].reference} is yours now.")).to_be_visible()
    inbox[1].refresh_from_db()
    assert inbox[1].assignee == agent
    page.keyboard.press("k")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/tickets/{inbox[2].pk}/$"))
    screenshot(page, "agent-ticket.png")


def test_agent_replies_with_a_canned_response(page, log_in, agent, inbox, screenshot):
    CannedResponse.objects.create(
        title="Restart first", body="Hello ${requester_first_name}, please restart and tell us."
    )
    ticket = inbox[0]
    log_in(page, agent)
    page.goto(ticket.get_absolute_url())
    page.keyboard.press("r")
    page.keyboard.type("Thanks for calling. ")
    page.get_by_label("Insert a canned response").select_option(label="Restart first")
    body = page.locator("#reply textarea")
    expect(body).to_have_value("Thanks for calling. Hello Casey, please restart and tell us.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Reply sent.")).to_be_visible()
    expect(page.get_by_role("list", name="Timeline")).to_contain_text("please restart")
    reply = TicketEvent.objects.get(ticket=ticket, kind="reply")
    assert reply.public and reply.author == agent
    screenshot(page, "agent-replied.png")


def test_agent_sees_a_collision_and_keeps_the_draft(page, log_in, agent, inbox, screenshot):
    colleague = factories.AgentFactory(first_name="Robin", last_name="Ray")
    ticket = inbox[0]
    ticket.queue.members.add(colleague)
    log_in(page, agent)
    page.goto(ticket.get_absolute_url())
    page.locator("#reply textarea").fill("My long and careful answer")
    # Meanwhile, Robin answers first.
    ticket_reply(ticket=ticket, author=colleague, body="Sorted it on the phone", public=True)
    page.get_by_role("button", name="Send").click()
    alert = page.get_by_role("alert").filter(has_text="Someone else changed this ticket")
    expect(alert).to_be_visible()
    expect(page.locator("#reply textarea")).to_have_value("My long and careful answer")
    expect(page.get_by_role("list", name="Timeline")).to_contain_text("Sorted it on the phone")
    screenshot(page, "agent-collision.png")
    # Having read Robin's answer, the agent sends anyway: now it goes through.
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Reply sent.")).to_be_visible()
    assert TicketEvent.objects.filter(ticket=ticket, body="My long and careful answer").exists()


def test_agent_sees_who_else_is_typing(page, log_in, agent, inbox):
    colleague = factories.AgentFactory(first_name="Robin", last_name="Ray")
    ticket = inbox[0]
    ticket.queue.members.add(colleague)
    presence_touch(ticket_id=ticket.pk, user=colleague, typing=True)
    log_in(page, agent)
    page.goto(ticket.get_absolute_url())
    expect(page.locator("#presence")).to_contain_text("Robin Ray is typing a reply")
