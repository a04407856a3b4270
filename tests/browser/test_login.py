"""Logging in and out the way people do it: with the keyboard, in a real browser."""

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def log_in_with_keyboard(page, username, password):
    """From the login page: type the username, Tab to the password, type it, press Enter."""
    username_field = page.get_by_label("Username")
    expect(username_field).to_be_focused()  # autofocus: the user can start typing at once
    username_field.press_sequentially(username)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(password)
    page.keyboard.press("Enter")


@pytest.mark.parametrize(
    ("who", "home", "heading"),
    [
        ("agent", "/tickets/", "Tickets"),
        ("pm", "/projects/", "Projects"),
        ("stakeholder", "/status/", "Status pages"),
    ],
)
def test_each_role_logs_in_with_the_keyboard_and_lands_on_its_home_page(
    request, page, live_server, screenshot, who, home, heading
):
    user = request.getfixturevalue(who)
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in to Bridgedesk")

    log_in_with_keyboard(page, user.username, PASSWORD)

    expect(page).to_have_url(live_server.url + home)
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    screenshot(page, f"login-{who}.png")


def test_wrong_password_shows_an_error_and_keeps_the_username(page, agent, screenshot):
    page.goto("/accounts/login/")
    log_in_with_keyboard(page, agent.username, "not the password")

    expect(page.get_by_role("alert")).to_contain_text("enter a correct username and password")
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_label("Username")).to_have_value(agent.username)
    expect(page.get_by_label("Password")).to_have_value("")
    screenshot(page, "login-wrong-password.png")

    # The cursor waits in the password field: typing the right one is all it takes.
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Tickets")).to_be_visible()


def test_log_out_button_ends_the_session(page, agent):
    page.goto("/")
    log_in_with_keyboard(page, agent.username, PASSWORD)
    expect(page.get_by_role("heading", level=1, name="Tickets")).to_be_visible()

    page.get_by_role("button", name="Log out").click()

    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    # The session is really gone: the ticket list asks for a login again.
    page.goto("/tickets/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/tickets/$"))


def test_a_late_poll_answer_cannot_override_the_log_out(page, agent):
    """A banner poll that reaches the server just after the log-out is answered "log in
    again and come back" (HX-Redirect). The page being left must not act on it: the log-out
    decides where the browser goes."""
    page.goto("/")
    log_in_with_keyboard(page, agent.username, PASSWORD)
    expect(page.get_by_role("heading", level=1, name="Tickets")).to_be_visible()
    late_answer = {"HX-Redirect": "/accounts/login/?next=/tickets/late-poll"}
    page.route("**/late-poll/", lambda route: route.fulfill(status=200, headers=late_answer))

    def poll_redirects() -> bool:
        page.evaluate("htmx.ajax('GET', '/late-poll/', {target: 'body', swap: 'none'})")
        try:
            page.wait_for_url(re.compile("late-poll"), timeout=2000)
        except PlaywrightTimeoutError:
            return False
        return True

    # Hold the log-out's own navigation, as a slow network would, then let the answer in.
    page.evaluate(
        "document.querySelector('form[data-logout]')"
        ".addEventListener('submit', (event) => event.preventDefault())"
    )
    page.get_by_role("button", name="Log out").click()
    assert not poll_redirects()
    # Without a log-out under way, the same answer is followed (the session ended elsewhere).
    page.reload()
    assert poll_redirects()
