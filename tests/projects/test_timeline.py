"""The timeline: the Gantt chart's arithmetic (projects.gantt) and the page that draws it.

The layout is pure, so most of it is tested without a database: dates become x, rows
become y, dependencies become elbow arrows. The page is then tested for its door (the
project page's), its constant number of queries, and text that must come out escaped.
"""

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from django.utils import timezone

from config.models import BusinessCalendar, BusinessHours, Holiday
from projects import gantt
from projects.gantt import LinkIn, MilestoneIn, TaskIn
from projects.models import Column, Dependency, Milestone, Task
from tests import factories

MON = date(2026, 3, 2)  # a Monday
SVG_NS = "{http://www.w3.org/2000/svg}"


def days(n: int) -> timedelta:
    return timedelta(days=n)


# --- Dates → x ------------------------------------------------------------------------------


def test_each_day_is_one_column_from_the_left_edge():
    scale = gantt.Scale(start=MON, days=14, day_width=10, left=300)
    assert scale.x(MON) == 300
    assert scale.x(MON + days(1)) == 310
    assert scale.x(MON + days(13)) == 430
    assert scale.x_after(MON + days(13)) == 440
    assert scale.x_mid(MON) == 305
    assert (scale.end, scale.width) == (MON + days(13), 140)


def test_a_date_before_the_start_lies_left_of_it():
    scale = gantt.Scale(start=MON, days=7, day_width=10, left=300)
    assert scale.x(MON - days(2)) == 280


def test_the_span_runs_from_a_monday_to_the_sunday_a_week_after_the_last_date():
    wednesday, friday = MON + days(2), MON + days(18)
    start, end = gantt.span([friday, None, wednesday], today=MON)
    assert start == MON
    assert end.weekday() == 6
    assert end == gantt.monday_of(friday) + days(13)


def test_the_span_includes_today_when_it_is_near_the_plan():
    start, _ = gantt.span([MON + days(20), MON + days(40)], today=MON + days(3))
    assert start == MON


def test_the_span_leaves_out_a_today_far_from_the_plan():
    start, end = gantt.span([MON, MON + days(10)], today=MON + days(400))
    assert (start, end) == (MON, MON + days(20))


def test_a_plan_without_dates_spans_the_weeks_around_today():
    start, end = gantt.span([None, None], today=MON + days(3))
    assert (start, end) == (MON, MON + days(13))


def test_a_date_typed_decades_off_does_not_stretch_the_chart_for_ever():
    start, end = gantt.span([MON, MON + days(20), date(2062, 3, 1)], today=MON)
    assert start == MON
    assert (end - start).days + 1 == gantt.MAX_SPAN_DAYS
    start, _ = gantt.span([date(1926, 3, 1), MON + days(20)], today=MON)
    assert start == gantt.monday_of(MON - days(365))


def test_the_days_are_fitted_into_the_chart_width():
    scale = gantt.scale_for(MON, MON + days(81), width=820)
    assert scale.day_width == 10
    assert scale.width == 820


@pytest.mark.parametrize(
    ("length", "day_width"),
    [(7, gantt.MAX_DAY_WIDTH), (2000, gantt.MIN_DAY_WIDTH)],
)
def test_a_day_stays_legible_however_short_or_long_the_plan(length, day_width):
    assert gantt.scale_for(MON, MON + days(length - 1)).day_width == day_width


# --- The axis -------------------------------------------------------------------------------


def test_months_tile_the_axis_and_are_labelled_as_room_allows():
    scale = gantt.Scale(start=date(2026, 1, 26), days=70, day_width=10, left=300)
    months = gantt.month_bands(scale)
    assert [m.title for m in months] == ["Jan 2026", "Feb 2026", "Mar 2026", "Apr 2026"]
    assert months[0].x == 300
    assert sum(m.width for m in months) == scale.width
    # Six days of January have room for "Jan" only; a whole month for its year too.
    assert [m.label for m in months] == ["Jan", "Feb 2026", "Mar 2026", "Apr"]
    assert all(m.label_x == m.x + 6 for m in months)
    narrow = gantt.month_bands(gantt.Scale(start=date(2026, 1, 26), days=70, day_width=3))
    assert [m.label for m in narrow] == ["", "Feb 2026", "Mar 2026", ""]


