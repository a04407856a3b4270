"""The project board: who may read and change it, WIP warnings, swimlanes, filters,
moves of one row, quick-add, the card panel with its 409, dependencies and their loops."""

import html as entities
import re
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from projects import services
from projects.models import Dependency, Project, Task
from tests import factories
from tests.projects.board_factories import DependencyFactory, TaskFactory, board_of, fill

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
BOARD = "/projects/VPN/board/"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def columns(project):
    """To do, In progress (WIP 5), Review (WIP 3), Done."""
    return board_of(project)


@pytest.fixture
def card(columns):
    return TaskFactory(column=columns[0], title="Order the firewalls")


@pytest.fixture
def member(project):
    """An agent on the project's team."""
    user = factories.AgentFactory(username="member", first_name="Mia", last_name="Member")
    project.members.add(user)
    return user


@pytest.fixture
def cast(pm, member, agent, stakeholder):
    return {
        "owner": pm,
        "other_pm": factories.ProjectManagerFactory(username="pm2"),
        "member": member,
        "agent": agent,
        "stakeholder": stakeholder,
        "stranger": factories.StakeholderFactory(username="stranger"),
        "anonymous": None,
    }


def outcome(response):
    if response.status_code == 302:
        return "login" if response["Location"].startswith(LOGIN) else "redirect"
    return response.status_code


def texts(html: str, css_class: str) -> list[str]:
    """The text of every `<… class="css_class">…</…>` in order (titles of cards, lanes)."""
    pattern = rf'class="{css_class}"[^>]*>([^<]*)<'
    return [entities.unescape(m.strip()) for m in re.findall(pattern, html)]


def card_titles(html: str) -> list[str]:
    return texts(html, "card-title")


# ---- Access -------------------------------------------------------------------------

READERS = [
    ("owner", 200),
    ("other_pm", 200),
    ("member", 200),
    ("agent", 200),  # reads every project, plans none it is not on
    ("stakeholder", 403),  # like the project page: stakeholders read the status page
    ("stranger", 404),  # may not see the project at all
    ("anonymous", "login"),
]
WRITERS = [
    ("owner", 200),
    ("other_pm", 200),
    ("member", 200),
    ("agent", 403),
    ("stakeholder", 403),
    ("stranger", 404),
    ("anonymous", "login"),
]


@pytest.mark.parametrize(("who", "expected"), READERS)
def test_board_page_access(client_for, cast, card, who, expected):
    assert outcome(client_for(cast[who]).get(BOARD)) == expected


@pytest.mark.parametrize(("who", "expected"), READERS)
def test_card_panel_access(client_for, cast, card, who, expected):
    url = f"{BOARD}tasks/{card.pk}/"
    assert outcome(client_for(cast[who]).get(url, headers=HTMX)) == expected


@pytest.mark.parametrize(("who", "expected"), WRITERS)
def test_move_access(client_for, cast, card, columns, who, expected):
    url = f"{BOARD}tasks/{card.pk}/move/"
    response = client_for(cast[who]).post(url, {"column": columns[1].pk}, headers=HTMX)
    assert outcome(response) == expected
    card.refresh_from_db()
    assert (card.column_id == columns[1].pk) == (expected == 200)


@pytest.mark.parametrize(("who", "expected"), WRITERS)
def test_quick_add_access(client_for, cast, columns, who, expected):
    url = f"{BOARD}columns/{columns[0].pk}/tasks/"
    response = client_for(cast[who]).post(url, {"title": "Call the ISP"}, headers=HTMX)
    assert outcome(response) == expected
    assert Task.objects.filter(title="Call the ISP").exists() == (expected == 200)


@pytest.mark.parametrize(("who", "expected"), WRITERS)
def test_card_edit_access(client_for, cast, card, who, expected):
    data = {"version": card.version, "title": "Order two firewalls", "estimate_hours": "8"}
    response = client_for(cast[who]).post(f"{BOARD}tasks/{card.pk}/", data, headers=HTMX)
    assert outcome(response) == expected
    card.refresh_from_db()
    assert (card.title == "Order two firewalls") == (expected == 200)


