"""The timeline's drawing as arithmetic: dates become x, rows become y.

Pure functions over plain values: no models, no database, no markup. The view turns the
project's rows into `TaskIn`/`MilestoneIn`/`LinkIn`, `layout()` returns every shape with
its coordinates, and templates/projects/_gantt.svg only prints them. Text people typed
(titles, names) stays a plain string here; the template escapes it like any other text.

Coordinates are SVG user units (px at 100 %). A day is a column `day_width` wide; a date
covers [x(d), x(d + 1)), so a one-day task is one column wide and a bar ends at the right
edge of its last day. Milestone markers and the "today" line sit in the middle of their day.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

# --- Geometry -------------------------------------------------------------------------------

LABEL_WIDTH = 300  # the left column of task and milestone names
PAD_RIGHT = 200  # room after the last day for the labels printed beside bars and markers
MONTH_BAND = 22
WEEK_BAND = 20
TOP = MONTH_BAND + WEEK_BAND  # the axis sits above the first row
ROW = 24
BAR_HEIGHT = 12
INDENT = 18  # tasks sit under their milestone in the label column
CHART_WIDTH = 820  # the width the days are fitted into, when that leaves them legible
MAX_SPAN_DAYS = 7 * 157  # three years of whole weeks; longer plans are windowed
MIN_DAY_WIDTH = 3.0  # narrower than this and a long plan scrolls instead of squeezing
MAX_DAY_WIDTH = 28.0
ARROW_GAP = 7  # how far an arrow runs straight out of a bar before it turns
CHAR_WIDTH = 6.6  # average advance of the 12px label font, to truncate before clipping
SMALL_CHAR_WIDTH = 6.0  # the same for the 11px notes beside bars and markers
# Nested when the dates agree; "done" (the day it was completed) replaces the forecast.
MARKER_SIZES = {"baseline": 8.0, "target": 6.0, "forecast": 4.0, "done": 4.0}
NOTE_GAP = 12  # between a bar's end and the name beside it: clear of the arrow's first turn
TODAY_LABEL_HALF_WIDTH = 22  # week labels this close to "Today" give way to it

MONDAY_TO_FRIDAY = frozenset(range(5))

# Dependency types (projects.models.Dependency.Type): which end of each bar a link joins.
STARTS_FROM_START = {"SS", "SF"}  # the predecessor's start drives it
ENDS_AT_FINISH = {"FF", "SF"}  # it constrains the successor's finish


# --- Input ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskIn:
    """A task as the chart needs it; `start`/`finish` are inclusive days (None: unknown)."""

    id: int
    title: str
    milestone_id: int | None = None
    start: date | None = None
    finish: date | None = None
    critical: bool = False
    done: bool = False
    assignee: str = ""


@dataclass(frozen=True)
class MilestoneIn:
    id: int
    name: str
    kind: str = ""  # shown beside the name: "Go-live"; empty for a plain milestone
    baseline: date | None = None
    target: date | None = None
    forecast: date | None = None
    completed: date | None = None  # once done, when; drawn instead of the forecast

    @property
    def done(self) -> bool:
        return self.completed is not None


@dataclass(frozen=True)
class LinkIn:
    """`successor` depends on `predecessor` with a Dependency.Type code (FS, SS, FF, SF)."""

    predecessor: int
    successor: int
    type: str = "FS"


# --- Output ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """A labelled stretch of the axis (a month) or a tick (a week)."""

    x: float
    width: float
    label: str
    title: str = ""
    label_x: float = 0


@dataclass(frozen=True)
class Shade:
    """A run of non-working days, shaded across every row."""

    x: float
    width: float
    title: str


@dataclass(frozen=True)
class Row:
    """One line of the chart: a milestone (group header) or a task under it."""

    kind: str  # "milestone" | "task" | "group" (the tasks of no milestone)
    y: float  # top of the row
    label: str  # truncated to fit the label column
    title: str  # the full text, for the tooltip
    indent: float = 0
    critical: bool = False
    done: bool = False
    stripe: bool = False
    note: str = ""  # e.g. "not scheduled", printed in the chart area
    tag: str = ""  # a milestone's kind, right-aligned in the label column

    @property
    def mid(self) -> float:
        return self.y + ROW / 2

    @property
    def text_y(self) -> float:
        return self.y + ROW / 2 + 4  # baseline of 12px text centred in the row

    @property
    def label_x(self) -> float:
        return 8 + self.indent


@dataclass(frozen=True)
class Bar:
    task_id: int
    x: float
    y: float
    width: float
    critical: bool
    done: bool
    title: str
    note: str = ""  # the assignee, beside the bar
    note_x: float = 0
    note_anchor: str = "start"

    @property
    def height(self) -> float:
        return BAR_HEIGHT

    @property
    def mid(self) -> float:
        return self.y + BAR_HEIGHT / 2

    @property
    def end(self) -> float:
        return self.x + self.width

    @property
    def note_y(self) -> float:
        return self.mid + 4


@dataclass(frozen=True)
class Marker:
    """One of a milestone's three dates, drawn as a diamond."""

    kind: str  # "baseline" | "target" | "forecast" | "done"
    cx: float
    cy: float
    size: float
    day: date
    late: bool = False  # forecast after target
    done: bool = False

    @property
    def points(self) -> str:
        cx, cy, r = self.cx, self.cy, self.size
        return polyline([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)])

    @property
    def title(self) -> str:
        return f"{self.kind.capitalize()}: {_day(self.day)}"