def test_a_week_tick_on_every_monday_labelled_with_its_day():
    scale = gantt.Scale(start=MON, days=21, day_width=10)
    weeks = gantt.week_ticks(scale)
    assert [w.x for w in weeks] == [scale.x(MON + days(7 * n)) for n in range(3)]
    assert [w.label for w in weeks] == ["2", "9", "16"]
    assert weeks[1].title == "9 Mar 2026"


def test_narrow_weeks_are_labelled_every_second_or_fourth_week():
    assert [w.label for w in gantt.week_ticks(gantt.Scale(MON, 28, 3))] == ["2", "", "16", ""]
    labels = [w.label for w in gantt.week_ticks(gantt.Scale(MON, 56, 1))]
    assert labels == ["2", "", "", "", "30", "", "", ""]


def test_weekends_are_shaded_as_two_day_runs():
    scale = gantt.Scale(start=MON, days=14, day_width=10, left=0)
    shades = gantt.non_working_runs(scale)
    assert [(s.x, s.width) for s in shades] == [(50, 20), (120, 20)]
    assert shades[0].title == "Day off: 7 Mar 2026 – 8 Mar 2026"


def test_a_holiday_next_to_a_weekend_joins_its_run():
    scale = gantt.Scale(start=MON, days=14, day_width=10, left=0)
    shades = gantt.non_working_runs(scale, holidays=[MON + days(7), MON + days(2)])
    assert [(s.x, s.width) for s in shades] == [(20, 10), (50, 30), (120, 20)]
    assert shades[1].title.endswith("(holiday)")


def test_a_calendar_decides_which_weekdays_are_off():
    scale = gantt.Scale(start=MON, days=7, day_width=10, left=0)
    sunday_to_thursday = frozenset({6, 0, 1, 2, 3})
    shades = gantt.non_working_runs(scale, working_weekdays=sunday_to_thursday)
    assert [(s.x, s.width) for s in shades] == [(40, 20)]  # Friday and Saturday


# --- Rows → y -------------------------------------------------------------------------------


def test_rows_stack_under_the_axis_one_row_height_apart():
    assert gantt.row_y(0) == gantt.TOP
    assert gantt.row_y(3) - gantt.row_y(2) == gantt.ROW


def test_tasks_group_under_their_milestones_in_order_then_the_rest():
    first, second = MilestoneIn(1, "Design"), MilestoneIn(2, "Build")
    tasks = [
        TaskIn(10, "Late start", milestone_id=1, start=MON + days(5)),
        TaskIn(11, "No dates", milestone_id=1),
        TaskIn(12, "Early start", milestone_id=1, start=MON),
        TaskIn(13, "Loose"),
        TaskIn(14, "Of a milestone not drawn", milestone_id=99, start=MON),
    ]
    groups = gantt.group_rows([first, second], tasks)
    assert [(m and m.name, [t.id for t in ts]) for m, ts in groups] == [
        ("Design", [12, 10, 11]),
        ("Build", []),
        (None, [14, 13]),
    ]


def test_long_text_is_cut_with_an_ellipsis():
    assert gantt.truncate("Short", 100) == "Short"
    cut = gantt.truncate("A   very long title that will not fit", 66)
    assert cut == "A very lo…"
    assert len(cut) == 10


# --- Arrows ---------------------------------------------------------------------------------


def test_finish_to_start_drops_straight_down_when_there_is_room():
    points = gantt.route(100, 50, 1, 140, 74, 1, channel_y=62)
    assert points == [(100, 50), (107, 50), (107, 74), (140, 74)]


def test_finish_to_start_turns_back_between_the_rows_when_the_successor_starts_earlier():
    points = gantt.route(100, 50, 1, 60, 74, 1, channel_y=62)
    assert points == [(100, 50), (107, 50), (107, 62), (53, 62), (53, 74), (60, 74)]


def test_start_to_start_leaves_and_enters_from_the_left():
    points = gantt.route(100, 50, -1, 120, 74, 1, channel_y=62)
    assert points == [(100, 50), (93, 50), (93, 74), (120, 74)]


def test_finish_to_finish_enters_the_successor_from_the_right():
    points = gantt.route(100, 50, 1, 80, 74, -1, channel_y=62)
    assert points == [(100, 50), (107, 50), (107, 74), (80, 74)]


def _bar(task_id, x, y, width, critical=False):
    return gantt.Bar(task_id=task_id, x=x, y=y, width=width, critical=critical, done=False,
                     title="")  # fmt: skip


