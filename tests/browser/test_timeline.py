"""The timeline in a real browser: the chart renders, reads, and prints on one sheet's width.

Saves tests/artifacts/timeline.png (the screen) and timeline-print.png (print media).
"""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.projects.test_timeline import build_plan

pytestmark = pytest.mark.browser

A4_LANDSCAPE_CSS_PX = 1123  # 297 mm at 96 px per inch


@pytest.fixture
def plan(project, agent):
    project.start_date = timezone.localdate() - timezone.timedelta(days=35)
    project.target_date = timezone.localdate() + timezone.timedelta(days=40)
    project.save()
    return build_plan(project, timezone.localdate(), assignee=agent)


def test_the_timeline_renders_the_plan(page, log_in, screenshot, pm, plan):
    log_in(page, pm)
    page.goto("/projects/VPN/timeline/")
    chart = page.locator("svg.gantt-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("g.gantt-bar")).to_have_count(8)
    expect(chart.locator("g.gantt-bar.critical")).to_have_count(5)
    expect(chart.locator("polyline.gantt-arrow")).to_have_count(7)
    expect(chart.locator("g.gantt-today line")).to_have_count(1)
    expect(chart.locator("text.gantt-label.milestone")).to_have_count(3)
    # The chart is laid out as drawn: it has a size, and bars sit right of the label column.
    box = chart.bounding_box()
    assert box["width"] > 1000 and box["height"] > 250
    first_bar = chart.locator("g.gantt-bar rect").first.bounding_box()
    assert first_bar["x"] > box["x"] + 300
    screenshot(page, "timeline.png")


def test_the_timeline_prints_black_on_white_within_a_landscape_sheet(
    page, log_in, screenshot, pm, plan
):
    log_in(page, pm)
    page.set_viewport_size({"width": A4_LANDSCAPE_CSS_PX, "height": 794})
    page.emulate_media(media="print")
    page.goto("/projects/VPN/timeline/")
    expect(page.locator(".topbar")).to_be_hidden()
    chart = page.locator("svg.gantt-chart")
    assert chart.bounding_box()["width"] <= A4_LANDSCAPE_CSS_PX
    critical = chart.locator("g.gantt-bar.critical:not(.done) rect").first
    assert critical.evaluate("e => getComputedStyle(e).fill") == "rgb(0, 0, 0)"
    plain = chart.locator("g.gantt-bar:not(.critical):not(.done) rect").first
    assert plain.evaluate("e => getComputedStyle(e).fill") == "rgb(255, 255, 255)"
    screenshot(page, "timeline-print.png")
    # And Chromium makes a PDF of it without complaint.
    assert page.pdf(format="A4", landscape=True)[:4] == b"%PDF"