@dataclass(frozen=True)
class MilestoneMarks:
    """A milestone's markers, the line joining them (the slip) and their label."""

    markers: tuple[Marker, ...]
    x1: float
    x2: float
    y: float
    label: str
    label_x: float
    label_anchor: str
    late: bool

    @property
    def label_y(self) -> float:
        return self.y + 4


@dataclass(frozen=True)
class Arrow:
    """A dependency, as an elbowed line ending in an arrowhead at the successor."""

    points: str  # an SVG polyline
    critical: bool


@dataclass
class Chart:
    """Everything the template draws, back to front, with the sizes of the picture."""

    width: float
    height: float
    start: date
    end: date  # the last day drawn
    day_width: float
    label_width: float = LABEL_WIDTH
    months: list[Band] = field(default_factory=list)
    weeks: list[Band] = field(default_factory=list)
    shades: list[Shade] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    milestones: list[MilestoneMarks] = field(default_factory=list)
    arrows: list[Arrow] = field(default_factory=list)
    today_x: float | None = None
    today: date | None = None

    @property
    def chart_left(self) -> float:
        return self.label_width

    @property
    def chart_width_with_pad(self) -> float:
        """The days and the room after them for labels: what bars and marks may cover."""
        return round(self.width - self.chart_left, 1)

    @property
    def top(self) -> float:
        return TOP

    @property
    def month_band(self) -> float:
        return MONTH_BAND

    @property
    def tag_x(self) -> float:
        return self.label_width - 8

    @property
    def note_x(self) -> float:
        return self.label_width + 8

    @property
    def month_y(self) -> float:
        return MONTH_BAND - 7

    @property
    def week_y(self) -> float:
        return TOP - 6