@pytest.mark.parametrize(("who", "expected"), WRITERS)
def test_dependency_add_access(client_for, cast, card, columns, who, expected):
    other = TaskFactory(column=columns[0], title="Sign the contract")
    data = {"direction": "waits", "other": other.pk, "type": "FS", "lag_days": 0}
    response = client_for(cast[who]).post(
        f"{BOARD}tasks/{card.pk}/dependencies/", data, headers=HTMX
    )
    assert outcome(response) == expected
    assert Dependency.objects.filter(predecessor=other, successor=card).exists() == (
        expected == 200
    )


@pytest.mark.parametrize("visibility", [Project.Visibility.PUBLIC, Project.Visibility.PRIVATE])
def test_stakeholder_never_sees_the_board_whatever_the_visibility(
    client_for, project, stakeholder, card, visibility
):
    """Public: they could read the project, but a board is the team's (403, like the
    project page). Private: they may not know the project exists (404)."""
    Project.objects.filter(pk=project.pk).update(visibility=visibility)
    expected = 403 if visibility == Project.Visibility.PUBLIC else 404
    assert client_for(stakeholder).get(BOARD).status_code == expected
    assert client_for(stakeholder).get("/projects/VPN/").status_code == expected


def test_unknown_project_and_a_card_of_another_board_are_404(client_for, pm, card):
    elsewhere = TaskFactory(column=board_of(factories.ProjectFactory(key="LAN", owner=pm))[0])
    client = client_for(pm)
    assert client.get("/projects/NOPE/board/").status_code == 404
    assert client.get(f"{BOARD}tasks/{elsewhere.pk}/").status_code == 404
    moved = client.post(f"{BOARD}tasks/{elsewhere.pk}/move/", {"column": card.column_id})
    assert moved.status_code == 404
    other_column = elsewhere.column_id
    assert client.post(f"{BOARD}columns/{other_column}/tasks/", {"title": "x"}).status_code == 404


def test_read_only_board_has_no_forms_and_no_dragging(client_for, agent, card):
    html = client_for(agent).get(BOARD).content.decode()
    assert 'data-writable="0"' in html
    assert "quick-add" not in html
    assert "You can read this board" in html
    panel = client_for(agent).get(f"{BOARD}tasks/{card.pk}/", headers=HTMX).content.decode()
    assert "<form" not in panel


def test_writers_get_quick_add_in_every_column(client_for, member, columns):
    html = client_for(member).get(BOARD).content.decode()
    assert 'data-writable="1"' in html
    assert html.count('class="quick-add"') == len(columns)


# ---- The board page -----------------------------------------------------------------


def test_columns_in_order_with_cards_by_rank_and_counts(client_for, pm, columns):
    services.task_create(project=columns[0].project, title="First", column=columns[1])
    services.task_create(project=columns[0].project, title="Second", column=columns[1])
    TaskFactory(column=columns[1], title="Top", rank="a")
    html = client_for(pm).get(BOARD).content.decode()
    assert texts(html, "col-name") == ["To do", "In progress", "Review", "Done"]
    assert card_titles(html) == ["Top", "First", "Second"]
    head = re.search(rf'id="col-head-{columns[1].pk}".*?</div>', html, re.S).group(0)
    assert '<span class="num">3</span>' in head
    assert "/ 5" in head
    assert "WIP limit 5" in head  # said to screen readers too


def test_a_column_over_its_wip_limit_warns(client_for, pm, columns):
    review = columns[2]  # WIP 3
    TaskFactory.create_batch(3, column=review)
    html = client_for(pm).get(BOARD).content.decode()
    assert "Over the WIP limit" not in html
    TaskFactory(column=review)
    html = client_for(pm).get(BOARD).content.decode()
    head = re.search(
        rf'<div class="col-head is-over" id="col-head-{review.pk}".*?</div>', html, re.S
    )
    assert head, "the Review head is marked over its limit"
    assert 'role="alert"' in head.group(0)
    assert "Over the WIP limit by 1" in head.group(0)