def test_each_dependency_type_joins_the_right_ends_of_the_bars():
    bars = {1: _bar(1, 100, 50, 40), 2: _bar(2, 200, 74, 30)}
    ends = {}
    for kind in ("FS", "SS", "FF", "SF"):
        (arrow,) = gantt.arrows_for([LinkIn(1, 2, kind)], bars)
        coordinates = arrow.points.split()
        ends[kind] = (coordinates[0], coordinates[-1])
    assert ends == {
        "FS": ("140,56", "200,80"),
        "SS": ("100,56", "200,80"),
        "FF": ("140,56", "230,80"),
        "SF": ("100,56", "230,80"),
    }


def test_an_arrow_is_critical_only_between_two_critical_tasks():
    bars = {1: _bar(1, 0, 0, 10, True), 2: _bar(2, 20, 24, 10, True), 3: _bar(3, 40, 48, 10)}
    arrows = gantt.arrows_for([LinkIn(1, 2), LinkIn(2, 3)], bars)
    assert [a.critical for a in arrows] == [True, False]


def test_no_arrow_to_a_task_that_is_not_drawn():
    assert gantt.arrows_for([LinkIn(1, 2)], {1: _bar(1, 0, 0, 10)}) == []


# --- The whole chart ------------------------------------------------------------------------


def test_a_bar_covers_its_first_to_its_last_day():
    chart = gantt.layout(
        milestones=[],
        tasks=[TaskIn(1, "Order kit", start=MON + days(1), finish=MON + days(3))],
        today=MON,
    )
    (bar,) = chart.bars
    scale = gantt.Scale(chart.start, 0, chart.day_width)
    assert bar.x == scale.x(MON + days(1))
    assert bar.end == pytest.approx(scale.x_after(MON + days(3)), abs=0.11)
    assert bar.y == chart.rows[1].y + (gantt.ROW - gantt.BAR_HEIGHT) / 2
    assert bar.title == "Order kit: 3 Mar → 5 Mar"


def test_a_task_with_one_date_is_a_one_day_bar_and_one_without_is_noted():
    chart = gantt.layout(
        milestones=[],
        tasks=[TaskIn(1, "Due only", finish=MON + days(4)), TaskIn(2, "Someday")],
        today=MON,
    )
    (bar,) = chart.bars
    assert bar.width == pytest.approx(chart.day_width, abs=0.11)
    assert [(r.kind, r.label, r.note) for r in chart.rows] == [
        ("group", "Not in a milestone", ""),
        ("task", "Due only", ""),
        ("task", "Someday", "not scheduled yet"),
    ]


def test_a_milestone_shows_baseline_target_and_forecast_side_by_side():
    milestone = MilestoneIn(
        1, "Cut-over", "Go-live", baseline=MON, target=MON + days(7), forecast=MON + days(10)
    )
    chart = gantt.layout(milestones=[milestone], tasks=[], today=MON)
    (marks,) = chart.milestones
    assert [m.kind for m in marks.markers] == ["baseline", "target", "forecast"]
    assert [m.cx for m in marks.markers] == sorted(m.cx for m in marks.markers)
    assert [m.size for m in marks.markers] == [8, 6, 4]  # nested when the dates agree
    assert marks.late and marks.markers[2].late
    assert marks.label == "baseline 2 Mar · target 9 Mar · forecast 12 Mar · +10 d"
    assert (chart.rows[0].label, chart.rows[0].tag) == ("Cut-over", "Go-live")


def test_a_milestone_on_plan_is_not_late_and_shows_no_slip():
    milestone = MilestoneIn(1, "Pilot", baseline=MON, target=MON, forecast=MON)
    (marks,) = gantt.layout(milestones=[milestone], tasks=[], today=MON).milestones
    assert not marks.late
    assert marks.x1 == marks.x2
    assert marks.label == "baseline 2 Mar · target 2 Mar · forecast 2 Mar"


def test_a_label_that_would_run_off_the_right_edge_goes_left_of_its_marks():
    # The chart's span ends a week after its last date; a long label does not fit there.
    far = MilestoneIn(1, "Far", baseline=MON, target=MON + days(120), forecast=MON + days(150))
    (marks,) = gantt.layout(milestones=[far], tasks=[], today=MON).milestones
    assert (marks.label_anchor, marks.label_x < marks.x1) == ("end", True)


def test_today_is_drawn_in_the_middle_of_its_day_or_not_at_all():
    tasks = [TaskIn(1, "Work", start=MON, finish=MON + days(20))]
    chart = gantt.layout(milestones=[], tasks=tasks, today=MON + days(2))
    scale = gantt.Scale(chart.start, 0, chart.day_width)
    assert chart.today_x == scale.x_mid(MON + days(2))
    assert gantt.layout(milestones=[], tasks=tasks, today=MON + days(500)).today_x is None


