"""A caller without an account, in a real browser: the public form with the keyboard, the
confirmation, the private link, a reply, a rating; on a desktop and on a phone."""

import re

import pytest
from playwright.sync_api import expect

from helpdesk.models import Attachment, Ticket
from tests import factories
from tests.browser.conftest import PHONE

pytestmark = pytest.mark.browser

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def generous_rate_limit(settings):
    """The limiter's counts live in a cache other test processes may share (and count
    127.0.0.1 in): these tests are not about the limit."""
    settings.PUBLIC_SUBMIT_RATE_LIMIT = 10_000


@pytest.fixture
def public_queue(queue):
    queue.description = "IT help for everyone at the office. We answer within a working day."
    queue.is_public = True
    queue.save(update_fields=["description", "is_public"])
    return queue


def from_the_top(page):
    """Scroll up before a full-page screenshot: after following #event-42 the sticky top
    bar would otherwise be pictured halfway down the page."""
    page.evaluate("window.scrollTo(0, 0)")


def assert_fits_the_screen(page):
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"


def test_caller_submits_with_the_keyboard_follows_the_link_and_replies(
    page, public_queue, live_server, screenshot
):
    page.goto("/submit/service-desk/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Contact Service desk")
    # The honeypot is not there for people: no label a screen reader would read.
    expect(page.get_by_label("Leave this field empty")).to_have_count(1)
    expect(page.get_by_role("textbox", name="Leave this field empty")).to_have_count(0)
    screenshot(page, "caller-form.png")

    # From the top of the page: skip link, into the main area, then the fields in order.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Your name")).to_be_focused()
    page.keyboard.type("Casey Caller")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Your e-mail address")).to_be_focused()
    page.keyboard.type("casey@example.org")
    page.keyboard.press("Tab")
    page.keyboard.type("Laptop beeps three times")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Description")).to_be_focused()
    page.keyboard.type("Since this morning it will not start.\nI tried another charger.")
    page.keyboard.press("Tab")
    attachments = page.get_by_label("Attachments")
    expect(attachments).to_be_focused()
    # The file chooser is the operating system's; hand it the file directly.
    attachments.set_input_files(
        [{"name": "beep-codes.png", "mimeType": "image/png", "buffer": PNG}]
    )
    page.keyboard.press("Tab")  # past the spam trap, which takes no focus
    send = page.get_by_role("button", name="Send request")
    expect(send).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, we have your request")
    ticket = Ticket.objects.select_related("queue").get()
    assert ticket.source == Ticket.Source.WEB
    assert Attachment.objects.get(ticket=ticket).filename == "beep-codes.png"
    expect(page.get_by_text(ticket.reference)).to_be_visible()
    link = page.get_by_role("link", name=f"{live_server.url}/t/{ticket.secret}/")
    expect(link).to_be_visible()
    expect(page.get_by_text("We have also e-mailed it to casey@example.org")).to_be_visible()
    assert_fits_the_screen(page)
    screenshot(page, "caller-confirmation.png")

    link.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/t/{ticket.secret}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Laptop beeps three times")
    timeline = page.get_by_role("list", name="Timeline")
    expect(timeline).to_contain_text("I tried another charger.")
    expect(timeline.get_by_role("link", name=re.compile("beep-codes.png"))).to_be_visible()

    reply = page.get_by_label("Your reply")
    reply.focus()
    page.keyboard.type("It now shows a blinking cursor.")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Send reply")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_contain_text("Thank you, your reply was added.")
    entries = timeline.locator(":scope > li")
    expect(entries).to_have_count(2)
    expect(entries.last).to_contain_text("It now shows a blinking cursor.")
    expect(page.get_by_label("Your reply")).to_have_value("")
    # The reply just sent is the entry the page scrolled to.
    expect(entries.last).to_be_in_viewport()
    assert_fits_the_screen(page)
    from_the_top(page)
    screenshot(page, "caller-ticket.png")

    page.set_viewport_size(PHONE)
    assert_fits_the_screen(page)
    from_the_top(page)
    screenshot(page, "caller-ticket-phone.png")


def test_form_errors_keep_what_the_caller_typed(page, public_queue, screenshot):
    page.set_viewport_size(PHONE)
    page.goto("/submit/service-desk/")
    assert_fits_the_screen(page)
    screenshot(page, "caller-form-phone.png")

    page.get_by_label("Your name").fill("Casey Caller")
    page.get_by_label("Your e-mail address").fill("casey@example.org")
    page.get_by_label("Subject").fill("Printer prints blank pages")
    page.get_by_label("Description").fill("Every page comes out white.")
    page.get_by_label("Attachments").set_input_files(
        [{"name": "drawing.png", "mimeType": "image/png", "buffer": SVG}]
    )
    page.get_by_role("button", name="Send request").click()

    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("is a kind of file we do not accept")
    expect(summary).to_be_focused()
    expect(page.get_by_label("Subject")).to_have_value("Printer prints blank pages")
    expect(page.get_by_label("Description")).to_have_value("Every page comes out white.")
    assert not Ticket.objects.exists()
    assert_fits_the_screen(page)
    screenshot(page, "caller-form-error-phone.png")


def test_caller_rates_a_resolved_ticket(page, ticket, agent, screenshot):
    factories.TicketEventFactory(
        ticket=ticket,
        kind="created",
        author_contact=ticket.requester,
        body="Smoke comes out of the printer on floor 2.",
    )
    factories.TicketEventFactory(
        ticket=ticket,
        kind="reply",
        author=agent,
        body="Facilities replaced the fuser unit. **Please try again** and tell us if it works.",
    )
    factories.TicketEventFactory(ticket=ticket, kind="note", public=False, body="Warranty case")
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.RESOLVED)
    page.goto(ticket.get_requester_url())
    expect(page.get_by_role("heading", name="How did we do?")).to_be_visible()
    expect(page.get_by_text("Warranty case")).to_have_count(0)
    screenshot(page, "caller-rating.png")
    # The rest on a phone: five choices side by side still fit.
    page.set_viewport_size(PHONE)
    assert_fits_the_screen(page)
    screenshot(page, "caller-rating-phone.png")

    # Radio buttons: focus the group, arrow keys choose.
    page.get_by_role("radio", name="1 Very poor").focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(page.get_by_role("radio", name="4 Good")).to_be_checked()
    page.get_by_label("Comment").fill("Fixed the same day, thank you.")
    page.get_by_role("button", name="Send rating").click()

    expect(page.get_by_role("heading", name="Thank you for your rating")).to_be_visible()
    expect(page.get_by_text("4 out of 5")).to_be_visible()
    expect(page.get_by_role("button", name="Send rating")).to_have_count(0)
    assert_fits_the_screen(page)
    from_the_top(page)
    screenshot(page, "caller-rated-phone.png")