def test_board_answers_with_vary_on_htmx_and_a_grid_fragment(client_for, pm, card):
    client = client_for(pm)
    full = client.get(BOARD)
    fragment = client.get(BOARD, headers=HTMX)
    assert "HX-Request" in full["Vary"]
    assert "HX-Request" in fragment["Vary"]
    assert "<html" in full.content.decode()
    body = fragment.content.decode()
    assert "<html" not in body
    assert body.lstrip().startswith('<div class="board')
    assert "Order the firewalls" in body


@pytest.fixture
def team_board(project, columns, member, pm):
    """Cards for Mia (member) and Pat (pm), one unassigned; two milestones."""
    pm.first_name, pm.last_name = "Pat", "Manager"
    pm.save()
    beta = factories.MilestoneFactory(project=project, name="Beta", baseline_date=date(2031, 1, 6))
    pilot = factories.MilestoneFactory(
        project=project, name="Pilot", baseline_date=date(2031, 3, 3)
    )
    TaskFactory(column=columns[0], title="Mia's beta task", assignee=member, milestone=beta,
                labels=["network"])  # fmt: skip
    TaskFactory(column=columns[1], title="Pat's pilot task", assignee=pm, milestone=pilot,
                labels=["network", "change"], description="Needs a **change** window")  # fmt: skip
    TaskFactory(column=columns[0], title="Nobody's task")
    return {"beta": beta, "pilot": pilot}


def lanes_of(html: str) -> dict[str, list[str]]:
    """Lane title → the card titles under it."""
    lanes = {}
    for part in re.split(r'<h2 class="lane-head"', html)[1:]:
        title = entities.unescape(re.match(r"[^>]*>([^<]*)<", part).group(1).strip())
        lanes[title] = card_titles(part)
    return lanes


def test_swimlanes_by_assignee(client_for, pm, team_board):
    html = client_for(pm).get(BOARD + "?lanes=assignee").content.decode()
    assert lanes_of(html) == {
        "Mia Member": ["Mia's beta task"],
        "Pat Manager": ["Pat's pilot task"],
        "Unassigned": ["Nobody's task"],
    }


def test_swimlanes_by_milestone(client_for, pm, team_board):
    html = client_for(pm).get(BOARD + "?lanes=milestone").content.decode()
    assert lanes_of(html) == {
        "Beta": ["Mia's beta task"],
        "Pilot": ["Pat's pilot task"],
        "No milestone": ["Nobody's task"],
    }


def test_no_swimlanes_by_default_or_for_a_made_up_kind(client_for, pm, team_board):
    for query in ("", "?lanes=colour"):
        html = client_for(pm).get(BOARD + query).content.decode()
        assert 'class="lane-head"' not in html
        assert len(card_titles(html)) == 3


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("assignee={member}", ["Mia's beta task"]),
        ("assignee=none", ["Nobody's task"]),
        ("label=change", ["Pat's pilot task"]),
        ("label=network", ["Mia's beta task", "Pat's pilot task"]),
        ("milestone={pilot}", ["Pat's pilot task"]),
        ("milestone=none", ["Nobody's task"]),
        ("q=PILOT", ["Pat's pilot task"]),
        ("q=needs+a", ["Pat's pilot task"]),  # the description counts too
        ("q=nothing-like-this", []),
        ("assignee=abc&milestone=;drop", ["Mia's beta task", "Nobody's task", "Pat's pilot task"]),
    ],
)
def test_filters(client_for, pm, member, team_board, query, shown):
    query = query.format(member=member.pk, pilot=team_board["pilot"].pk)
    html = client_for(pm).get(f"{BOARD}?{query}").content.decode()
    assert sorted(card_titles(html)) == sorted(shown)


def test_filtered_board_still_counts_every_card_for_wip(client_for, pm, team_board, columns):
    html = client_for(pm).get(f"{BOARD}?label=change").content.decode()
    head = re.search(rf'id="col-head-{columns[0].pk}".*?</div>', html, re.S).group(0)
    assert '<span class="num">2</span>' in head
    assert "Showing 1 of 3 cards" in html