def test_the_chart_is_as_tall_as_its_rows_and_as_wide_as_its_days():
    milestones = [MilestoneIn(1, "One", baseline=MON, target=MON)]
    tasks = [TaskIn(n, f"Task {n}", milestone_id=1, start=MON, finish=MON) for n in range(5)]
    chart = gantt.layout(milestones=milestones, tasks=tasks, today=MON)
    assert chart.height == gantt.row_y(6) + 8
    scale = gantt.scale_for(chart.start, chart.end)
    assert chart.width == gantt.LABEL_WIDTH + scale.width + gantt.PAD_RIGHT
    assert [r.stripe for r in chart.rows] == [False, False, True, False, True, False]


def test_a_done_milestone_shows_when_it_was_done_instead_of_a_forecast():
    milestone = MilestoneIn(
        1, "Design", baseline=MON, target=MON + days(3), forecast=MON + days(9),
        completed=MON + days(4),
    )  # fmt: skip
    (marks,) = gantt.layout(milestones=[milestone], tasks=[], today=MON).milestones
    assert [(m.kind, m.day, m.done) for m in marks.markers] == [
        ("baseline", MON, True),
        ("target", MON + days(3), True),
        ("done", MON + days(4), True),
    ]
    assert not marks.late
    assert marks.label == "baseline 2 Mar · target 5 Mar · done 6 Mar · +4 d"


def test_week_labels_give_way_to_the_today_label():
    tasks = [TaskIn(1, "Work", start=MON, finish=MON + days(30))]
    chart = gantt.layout(milestones=[], tasks=tasks, today=MON + days(7))
    labels = {w.title: w.label for w in chart.weeks}
    assert labels["9 Mar 2026"] == ""  # under "Today"
    assert labels["2 Mar 2026"] == "2"
    assert labels["16 Mar 2026"] == "16"


# --- The page -------------------------------------------------------------------------------


def url(key="VPN"):
    return f"/projects/{key}/timeline/"


def make_columns(project):
    return [
        Column.objects.create(project=project, name=name, position=n, is_done=name == "Done")
        for n, name in enumerate(["To do", "In progress", "Done"])
    ]


def make_task(project, column, title, n=0, **fields):
    """A card as the board and the scheduler leave it (written directly: the timeline only
    reads what they stored)."""
    return Task.objects.create(project=project, column=column, title=title, rank=f"i{n:05d}",
                               **fields)  # fmt: skip


def build_plan(project, today, *, assignee=None):
    """A realistic small plan: three milestones (one done, one slipping, one go-live),
    eight tasks with forecasts, a critical path, every dependency type, a task that is not
    scheduled and one outside any milestone. Returns {title: task}."""
    todo, doing, done = make_columns(project)
    design = factories.MilestoneFactory(
        project=project, name="Design signed off", baseline_date=today - days(24),
        target_date=today - days(20), forecast_date=today - days(20),
        completed_at=timezone.now() - days(20),
    )  # fmt: skip
    pilot = factories.MilestoneFactory(
        project=project, name="Pilot group on the new VPN", baseline_date=today + days(5),
        target_date=today + days(12), forecast_date=today + days(16),
    )  # fmt: skip
    cutover = factories.MilestoneFactory(
        project=project, name="Cut-over: old VPN switched off", kind=Milestone.Kind.GO_LIVE,
        baseline_date=today + days(40), target_date=today + days(40),
        forecast_date=today + days(37),
    )  # fmt: skip
    rows = [
        # title, milestone, column, start offset, finish offset, critical
        ("Survey current VPN users", design, done, -34, -27, False),
        ("Write the design", design, done, -28, -21, True),
        ("Order concentrators", pilot, doing, -18, 2, True),
        ("Build the pilot image", pilot, doing, -5, 6, False),
        ("Install concentrators in DC1", pilot, todo, 3, 14, True),
        ("Train the help desk", cutover, todo, 15, 21, False),
        ("Roll out the client to all laptops", cutover, todo, 17, 35, True),
        ("Switch off the old VPN", cutover, todo, 36, 37, True),
        ("Decide on MFA vendor", None, todo, None, None, False),
    ]
    tasks = {}
    for n, (title, milestone, column, first, last, critical) in enumerate(rows):
        tasks[title] = make_task(
            project, column, title, n,
            milestone=milestone,
            assignee=assignee if n % 2 == 0 else None,
            estimate_hours=Decimal(8),
            forecast_start=None if first is None else today + days(first),
            forecast_finish=None if last is None else today + days(last),
            is_critical=critical,
            completed_at=timezone.now() if column is done else None,
        )  # fmt: skip
    links = [
        ("Survey current VPN users", "Write the design", "FS"),
        ("Write the design", "Order concentrators", "FS"),
        ("Order concentrators", "Install concentrators in DC1", "FS"),
        ("Build the pilot image", "Install concentrators in DC1", "FF"),
        ("Install concentrators in DC1", "Roll out the client to all laptops", "FS"),
        ("Train the help desk", "Roll out the client to all laptops", "SS"),
        ("Roll out the client to all laptops", "Switch off the old VPN", "FS"),
    ]
    Dependency.objects.bulk_create(
        Dependency(predecessor=tasks[a], successor=tasks[b], type=kind) for a, b, kind in links
    )
    return tasks