# --- Dates → x ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """Maps days onto the x axis: `start` begins at `left`, each day is `day_width` wide."""

    start: date
    days: int
    day_width: float
    left: float = LABEL_WIDTH

    def x(self, day: date) -> float:
        """The left edge of `day`'s column."""
        return round(self.left + (day - self.start).days * self.day_width, 1)

    def x_after(self, day: date) -> float:
        """The right edge of `day`'s column: where a bar ending that day stops."""
        return self.x(day + timedelta(days=1))

    def x_mid(self, day: date) -> float:
        return round(self.x(day) + self.day_width / 2, 1)

    @property
    def end(self) -> date:
        """The last day drawn."""
        return self.start + timedelta(days=self.days - 1)

    @property
    def width(self) -> float:
        return round(self.days * self.day_width, 1)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def span(dates: Iterable[date | None], today: date, *, near_today: int = 30) -> tuple[date, date]:
    """The first and last day to draw: every known date, from the Monday on or before the
    earliest to the Sunday a week after the latest (room for labels). Today is included
    when it lies within `near_today` days of the plan, so the "today" line shows where it
    helps without stretching an old or far-off plan into mostly empty space."""
    known = [d for d in dates if d is not None]
    if not known:
        known = [today]
    first, last = min(known), max(known)
    if first - timedelta(days=near_today) <= today <= last + timedelta(days=near_today):
        first, last = min(first, today), max(last, today)
    start = monday_of(first)
    end = monday_of(last) + timedelta(days=13)  # the Sunday of the week after
    if (end - start).days >= MAX_SPAN_DAYS:
        # A date typed years off (2062 for 2026) must not turn the chart into kilometres of
        # empty weeks: draw a window from a year before today at the earliest; what lies
        # outside it is clipped at the chart's edges.
        start = max(start, monday_of(min(today, last) - timedelta(days=365)))
        end = start + timedelta(days=MAX_SPAN_DAYS - 1)
    return start, end


def chart_span(
    milestones: Sequence[MilestoneIn],
    tasks: Sequence[TaskIn],
    today: date,
    *,
    extra_dates: Iterable[date | None] = (),
) -> tuple[date, date]:
    """The span `layout()` draws for these milestones and tasks."""
    dates = [d for t in tasks for d in (t.start, t.finish)]
    dates += [d for m in milestones for d in (m.baseline, m.target, m.forecast)]
    return span([*dates, *extra_dates], today)


def scale_for(start: date, end: date, *, width: float = CHART_WIDTH) -> Scale:
    """A scale that fits [start, end] into `width`, within legible day widths."""
    days = (end - start).days + 1
    day_width = min(MAX_DAY_WIDTH, max(MIN_DAY_WIDTH, width / days))
    return Scale(start=start, days=days, day_width=round(day_width, 2))


# --- The axis -------------------------------------------------------------------------------

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _day(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def _short_day(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]}"


def month_bands(scale: Scale) -> list[Band]:
    """One band per month the scale touches, labelled as wide as the band allows."""
    bands = []
    day = scale.start.replace(day=1)
    while day <= scale.end:
        following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        x1 = scale.x(max(day, scale.start))
        x2 = scale.x(min(following, scale.end + timedelta(days=1)))
        width = round(x2 - x1, 1)
        name = MONTHS[day.month - 1]
        long_label = f"{name} {day.year}"
        if width >= len(long_label) * CHAR_WIDTH + 8:
            label = long_label
        elif width >= len(name) * CHAR_WIDTH + 6:
            label = name
        else:
            label = ""
        bands.append(
            Band(x=x1, width=width, label=label, title=long_label, label_x=round(x1 + 6, 1))
        )
        day = following
    return bands


def week_ticks(scale: Scale, *, min_gap: float = 24) -> list[Band]:
    """A tick at every Monday; the label (day of the month) on every week, or every
    second, fourth… week when weeks are too narrow for their labels."""
    week_width = 7 * scale.day_width
    every = max(1, 2 ** math.ceil(math.log2(min_gap / week_width))) if week_width < min_gap else 1
    ticks = []
    monday = monday_of(scale.start)
    if monday < scale.start:
        monday += timedelta(days=7)
    index = 0
    while monday <= scale.end:
        label = str(monday.day) if index % every == 0 else ""
        x = scale.x(monday)
        ticks.append(
            Band(
                x=x,
                width=round(week_width, 1),
                label=label,
                title=_day(monday),
                label_x=round(x + 3, 1),
            )
        )
        monday += timedelta(days=7)
        index += 1
    return ticks