@pytest.mark.parametrize("cards", [5, 500])
@pytest.mark.parametrize("lanes", ["", "assignee", "milestone"])
def test_board_runs_a_constant_number_of_queries(
    client_for, pm, project, columns, member, cards, lanes, django_assert_num_queries
):
    people = [pm, member, *factories.AgentFactory.create_batch(3)]
    project.members.add(*people[1:])
    milestones = factories.MilestoneFactory.create_batch(3, project=project)
    fill(columns, cards, assignees=[*people, None], milestones=[*milestones, None],
         labels=[["network"], ["change", "vendor"], []])  # fmt: skip
    client = client_for(pm)
    # session, user, roles, project, people, milestones, columns with counts, cards, labels
    with django_assert_num_queries(10):
        response = client.get(f"{BOARD}?lanes={lanes}&label=&q=")
    assert len(card_titles(response.content.decode())) == cards


def test_card_text_is_escaped_and_descriptions_go_through_the_sanitiser(client_for, pm, columns):
    task = TaskFactory(
        column=columns[0],
        title="<img src=x onerror=alert(1)>",
        description="**Bold** <script>alert('x')</script> [link](javascript:alert(1))",
        labels=["<b>tag</b>"],
    )
    html = client_for(pm).get(BOARD).content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;b&gt;tag&lt;/b&gt;" in html
    panel = client_for(pm).get(f"{BOARD}tasks/{task.pk}/", headers=HTMX).content.decode()
    assert "<strong>Bold</strong>" in panel
    assert "<script>alert" not in panel
    assert "javascript:" not in panel.split('class="prose')[1].split("</div>")[0]


# ---- Moving cards -------------------------------------------------------------------


def test_move_is_one_update_of_that_card_alone(client_for, pm, columns):
    to_do, doing = columns[0], columns[1]
    cards = [TaskFactory(column=doing, title=f"Doing {n}") for n in range(4)]
    moving = TaskFactory(column=to_do, title="Moving")
    client = client_for(pm)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            f"{BOARD}tasks/{moving.pk}/move/",
            {"column": doing.pk, "after": cards[1].pk},
            headers=HTMX,
        )
    assert response.status_code == 200
    updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "projects_task"')]
    assert len(updates) == 1, updates
    assert f'WHERE "projects_task"."id" = {moving.pk}' in updates[0]
    order = Task.objects.filter(column=doing).order_by("rank").values_list("title", flat=True)
    assert list(order) == ["Doing 0", "Doing 1", "Moving", "Doing 2", "Doing 3"]


def test_move_to_the_top_and_within_a_column(client_for, pm, columns):
    a, b, c = (TaskFactory(column=columns[0], title=t) for t in "ABC")
    client = client_for(pm)
    client.post(f"{BOARD}tasks/{c.pk}/move/", {"column": columns[0].pk, "after": ""}, headers=HTMX)
    client.post(
        f"{BOARD}tasks/{a.pk}/move/", {"column": columns[0].pk, "after": b.pk}, headers=HTMX
    )
    order = Task.objects.filter(column=columns[0]).order_by("rank").values_list("title", flat=True)
    assert list(order) == ["C", "B", "A"]


def test_move_answers_with_every_column_head_out_of_band(client_for, pm, columns):
    review = columns[2]  # WIP 3
    TaskFactory.create_batch(3, column=review)
    moving = TaskFactory(column=columns[0], title="Fourth review")
    response = client_for(pm).post(
        f"{BOARD}tasks/{moving.pk}/move/", {"column": review.pk}, headers=HTMX
    )
    html = response.content.decode()
    assert html.count('hx-swap-oob="true"') == len(columns)
    head = re.search(rf'id="col-head-{review.pk}" hx-swap-oob="true">.*?</div>', html, re.S)
    assert "Over the WIP limit by 1" in head.group(0)
    assert '<span class="num">4</span>' in head.group(0)
    assert "Moved “Fourth review” to Review." in html