def svg_of(response) -> ET.Element:
    """The chart, parsed as XML: it must be well-formed, whatever people typed."""
    match = re.search(r'<svg class="gantt-chart".*?</svg>', response.content.decode(), re.S)
    assert match, "no chart on the page"
    return ET.fromstring(match.group(0))  # noqa: S314 (our own page, not untrusted input)


def by_class(svg, tag, name):
    return [e for e in svg.iter(f"{SVG_NS}{tag}") if name in e.get("class", "").split()]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "expected"),
    [("pm", 200), ("agent", 200), ("outsider", 200), ("admin", 200), ("stakeholder", 403)],
)
def test_the_timeline_has_the_project_pages_door(client_for, request, project, who, expected):
    client = client_for(request.getfixturevalue(who))
    assert client.get(url()).status_code == expected
    assert client.get(f"/projects/{project.key}/").status_code == expected


@pytest.mark.django_db
def test_a_user_without_a_role_is_refused(client_for, project):
    assert client_for(factories.UserFactory()).get(url()).status_code == 403


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_log_in(client, project):
    response = client.get(url())
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/projects/VPN/timeline/")


@pytest.mark.django_db
def test_an_unknown_project_is_404(client_for, pm):
    assert client_for(pm).get(url("NOPE")).status_code == 404


@pytest.mark.django_db
def test_the_chart_draws_the_plan(client_for, pm, project):
    today = timezone.localdate()
    build_plan(project, today, assignee=pm)
    response = client_for(pm).get(url())
    assert response.status_code == 200
    svg = svg_of(response)
    bars = by_class(svg, "g", "gantt-bar")
    assert len(bars) == 8  # every scheduled task; "Decide on MFA vendor" has no dates
    assert len([b for b in bars if "critical" in b.get("class")]) == 5
    assert len([b for b in bars if "done" in b.get("class")]) == 2
    assert len(by_class(svg, "polyline", "gantt-arrow")) == 7
    assert len(by_class(svg, "polygon", "gantt-marker")) == 9  # 3 milestones × 3 dates
    assert len(by_class(svg, "polygon", "late")) == 1  # the pilot's forecast
    assert by_class(svg, "g", "gantt-today")
    assert by_class(svg, "g", "gantt-days-off")[0].findall(f"{SVG_NS}rect")
    labels = [t.text for t in by_class(svg, "text", "gantt-label")]
    assert labels[:3] == ["Design signed off", "Survey current VPN users", "Write the design"]
    assert labels[-2:] == ["Not in a milestone", "Decide on MFA vendor"]
    page = response.content.decode()
    assert "not scheduled yet" in page
    assert "GO-LIVE" in page.upper()
    assert pm.get_full_name() in page


@pytest.mark.django_db
def test_a_task_without_a_forecast_falls_back_to_its_start_and_due_dates(client_for, pm, project):
    (todo, *_) = make_columns(project)
    today = timezone.localdate()
    make_task(project, todo, "Typed dates only", start_date=today, due_date=today + days(3))
    (bar,) = by_class(svg_of(client_for(pm).get(url())), "g", "gantt-bar")
    (title,) = bar.findall(f"{SVG_NS}title")
    assert title.text == (
        f"Typed dates only: {today.day} {today:%b} → {(today + days(3)).day} {today + days(3):%b}"
    )


