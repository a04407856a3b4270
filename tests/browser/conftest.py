"""A real browser for the browser tests: Debian's Chromium driven by Playwright's sync API.

Fixtures: `browser` (one per test module and process; see why there), `page` (a fresh
context per test, 1280×800, against pytest-django's `live_server`), `log_in` (puts a
signed-in session into the page without typing), `screenshot` (saves a PNG under
tests/artifacts/, which git ignores).

Every test here uses `live_server`, which needs `transactional_db`: the server answers
from its own thread and connection, so the data a test creates must be committed for it
to see. Under xdist each worker has its own test database, live server port and browser.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import ARTIFACTS

VIEWPORT = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser(chromium_path):
    """Chromium, shared by the tests of one module.

    Not session-scoped, on purpose. Playwright's sync API drives an asyncio event loop
    that stays "running" in this thread from start() to stop(). Django sees that loop and
    refuses every ORM call from the test (factories, fixtures, the database flush after
    each test) with SynchronousOnlyOperation, although nothing here is async: the test code
    and the loop take turns in one thread, and the live server answers from its own
    thread. So DJANGO_ALLOW_ASYNC_UNSAFE must be set for exactly as long as Playwright
    runs. Kept for the whole session, the loop and the variable would reach every later
    test in the same (xdist worker) process, and the subprocesses they start: `manage.py
    check --deploy` then fails with async.E001. Pytest tears a module fixture down as soon
    as the next test belongs to another module, so neither outlives the browser tests.
    """
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        playwright = sync_playwright().start()
        try:
            chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()
        finally:
            playwright.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so `page` knows whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(request, browser, live_server, transactional_db):
    """A new browser context per test (no cookies leak between tests), closed afterwards.
    Relative URLs go to the live server: `page.goto("/tickets/")`. Uncaught JavaScript
    errors fail the test; a failed test leaves a screenshot of where it stood."""
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    js_errors = []
    page.on("pageerror", lambda error: js_errors.append(str(error)))
    try:
        yield page
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            save_screenshot(page, f"FAILED-{request.node.name}.png")
        assert not js_errors, f"JavaScript errors on the page: {js_errors}"
    finally:
        context.close()


@pytest.fixture
def log_in(live_server):
    """`log_in(page, user)`: the page's browser context is now signed in as `user`.

    For tests about a page, not about logging in (test_login.py types it all)."""

    def log_in(page, user):
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.add_cookies(
            [{"name": cookie.key, "value": cookie.value, "url": live_server.url}]
        )

    return log_in


def save_screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save what the page shows as tests/artifacts/<name> (the whole page, not only the
    viewport, unless `full_page` is false) and return the path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "-", name)
    path = ARTIFACTS / safe_name
    # Wait for web fonts and late layout so two runs of a page give the same picture.
    page.evaluate("document.fonts.ready")
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path


@pytest.fixture
def screenshot():
    """`screenshot(page, "name.png")` → the saved PNG's path under tests/artifacts/."""
    return save_screenshot