def test_move_below_a_card_of_another_column_is_refused(client_for, pm, columns):
    moving = TaskFactory(column=columns[0])
    elsewhere = TaskFactory(column=columns[2])
    response = client_for(pm).post(
        f"{BOARD}tasks/{moving.pk}/move/",
        {"column": columns[1].pk, "after": elsewhere.pk},
        headers=HTMX,
    )
    assert response.status_code == 400
    assert "Not moved: That card is in another column." in response.content.decode()
    moving.refresh_from_db()
    assert moving.column_id == columns[0].pk


def test_move_to_a_column_of_another_board_is_refused(client_for, pm, columns, card):
    other = board_of(factories.ProjectFactory(key="LAN", owner=pm))[1]
    response = client_for(pm).post(
        f"{BOARD}tasks/{card.pk}/move/", {"column": other.pk}, headers=HTMX
    )
    assert response.status_code == 400
    card.refresh_from_db()
    assert card.column_id == columns[0].pk


def test_move_without_javascript_goes_to_the_bottom_and_back_to_the_board(
    client_for, pm, columns, card
):
    TaskFactory(column=columns[1], title="Already there")
    response = client_for(pm).post(
        f"{BOARD}tasks/{card.pk}/move/", {"column": columns[1].pk, "position": "bottom"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{BOARD}#card-{card.pk}"
    order = Task.objects.filter(column=columns[1]).order_by("rank").values_list("title", flat=True)
    assert list(order) == ["Already there", "Order the firewalls"]


def test_moving_into_done_completes_the_card_and_out_reopens_it(client_for, pm, columns, card):
    client = client_for(pm)
    client.post(f"{BOARD}tasks/{card.pk}/move/", {"column": columns[3].pk}, headers=HTMX)
    card.refresh_from_db()
    assert card.completed_at is not None
    client.post(f"{BOARD}tasks/{card.pk}/move/", {"column": columns[1].pk}, headers=HTMX)
    card.refresh_from_db()
    assert card.completed_at is None


# ---- Quick-add ----------------------------------------------------------------------


def test_quick_add_appends_at_the_bottom_and_swaps_the_column(client_for, pm, columns, card):
    TaskFactory(column=columns[0], title="Second")
    response = client_for(pm).post(
        f"{BOARD}columns/{columns[0].pk}/tasks/", {"title": "  Call the ISP  "}, headers=HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    cell, _, oob = html.partition('id="col-head-')
    assert cell.lstrip().startswith(f'<div class="cell" data-column="{columns[0].pk}"')
    assert card_titles(cell) == ["Order the firewalls", "Second", "Call the ISP"]
    assert "autofocus" in cell  # ready for the next title
    assert '<span class="num">3</span>' in oob
    task = Task.objects.get(title="Call the ISP")
    assert (task.column_id, task.project.key) == (columns[0].pk, "VPN")


def test_quick_add_with_no_title_keeps_nothing_and_says_why(client_for, pm, columns):
    response = client_for(pm).post(
        f"{BOARD}columns/{columns[0].pk}/tasks/", {"title": "   "}, headers=HTMX
    )
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not Task.objects.exists()


def test_quick_add_keeps_a_too_long_title_to_fix(client_for, pm, columns):
    title = "x" * 201
    response = client_for(pm).post(
        f"{BOARD}columns/{columns[0].pk}/tasks/", {"title": title}, headers=HTMX
    )
    assert response.status_code == 400
    assert f'value="{title}"' in response.content.decode()


def test_quick_add_in_a_swimlane_takes_the_lane(client_for, pm, member, columns):
    response = client_for(pm).post(
        f"{BOARD}columns/{columns[1].pk}/tasks/?lanes=assignee",
        {"title": "Mia's new task", "lane": str(member.pk)},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert card_titles(response.content.decode()) == ["Mia's new task"]
    assert Task.objects.get(title="Mia's new task").assignee == member


def test_quick_add_refuses_a_lane_of_someone_off_the_project(client_for, pm, agent, columns):
    response = client_for(pm).post(
        f"{BOARD}columns/{columns[1].pk}/tasks/?lanes=assignee",
        {"title": "Sneaky", "lane": str(agent.pk)},
        headers=HTMX,
    )
    assert response.status_code == 400
    assert not Task.objects.exists()


def test_quick_add_without_javascript_redirects_to_the_new_card(client_for, pm, columns):
    response = client_for(pm).post(f"{BOARD}columns/{columns[0].pk}/tasks/", {"title": "Plain"})
    task = Task.objects.get(title="Plain")
    assert response.status_code == 302
    assert response["Location"].endswith(f"#card-{task.pk}")


# ---- The card panel -----------------------------------------------------------------


def test_panel_is_a_fragment_for_htmx_and_a_page_without(client_for, pm, card):
    client = client_for(pm)
    fragment = client.get(f"{BOARD}tasks/{card.pk}/", headers=HTMX)
    page = client.get(f"{BOARD}tasks/{card.pk}/")
    assert "HX-Request" in fragment["Vary"]
    assert "<html" not in fragment.content.decode()
    assert 'id="drawer-title"' in fragment.content.decode()
    assert "<html" in page.content.decode()
    assert 'name="title"' in page.content.decode()
    assert "Move" in page.content.decode()  # the no-JavaScript way to move it


def test_panel_saves_every_field_and_sends_the_card_back(client_for, pm, member, project, card):
    milestone = factories.MilestoneFactory(project=project, name="Beta")
    data = {
        "version": card.version,
        "title": "Order two firewalls",
        "description": "From *Acme*",
        "assignee": member.pk,
        "estimate_hours": "12.5",
        "start_date": "2031-02-03",
        "due_date": "2031-02-14",
        "milestone": milestone.pk,
        "labels": "network, vendor, network",
    }
    response = client_for(pm).post(f"{BOARD}tasks/{card.pk}/", data, headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Saved." in html
    assert f'id="card-{card.pk}" data-id="{card.pk}" hx-swap-oob="true"' in html
    card.refresh_from_db()
    assert card.title == "Order two firewalls"
    assert card.assignee == member
    assert str(card.estimate_hours) == "12.50"
    assert (card.start_date, card.due_date) == (date(2031, 2, 3), date(2031, 2, 14))
    assert card.milestone == milestone
    assert card.labels == ["network", "vendor"]
    assert card.version == 2


def test_panel_form_shows_what_is_stored_so_saving_it_untouched_changes_nothing(
    client_for, pm, member, project, columns
):
    milestone = factories.MilestoneFactory(project=project, name="Beta")
    task = TaskFactory(
        column=columns[0], title="Patch", assignee=member, milestone=milestone,
        estimate_hours="12.50", start_date=date(2031, 2, 3), due_date=date(2031, 2, 14),
        labels=["network", "vendor"], description="Line one",
    )  # fmt: skip
    html = client_for(pm).get(f"{BOARD}tasks/{task.pk}/", headers=HTMX).content.decode()
    assert 'name="start_date" value="2031-02-03"' in html
    assert 'name="due_date" value="2031-02-14"' in html
    assert 'name="estimate_hours" value="12.5"' in html
    assert 'name="labels" value="network, vendor"' in html
    assert f'<option value="{milestone.pk}" selected>Beta</option>' in html
    assert f'<option value="{member.pk}" selected>Mia Member</option>' in html
    data = {
        "version": 1, "title": "Patch", "description": "Line one", "assignee": member.pk,
        "estimate_hours": "12.5", "start_date": "2031-02-03", "due_date": "2031-02-14",
        "milestone": milestone.pk, "labels": "network, vendor",
    }  # fmt: skip
    client_for(pm).post(f"{BOARD}tasks/{task.pk}/", data, headers=HTMX)
    task.refresh_from_db()
    assert task.version == 1  # nothing changed, nothing written


def test_stale_edit_is_409_with_the_draft_kept(client_for, pm, member, card):
    seen = card.version
    services.task_update(task=card, actor=member, title="Order three firewalls")
    data = {"version": seen, "title": "My draft title", "estimate_hours": "3", "labels": ""}
    response = client_for(pm).post(f"{BOARD}tasks/{card.pk}/", data, headers=HTMX)
    assert response.status_code == 409
    html = response.content.decode()
    assert 'value="My draft title"' in html
    assert "<li>Title: Order three firewalls</li>" in html
    assert f'name="version" value="{seen + 1}"' in html  # saving again is deliberate
    card.refresh_from_db()
    assert card.title == "Order three firewalls"


def test_stale_edit_without_javascript_is_409_on_the_card_page(client_for, pm, member, card):
    services.task_update(task=card, actor=member, title="Order three firewalls")
    data = {"version": 1, "title": "My draft title", "estimate_hours": "3"}
    response = client_for(pm).post(f"{BOARD}tasks/{card.pk}/", data)
    assert response.status_code == 409
    assert "<html" in response.content.decode()
    assert 'value="My draft title"' in response.content.decode()


def test_panel_refuses_a_due_date_before_the_start(client_for, pm, card):
    data = {"version": 1, "title": "T", "start_date": "2031-02-03", "due_date": "2031-02-01"}
    response = client_for(pm).post(f"{BOARD}tasks/{card.pk}/", data, headers=HTMX)
    assert response.status_code == 400
    assert "The due date is before the start." in response.content.decode()


def test_panel_refuses_a_milestone_of_another_project(client_for, pm, card):
    foreign = factories.MilestoneFactory()
    data = {"version": 1, "title": "T", "milestone": foreign.pk}
    response = client_for(pm).post(f"{BOARD}tasks/{card.pk}/", data, headers=HTMX)
    assert response.status_code == 400
    card.refresh_from_db()
    assert card.milestone is None


def test_panel_without_javascript_redirects_after_saving(client_for, pm, card):
    data = {"version": 1, "title": "Renamed", "estimate_hours": "1"}
    response = client_for(pm).post(f"{BOARD}tasks/{card.pk}/", data)
    assert response.status_code == 302
    assert response["Location"] == f"{BOARD}tasks/{card.pk}/"


# ---- Dependencies -------------------------------------------------------------------


def test_dependency_add_both_ways_and_remove(client_for, pm, columns, card):
    install = TaskFactory(column=columns[0], title="Install the firewalls")
    client = client_for(pm)
    url = f"{BOARD}tasks/{card.pk}/dependencies/"
    response = client.post(
        url, {"direction": "blocks", "other": install.pk, "type": "SS", "lag_days": 2}, headers=HTMX
    )
    assert response.status_code == 200
    link = Dependency.objects.get()
    assert (link.predecessor, link.successor, link.type, link.lag_days) == (card, install, "SS", 2)
    assert "Blocks" in response.content.decode()
    assert "SS +2 d" in response.content.decode()
    response = client.post(f"{url}{link.pk}/delete/", headers=HTMX)
    assert response.status_code == 200
    assert not Dependency.objects.exists()


def test_dependency_loop_is_refused_with_its_name(client_for, pm, columns):
    order = TaskFactory(column=columns[0], title="Order kit")
    install = TaskFactory(column=columns[0], title="Install")
    DependencyFactory(predecessor=order, successor=install)
    response = client_for(pm).post(
        f"{BOARD}tasks/{order.pk}/dependencies/",
        {"direction": "waits", "other": install.pk, "type": "FS", "lag_days": 0},
        headers=HTMX,
    )
    assert response.status_code == 400
    assert "That would make a loop: Order kit → Install → Order kit." in (response.content.decode())
    assert Dependency.objects.count() == 1


def test_dependency_on_a_card_of_another_project_is_refused(client_for, pm, card):
    foreign = TaskFactory(title="Someone else's")
    response = client_for(pm).post(
        f"{BOARD}tasks/{card.pk}/dependencies/",
        {"direction": "waits", "other": foreign.pk, "type": "FS", "lag_days": 0},
        headers=HTMX,
    )
    assert response.status_code == 400
    assert not Dependency.objects.exists()


def test_removing_someone_elses_dependency_is_404(client_for, pm, columns, card):
    a, b = TaskFactory(column=columns[0]), TaskFactory(column=columns[0])
    link = DependencyFactory(predecessor=a, successor=b)
    response = client_for(pm).post(f"{BOARD}tasks/{card.pk}/dependencies/{link.pk}/delete/")
    assert response.status_code == 404
    assert Dependency.objects.exists()