@pytest.mark.django_db
def test_an_empty_plan_says_so(client_for, pm, project):
    page = client_for(pm).get(url()).content.decode()
    assert "Nothing to draw yet" in page
    assert '<svg class="gantt-chart"' not in page


@pytest.mark.django_db
def test_titles_and_names_are_escaped_in_the_chart(client_for, pm, project):
    hostile = '<script>alert(1)</script> & "quoted" <tspan>'
    assignee = factories.AgentFactory(first_name="<b>Bold</b>", last_name="&amp;")
    (todo, *_) = make_columns(project)
    today = timezone.localdate()
    factories.MilestoneFactory(project=project, name=hostile)
    make_task(project, todo, hostile, forecast_start=today, forecast_finish=today,
              assignee=assignee)  # fmt: skip
    response = client_for(pm).get(url())
    page = response.content.decode()
    assert "<script>alert(1)" not in page
    assert "<tspan>" not in page
    assert "<b>Bold" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot;" in page
    svg = svg_of(response)  # still well-formed XML
    assert not list(svg.iter(f"{SVG_NS}script"))
    assert hostile in [t.text for t in svg.iter(f"{SVG_NS}title")]
    assert "<b>Bold</b> &amp;" in [t.text for t in by_class(svg, "text", "gantt-note")]


@pytest.mark.django_db
def test_a_calendar_shades_its_own_days_off_and_holidays(client_for, pm, project):
    calendar = BusinessCalendar.objects.create(name="Gulf office")
    for weekday in (6, 0, 1, 2, 3):  # Sunday to Thursday
        BusinessHours.objects.create(calendar=calendar, weekday=weekday, start="08:00",
                                     end="16:00")  # fmt: skip
    today = timezone.localdate()
    monday = gantt.monday_of(today)
    Holiday.objects.create(calendar=calendar, date=monday + days(1), name="National day")
    project.calendar = calendar
    project.save()
    (todo, *_) = make_columns(project)
    make_task(project, todo, "Work", forecast_start=monday, forecast_finish=monday + days(9))
    svg = svg_of(client_for(pm).get(url()))
    titles = [t.text for t in svg.iter(f"{SVG_NS}title") if t.text.startswith("Day off")]
    friday = monday + days(4)
    assert f"Day off: {friday.day} {friday:%b} {friday.year} – " in titles[1]
    assert titles[0].endswith("(holiday)")


@pytest.mark.django_db
@pytest.mark.parametrize("size", [5, 500])
def test_the_timeline_runs_a_constant_number_of_queries(
    client_for, pm, project, size, django_assert_num_queries
):
    (todo, *_) = make_columns(project)
    today = timezone.localdate()
    milestones = factories.MilestoneFactory.create_batch(3, project=project)
    assignee = factories.AgentFactory()
    tasks = Task.objects.bulk_create(
        Task(project=project, column=todo, title=f"Task {n}", rank=f"i{n:05d}",
             milestone=milestones[n % 3], assignee=assignee if n % 2 else None,
             forecast_start=today + days(n % 40), forecast_finish=today + days(n % 40 + 3),
             is_critical=n % 7 == 0)
        for n in range(size)
    )  # fmt: skip
    Dependency.objects.bulk_create(
        Dependency(predecessor=a, successor=b) for a, b in pairwise(tasks)
    )
    client = client_for(pm)
    # session, user, roles, the project, its milestones, its tasks with assignees, its links
    with django_assert_num_queries(8):
        response = client.get(url())
    assert len(by_class(svg_of(response), "g", "gantt-bar")) == size


@pytest.mark.django_db
def test_the_page_prints_without_navigation_on_a_landscape_sheet(client_for, pm, project):
    from pathlib import Path

    from django.conf import settings

    css = (Path(settings.BASE_DIR) / "static/css/bridgedesk.css").read_text()
    print_rules = css[css.index("/* ---- Timeline") :]
    assert "@page { size: A4 landscape" in print_rules
    assert re.search(r"@media print \{.*\.topbar[^{]*\{ display: none", print_rules, re.S)
    assert re.search(r"\.gantt-chart \{ width: 100%; height: auto; \}", print_rules)
    (todo, *_) = make_columns(project)
    today = timezone.localdate()
    make_task(project, todo, "Work", forecast_start=today, forecast_finish=today + days(9))
    page = client_for(pm).get(url()).content.decode()
    assert re.search(r'<svg class="gantt-chart"[^>]* viewBox="0 0 [\d.]+ [\d.]+"', page)