def non_working_runs(
    scale: Scale,
    *,
    working_weekdays: frozenset[int] = MONDAY_TO_FRIDAY,
    holidays: Iterable[date] = (),
) -> list[Shade]:
    """Runs of consecutive days off (weekends, holidays) within the scale."""
    holidays = set(holidays)
    shades = []
    run_start = None
    day = scale.start
    last = scale.end
    while day <= last + timedelta(days=1):
        off = day <= last and (day.weekday() not in working_weekdays or day in holidays)
        if off and run_start is None:
            run_start = day
        elif not off and run_start is not None:
            x1, x2 = scale.x(run_start), scale.x(day)
            run_end = day - timedelta(days=1)
            title = _day(run_start)
            if run_end != run_start:
                title += f" – {_day(run_end)}"
            named = [d for d in sorted(holidays) if run_start <= d <= run_end]
            if named:
                title += " (holiday)"
            shades.append(Shade(x=x1, width=round(x2 - x1, 1), title=f"Day off: {title}"))
            run_start = None
        day += timedelta(days=1)
    return shades


# --- Rows → y -------------------------------------------------------------------------------


def row_y(index: int) -> float:
    """The top of row `index` (0-based): rows stack under the axis."""
    return TOP + index * ROW


def truncate(text: str, width: float, char_width: float = CHAR_WIDTH) -> str:
    """`text` cut to what fits in `width`, with an ellipsis when cut."""
    fits = max(1, int(width // char_width))
    text = " ".join(text.split())
    return text if len(text) <= fits else text[: fits - 1].rstrip() + "…"


def _task_sort_key(task: TaskIn):
    first = task.start or task.finish
    return (first is None, first or date.min, task.finish or date.min, task.id)


def group_rows(
    milestones: Sequence[MilestoneIn], tasks: Sequence[TaskIn]
) -> list[tuple[MilestoneIn | None, list[TaskIn]]]:
    """Tasks grouped under their milestones, in the milestones' order, with the tasks of
    no milestone (or of one not given) last; within a group, by start then finish."""
    known = {m.id for m in milestones}
    groups: dict[int | None, list[TaskIn]] = {m.id: [] for m in milestones}
    groups[None] = []
    for task in tasks:
        groups[task.milestone_id if task.milestone_id in known else None].append(task)
    ordered: list[tuple[MilestoneIn | None, list[TaskIn]]] = [
        (m, sorted(groups[m.id], key=_task_sort_key)) for m in milestones
    ]
    if groups[None]:
        ordered.append((None, sorted(groups[None], key=_task_sort_key)))
    return ordered


# --- Arrows ---------------------------------------------------------------------------------


def route(
    x1: float, y1: float, out: int, x2: float, y2: float, into: int, *, channel_y: float
) -> list[tuple[float, float]]:
    """The elbow path of a dependency arrow.

    It leaves the predecessor's end at (x1, y1) heading `out` (+1 right from a finish, -1
    left from a start) and reaches (x2, y2) heading `into` (+1 entering a start from the
    left, -1 entering a finish from the right). Where one vertical run can join them it
    takes one; otherwise it turns back along `channel_y`, the gap between two rows, so it
    never runs across a bar."""
    exit_x = x1 + out * ARROW_GAP
    entry_x = x2 - into * ARROW_GAP
    if out != into:
        # Out of one side, into the other (start to start, finish to finish): one vertical
        # run beyond both ends always joins them.
        turn_x = min(exit_x, entry_x) if out < 0 else max(exit_x, entry_x)
        return _dedupe([(x1, y1), (turn_x, y1), (turn_x, y2), (x2, y2)])
    if (entry_x - exit_x) * out >= 0:
        # The same direction with room to drop straight down: out, down, across.
        return _dedupe([(x1, y1), (exit_x, y1), (exit_x, y2), (x2, y2)])
    return _dedupe(
        [
            (x1, y1),
            (exit_x, y1),
            (exit_x, channel_y),
            (entry_x, channel_y),
            (entry_x, y2),
            (x2, y2),
        ]
    )


def _dedupe(points):
    out = []
    for point in points:
        point = (round(point[0], 1), round(point[1], 1))
        if not out or out[-1] != point:
            out.append(point)
    return out


def _n(value: float) -> str:
    """A coordinate as SVG wants it: no trailing .0."""
    text = str(round(value, 1))
    return text[:-2] if text.endswith(".0") else text


def polyline(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{_n(x)},{_n(y)}" for x, y in points)


def arrows_for(links: Iterable[LinkIn], bars: dict[int, Bar]) -> list[Arrow]:
    """An arrow per dependency whose two tasks are both drawn."""
    arrows = []
    for link in links:
        before, after = bars.get(link.predecessor), bars.get(link.successor)
        if before is None or after is None:
            continue
        from_start = link.type in STARTS_FROM_START
        to_finish = link.type in ENDS_AT_FINISH
        x1, out = (before.x, -1) if from_start else (before.end, 1)
        x2, into = (after.end, -1) if to_finish else (after.x, 1)
        # Turn back in the gap between the successor's row and the one the arrow comes from.
        below = after.y > before.y
        channel = after.y - (ROW - BAR_HEIGHT) / 2 if below else after.y + BAR_HEIGHT + 6
        points = route(x1, before.mid, out, x2, after.mid, into, channel_y=channel)
        arrows.append(Arrow(points=polyline(points), critical=before.critical and after.critical))
    return arrows


# --- The whole chart ------------------------------------------------------------------------


def _bar_for(task: TaskIn, scale: Scale, row: Row, right_edge: float) -> Bar | None:
    first, last = task.start or task.finish, task.finish or task.start
    if first is None:
        return None
    if last < first:
        first, last = last, first
    x = scale.x(first)
    width = max(3.0, round(scale.x_after(last) - x, 1))
    when = _short_day(first) if first == last else f"{_short_day(first)} → {_short_day(last)}"
    flags = [flag for flag, on in (("critical path", task.critical), ("done", task.done)) if on]
    title = f"{task.title}: {when}" + (f" ({', '.join(flags)})" if flags else "")
    note = truncate(task.assignee, 140, SMALL_CHAR_WIDTH) if task.assignee else ""
    note_x, anchor = round(x + width + NOTE_GAP, 1), "start"
    if note and note_x + len(note) * SMALL_CHAR_WIDTH > right_edge:
        note_x, anchor = round(x - NOTE_GAP, 1), "end"
    return Bar(
        task_id=task.id,
        x=x,
        y=round(row.y + (ROW - BAR_HEIGHT) / 2, 1),
        width=width,
        critical=task.critical,
        done=task.done,
        title=title,
        note=note,
        note_x=note_x,
        note_anchor=anchor,
    )


def _marks_for(milestone: MilestoneIn, scale: Scale, row: Row, right_edge: float):
    last = ("done", milestone.completed) if milestone.done else ("forecast", milestone.forecast)
    dates = [("baseline", milestone.baseline), ("target", milestone.target), last]
    late = bool(
        not milestone.done
        and milestone.forecast
        and milestone.target
        and milestone.forecast > milestone.target
    )
    markers = tuple(
        Marker(
            kind=kind,
            cx=scale.x_mid(day),
            cy=row.mid,
            size=MARKER_SIZES[kind],
            day=day,
            late=late and kind == "forecast",
            done=milestone.done,
        )
        for kind, day in dates
        if day is not None
    )
    if not markers:
        return None
    parts = [f"{kind} {_short_day(day)}" for kind, day in dates if day is not None]
    expected = milestone.completed or milestone.forecast or milestone.target
    if expected and milestone.baseline and expected != milestone.baseline:
        parts.append(f"{(expected - milestone.baseline).days:+d} d")
    label = " · ".join(parts)
    x1 = min(m.cx for m in markers)
    x2 = max(m.cx for m in markers)
    label_x, anchor = round(x2 + MARKER_SIZES["baseline"] + 6, 1), "start"
    if label_x + len(label) * SMALL_CHAR_WIDTH > right_edge:
        label_x, anchor = round(x1 - MARKER_SIZES["baseline"] - 6, 1), "end"
    return MilestoneMarks(
        markers=markers,
        x1=x1,
        x2=x2,
        y=row.mid,
        label=label,
        label_x=label_x,
        label_anchor=anchor,
        late=late,
    )


def clear_of_today(weeks: list[Band], today_x: float | None) -> list[Band]:
    """The week ticks with the labels that "Today" would cover left out."""
    if today_x is None:
        return weeks
    low, high = today_x - TODAY_LABEL_HALF_WIDTH, today_x + TODAY_LABEL_HALF_WIDTH
    return [
        replace(week, label="")
        if week.label and week.label_x < high and week.label_x + len(week.label) * 7 > low
        else week
        for week in weeks
    ]


def layout(
    *,
    milestones: Sequence[MilestoneIn],
    tasks: Sequence[TaskIn],
    links: Iterable[LinkIn] = (),
    today: date,
    extra_dates: Iterable[date | None] = (),
    working_weekdays: frozenset[int] = MONDAY_TO_FRIDAY,
    holidays: Iterable[date] = (),
) -> Chart:
    """Every shape of the Gantt chart. `milestones` in the order to draw them; `extra_dates`
    (e.g. the project's start and target) widen the span without drawing anything."""
    groups = group_rows(milestones, tasks)
    start, end = chart_span(milestones, tasks, today, extra_dates=extra_dates)
    scale = scale_for(start, end)
    width = LABEL_WIDTH + scale.width + PAD_RIGHT
    right_edge = width - 4

    rows: list[Row] = []
    bars: list[Bar] = []
    marks: list[MilestoneMarks] = []
    label_room = LABEL_WIDTH - 12
    for milestone, members in groups:
        y = row_y(len(rows))
        if milestone is None:
            header = Row(kind="group", y=y, label="Not in a milestone", title="Not in a milestone")
        else:
            tag = milestone.kind
            header = Row(
                kind="milestone",
                y=y,
                label=truncate(milestone.name, label_room - len(tag) * SMALL_CHAR_WIDTH - 8),
                title=f"{milestone.name} ({tag})" if tag else milestone.name,
                done=milestone.done,
                tag=tag,
            )
            mark = _marks_for(milestone, scale, header, right_edge)
            if mark is not None:
                marks.append(mark)
        rows.append(header)
        for task in members:
            row = Row(
                kind="task",
                y=row_y(len(rows)),
                label=truncate(task.title, label_room - INDENT),
                title=task.title,
                indent=INDENT,
                critical=task.critical,
                done=task.done,
                stripe=len(rows) % 2 == 0,
            )
            bar = _bar_for(task, scale, row, right_edge)
            if bar is None:
                row = replace(row, note="not scheduled yet")
            else:
                bars.append(bar)
            rows.append(row)

    today_x = scale.x_mid(today) if start <= today <= end else None
    return Chart(
        width=round(width, 1),
        height=row_y(len(rows)) + 8,
        start=start,
        end=end,
        day_width=scale.day_width,
        months=month_bands(scale),
        weeks=clear_of_today(week_ticks(scale), today_x),
        shades=non_working_runs(scale, working_weekdays=working_weekdays, holidays=holidays),
        rows=rows,
        bars=bars,
        milestones=marks,
        arrows=arrows_for(links, {bar.task_id: bar for bar in bars}),
        today_x=today_x,
        today=today if today_x is not None else None,
    )
