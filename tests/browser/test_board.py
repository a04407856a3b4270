"""A project manager at the board in a real browser: drags a card across columns and sees
the WIP warning, moves one with the keyboard, adds one, edits one in the side panel and
meets a colleague's change there."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from projects import services
from projects.models import Task
from tests import factories
from tests.projects.board_factories import TaskFactory, board_of

pytestmark = pytest.mark.browser

BOARD = "/projects/VPN/board/"


@pytest.fixture
def board(project, pm, agent):
    """To do (4), In progress (2 of WIP 5), Review (3 of WIP 3: full), Done (2), with
    people, labels, estimates, due dates, a late card and a critical one."""
    pm.first_name, pm.last_name = "Pat", "Okafor"
    pm.save()
    agent.first_name, agent.last_name = "Sam", "Lindqvist"
    agent.save()
    project.members.add(agent)
    today = timezone.localdate()
    pilot = factories.MilestoneFactory(project=project, name="Pilot group live")
    to_do, doing, review, done = board_of(project)
    cards = {}
    for column, title, extra in [
        (to_do, "Order replacement VPN concentrators", {"labels": ["hardware", "vendor"],
         "estimate_hours": 6, "assignee": pm, "due_date": today + timedelta(days=12)}),
        (to_do, "Draft the cut-over runbook", {"labels": ["docs"], "estimate_hours": 8}),
        (to_do, "Book the change window with the network team", {"assignee": agent}),
        (to_do, "Write the FAQ for the help desk", {"labels": ["help desk"], "assignee": agent,
         "estimate_hours": 3}),
        (doing, "Install the new client on pilot laptops", {"labels": ["pilot"],
         "assignee": agent, "estimate_hours": 16, "is_critical": True, "milestone": pilot,
         "due_date": today + timedelta(days=5)}),
        (doing, "Firewall rules for the new gateway", {"labels": ["network", "change"],
         "assignee": pm, "estimate_hours": 4, "due_date": today + timedelta(days=2),
         "forecast_finish": today + timedelta(days=6)}),
        (review, "Split-tunnel policy", {"labels": ["security"], "assignee": pm}),
        (review, "Certificate template for clients", {"labels": ["security"],
         "estimate_hours": 2}),
        (review, "Monitoring dashboards for the gateway", {"assignee": agent}),
        (done, "Pick the VPN vendor", {"completed_at": timezone.now()}),
        (done, "Budget approved", {"completed_at": timezone.now()}),
    ]:  # fmt: skip
        cards[title] = TaskFactory(column=column, title=title, **extra)
    return {"columns": (to_do, doing, review, done), "cards": cards, "pilot": pilot}


def cell(page, column):
    return page.locator(f'.cell[data-column="{column.pk}"] .board-cards')


def titles_in(page, column) -> list[str]:
    return cell(page, column).locator(".card-title").all_inner_texts()


def drag(page, source, target_box_point):
    """Press on `source`, move in small steps (SortableJS follows the pointer), let go."""
    box = source.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 10, box["y"] + box["height"] / 2 + 10, steps=5)
    page.mouse.move(*target_box_point, steps=25)
    page.mouse.move(target_box_point[0], target_box_point[1] + 2, steps=3)
    page.mouse.up()


def test_drag_a_card_into_a_full_column_warns_and_stays_after_reload(
    page, log_in, pm, board, screenshot
):
    to_do, _, review, _ = board["columns"]
    card = board["cards"]["Draft the cut-over runbook"]
    log_in(page, pm)
    page.goto(BOARD)
    screenshot(page, "board.png", full_page=False)
    head = page.locator(f"#col-head-{review.pk}")
    expect(head).not_to_contain_text("Over the WIP limit")

    last = cell(page, review).locator(".task-card").last.bounding_box()
    drag(page, page.locator(f"#card-{card.pk}"), (last["x"] + 40, last["y"] + last["height"] - 4))

    expect(head).to_contain_text("Over the WIP limit by 1")
    expect(head).to_have_class(re.compile("is-over"))
    expect(cell(page, review).locator(f"#card-{card.pk}")).to_be_visible()
    expect(page.locator("#board-status")).to_contain_text("Moved “Draft the cut-over runbook”")
    expect(page.locator("#card-panel")).to_be_empty()  # a drag is not a click
    screenshot(page, "board-after-drag.png", full_page=False)
    card.refresh_from_db()
    assert card.column_id == review.pk

    page.reload()
    expect(cell(page, review).locator(f"#card-{card.pk}")).to_be_visible()
    assert titles_in(page, review)[-1] == "Draft the cut-over runbook"
    expect(page.locator(f"#col-head-{review.pk}")).to_contain_text("Over the WIP limit by 1")
    assert "Draft the cut-over runbook" not in titles_in(page, to_do)


def test_drag_within_a_column_reorders_it(page, log_in, pm, board):
    to_do = board["columns"][0]
    first = board["cards"]["Order replacement VPN concentrators"]
    log_in(page, pm)
    page.goto(BOARD)
    third = page.locator(f".cell[data-column='{to_do.pk}'] .task-card").nth(2).bounding_box()
    drag(
        page, page.locator(f"#card-{first.pk}"), (third["x"] + 40, third["y"] + third["height"] - 4)
    )
    expect(page.locator("#board-status")).to_contain_text("Moved")
    expected = [
        "Draft the cut-over runbook",
        "Book the change window with the network team",
        "Order replacement VPN concentrators",
        "Write the FAQ for the help desk",
    ]
    assert titles_in(page, to_do) == expected
    ranked = Task.objects.filter(column=to_do).order_by("rank").values_list("title", flat=True)
    assert list(ranked) == expected


def test_move_a_card_with_the_keyboard(page, log_in, pm, board, screenshot):
    to_do, doing, _, _ = board["columns"]
    card = board["cards"]["Write the FAQ for the help desk"]
    log_in(page, pm)
    page.goto(BOARD)
    page.get_by_text("Keyboard", exact=True).click()
    expect(page.get_by_text("Move the card to the previous or next column")).to_be_visible()
    screenshot(page, "board-keyboard-help.png", full_page=False)
    page.get_by_text("Keyboard", exact=True).click()

    link = page.locator(f"#card-{card.pk} .card-title")
    link.focus()
    page.keyboard.press("]")  # to the top of In progress
    expect(cell(page, doing).locator(".task-card").first).to_have_id(f"card-{card.pk}")
    expect(link).to_be_focused()
    expect(page.locator("#board-status")).to_contain_text(
        "Moved “Write the FAQ for the help desk” to In progress"
    )
    page.keyboard.press("Alt+ArrowDown")  # below "Install the new client…"
    expect(cell(page, doing).locator(".task-card").nth(1)).to_have_id(f"card-{card.pk}")
    expect(page.locator("#board-status")).to_contain_text("below “Install the new client")
    expect(link).to_be_focused()
    screenshot(page, "board-keyboard-move.png", full_page=False)

    page.reload()
    assert titles_in(page, doing) == [
        "Install the new client on pilot laptops",
        "Write the FAQ for the help desk",
        "Firewall rules for the new gateway",
    ]
    # Arrows go from card to card without moving anything.
    page.locator(f"#card-{card.pk} .card-title").focus()
    page.keyboard.press("ArrowLeft")
    expect(page.locator(f".cell[data-column='{to_do.pk}'] .card-title").nth(1)).to_be_focused()


def test_quick_add_with_enter_and_keep_typing(page, log_in, pm, board):
    review = board["columns"][2]
    log_in(page, pm)
    page.goto(BOARD)
    field = page.get_by_label("Add a card to Review")
    field.fill("Pen-test report")
    field.press("Enter")
    expect(cell(page, review).locator(".card-title").last).to_have_text("Pen-test report")
    expect(page.locator(f"#col-head-{review.pk}")).to_contain_text("Over the WIP limit by 1")
    # A fresh field has the cursor, for the next card.
    expect(page.get_by_label("Add a card to Review")).to_be_focused()
    page.keyboard.type("Sign-off from security")
    page.keyboard.press("Enter")
    expect(cell(page, review).locator(".card-title").last).to_have_text("Sign-off from security")
    assert Task.objects.filter(column=review).count() == 5


def test_edit_a_card_in_the_panel_and_meet_a_colleagues_change(
    page, log_in, pm, agent, board, screenshot
):
    card = board["cards"]["Install the new client on pilot laptops"]
    services.dependency_add(
        predecessor=board["cards"]["Order replacement VPN concentrators"], successor=card
    )
    log_in(page, pm)
    page.goto(BOARD)
    page.locator(f"#card-{card.pk} .card-title").click()
    panel = page.locator("#card-panel")
    expect(
        panel.get_by_role("heading", name="Install the new client on pilot laptops")
    ).to_be_focused()
    expect(panel).to_contain_text("Waits for")
    screenshot(page, "board-panel.png", full_page=False)

    panel.get_by_label("Title").fill("Install the new client on 40 pilot laptops")
    panel.get_by_role("button", name="Save").click()
    expect(panel.get_by_text("Saved.")).to_be_visible()
    expect(page.locator(f"#card-{card.pk} .card-title")).to_have_text(
        "Install the new client on 40 pilot laptops"
    )

    # Sam changes the estimate meanwhile; Pat's next save is stale.
    services.task_update(task=card, actor=agent, estimate_hours=24)
    panel.get_by_label("Labels").fill("pilot, rollout")
    panel.get_by_role("button", name="Save").click()
    conflict = panel.get_by_role("alert").filter(has_text="Someone changed this card")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("Estimate (hours): 24")
    expect(panel.get_by_label("Due")).to_have_value(card.due_date.isoformat())
    expect(panel.get_by_label("Labels")).to_have_value("pilot, rollout")
    screenshot(page, "board-panel-conflict.png", full_page=False)

    page.keyboard.press("Escape")
    expect(panel).to_be_empty()
    expect(page.locator(f"#card-{card.pk} .card-title")).to_be_focused()


def test_a_loop_is_refused_in_the_panel_with_its_name(page, log_in, pm, board):
    order = board["cards"]["Order replacement VPN concentrators"]
    install = board["cards"]["Install the new client on pilot laptops"]
    services.dependency_add(predecessor=order, successor=install)
    log_in(page, pm)
    page.goto(BOARD)
    page.locator(f"#card-{order.pk} .card-title").click()
    panel = page.locator("#card-panel")
    panel.get_by_label("This card").select_option("waits")
    panel.get_by_label("Task", exact=True).select_option(label=install.title)
    panel.get_by_role("button", name="Add").click()
    expect(panel.get_by_role("alert")).to_have_text(
        "That would make a loop: Order replacement VPN concentrators → "
        "Install the new client on pilot laptops → Order replacement VPN concentrators."
    )


def test_swimlanes_and_a_read_only_viewer(page, log_in, pm, board, screenshot):
    log_in(page, pm)
    page.goto(BOARD)
    page.get_by_label("Lanes").select_option("assignee")
    expect(page).to_have_url(re.compile(r"lanes=assignee"))
    expect(page.locator(".lane-head")).to_have_count(3)
    screenshot(page, "board-lanes.png", full_page=False)

    reader = factories.AgentFactory(first_name="Ria", last_name="Reader")
    log_in(page, reader)
    page.goto(BOARD)
    expect(page.get_by_text("You can read this board")).to_be_visible()
    expect(page.locator(".quick-add")).to_have_count(0)
    expect(page.locator("#board")).to_have_attribute("data-writable", "0")
    page.get_by_role("link", name="Install the new client on pilot laptops").click()
    panel = page.locator("#card-panel")
    expect(panel).to_contain_text("Sam Lindqvist")
    expect(panel.locator("form")).to_have_count(0)
    screenshot(page, "board-panel-read-only.png", full_page=False)


def test_without_javascript_a_card_opens_its_page_and_moves_from_there(
    browser, live_server, log_in, pm, board, screenshot
):
    _, doing, review, _ = board["columns"]
    card = board["cards"]["Split-tunnel policy"]
    context = browser.new_context(
        java_script_enabled=False, base_url=live_server.url, viewport={"width": 1280, "height": 800}
    )
    try:
        page = context.new_page()
        log_in(page, pm)
        page.goto(BOARD)
        page.get_by_role("link", name="Split-tunnel policy").click()
        expect(page).to_have_url(re.compile(rf"/board/tasks/{card.pk}/$"))
        screenshot(page, "board-task-page.png")
        page.get_by_label("Column").select_option(label="In progress")
        page.get_by_role("button", name="Move").click()
        expect(page).to_have_url(re.compile(rf"{BOARD}#card-{card.pk}$"))
        expect(page.get_by_text("Moved “Split-tunnel policy” to In progress.")).to_be_visible()
        assert titles_in(page, doing)[-1] == "Split-tunnel policy"
        assert "Split-tunnel policy" not in titles_in(page, review)
    finally:
        context.close()
