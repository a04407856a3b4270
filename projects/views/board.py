"""The project board: columns with WIP limits, swimlanes, filters, quick-add, drag and
drop (and its keyboard twin), and the card panel.

Every view takes the project through projects.access and writes through
projects.services. The board is read by whoever may read the project page (agents and
project managers; stakeholders read the status page instead) and changed by those who
plan the project (projects.access.can_plan). One URL serves a full page without
JavaScript and an htmx fragment with it.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from html import escape  # the standard library's: Django's adds a lazy wrapper per call

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, F, Func, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from config.forms import add_service_errors
from projects import services
from projects.access import can_plan, get_project_page_for
from projects.exceptions import StaleTask
from projects.forms import person_label
from projects.forms_board import (
    LANES,
    BoardFilters,
    DependencyForm,
    MoveForm,
    QuickAddForm,
    TaskForm,
)
from projects.models import Column, Dependency, Milestone, Project, Task

STAFF_ONLY = "Boards are for agents and project managers."


def _vary_on_htmx(response):
    patch_vary_headers(response, ["HX-Request"])
    return response


# ---- Reads --------------------------------------------------------------------------


@dataclass(slots=True)
class Person:
    """Someone who may hold a card, as a card shows them."""

    pk: int
    name: str
    initials: str
    avatar: str  # the card's avatar, escaped once per person rather than once per card

    @classmethod
    def of(cls, user) -> "Person":
        name = person_label(user)
        parts = name.replace(".", " ").split()
        initials = (
            (parts[0][0] + (parts[-1][0] if len(parts) > 1 else "")).upper() if parts else "?"
        )
        label = escape(name)
        avatar = (
            f'<span class="avatar" role="img" aria-label="Assigned to {label}" title="{label}">'
            f"{escape(initials)}</span>"
        )
        return cls(user.pk, name, initials, avatar)


@dataclass(slots=True)
class Card:
    """What the board shows of a task: read as a plain row, not a model instance, since a
    board may hold a thousand of them."""

    pk: int
    column_id: int
    assignee_id: int | None
    milestone_id: int | None
    title: str
    labels: list[str]
    due_date: date | None
    estimate_hours: Decimal
    forecast_finish: date | None
    is_critical: bool
    completed_at: datetime | None
    person: Person | None = None

    @property
    def late(self) -> bool:
        """Forecast to finish after its due date, and not done yet."""
        return bool(
            self.due_date
            and self.forecast_finish
            and self.forecast_finish > self.due_date
            and self.completed_at is None
        )

    @classmethod
    def of(cls, task: Task, person: Person | None) -> "Card":
        values = [getattr(task, name) for name in CARD_FIELDS]
        return cls(*values, person=person)


CARD_FIELDS = (
    "id", "column_id", "assignee_id", "milestone_id", "title", "labels", "due_date",
    "estimate_hours", "forecast_finish", "is_critical", "completed_at",
)  # fmt: skip


def _day(day: date) -> str:
    return f"{day.day} {day:%b}"


def card_html(card: Card, board_url: str, *, oob: bool = False) -> SafeString:
    """One card's HTML: the title (a link to the card's page) and a line of labels,
    estimate, due date and assignee.

    Built here rather than in a template partial on purpose: a board of 1,000 cards must
    render in well under 80 ms, and Django's template engine spends about a hundred
    microseconds on a card (some twenty lookups, localisation, filters) where this takes
    a few. Every value a person typed goes through `escape`; the only markup is ours.
    """
    classes = "task-card"
    if card.is_critical:
        classes += " is-critical"
    if card.completed_at:
        classes += " is-done"
    meta = []
    if card.is_critical:
        meta.append('<span class="crit" title="On the critical path">Critical</span>')
    meta.extend(f'<span class="tag">{escape(label)}</span>' for label in card.labels)
    facts = []
    if card.estimate_hours:
        facts.append(
            f'<span class="est" title="Estimate">{card.estimate_hours.normalize():f} h</span>'
        )
    if card.due_date:
        due = _day(card.due_date)
        if card.late:
            facts.append(
                f'<span class="due is-late" title="Due {due}, forecast '
                f'{_day(card.forecast_finish)}"><span class="visually-hidden">Late: </span>'
                f"{due}</span>"
            )
        else:
            facts.append(f'<span class="due" title="Due">{due}</span>')
    if card.person:
        facts.append(card.person.avatar)
    if facts:
        meta.append(f'<span class="card-facts">{"".join(facts)}</span>')
    meta_html = f'<div class="card-meta">{"".join(meta)}</div>' if meta else ""
    return mark_safe(  # noqa: S308 - every value in it went through escape() above
        f'<li class="{classes}" id="card-{card.pk}" data-id="{card.pk}"{OOB if oob else ""}>'
        f'<a class="card-title" href="{board_url}tasks/{card.pk}/">{escape(card.title)}</a>'
        f"{meta_html}</li>"
    )


OOB = ' hx-swap-oob="true"'


@dataclass
class Cell:
    """The cards of one column in one swimlane."""

    column: Column
    lane: str
    cards: list[Card] = field(default_factory=list)
    board_url: str = ""

    @property
    def cards_html(self) -> SafeString:
        html = "".join(card_html(card, self.board_url) for card in self.cards)
        return mark_safe(html)  # noqa: S308 - a join of card_html's safe strings


@dataclass
class Lane:
    key: str  # "" without swimlanes; else a user or milestone id, or "none"
    title: str
    cells: list[Cell]

    @property
    def count(self) -> int:
        return sum(len(cell.cards) for cell in self.cells)


def people_of(project: Project):
    """Who may hold a card of `project`: its owner, its members and anyone who already
    holds one. One query, whatever the size of the board."""
    tasks = Task.objects.filter(project=project, assignee__isnull=False).values("assignee_id")
    return (
        get_user_model()
        .objects.filter(
            Q(pk=project.owner_id) | Q(pk__in=project.members.values("pk")) | Q(pk__in=tasks)
        )
        .order_by("first_name", "last_name", "username")
    )


def columns_with_counts(project: Project) -> list[Column]:
    """The board's columns in order, each with `card_count` (all its cards, whatever the
    filters: WIP is about the work, not the view) and `over_by`."""
    columns = list(project.columns.annotate(card_count=Count("tasks")).order_by("position", "id"))
    for column in columns:
        limit = column.wip_limit
        column.over_by = column.card_count - limit if limit is not None else 0
    return columns


def _labels_of(project: Project) -> list[str]:
    unnest = Func(F("labels"), function="unnest")
    return list(
        Task.objects.filter(project=project)
        .annotate(label=unnest)
        .values_list("label", flat=True)
        .distinct()
        .order_by("label")
    )


def _cards(project: Project, filters: BoardFilters, people: dict[int, Person], column=None):
    """The cards the filters let through, in board order."""
    tasks = filters.apply(Task.objects.filter(project=project))
    if column is not None:
        tasks = tasks.filter(column=column)
    rows = tasks.order_by("column_id", "rank", "id").values_list(*CARD_FIELDS)
    return [Card(*row, person=people.get(row[2])) for row in rows]


def _lane_key(card, lanes: str) -> str:
    if not lanes:
        return ""
    value = card.assignee_id if lanes == "assignee" else card.milestone_id
    return "none" if value is None else str(value)


def _lanes(columns, cards, filters: BoardFilters, people, milestones, board_url) -> list[Lane]:
    """Cards grouped into swimlanes and columns, in board order."""
    if filters.lanes == "assignee":
        order = [(str(p.pk), p.name) for p in people.values()] + [("none", "Unassigned")]
    elif filters.lanes == "milestone":
        order = [(str(m.pk), m.name) for m in milestones] + [("none", "No milestone")]
    else:
        order = [("", "")]
    lanes = {
        key: Lane(key, title, [Cell(column, key, board_url=board_url) for column in columns])
        for key, title in order
    }
    index = {column.pk: i for i, column in enumerate(columns)}
    for card in cards:
        if card.column_id not in index:
            continue  # a column added since the columns were read: the next load shows it
        key = _lane_key(card, filters.lanes)
        if key not in lanes:  # assigned, or given a milestone, since those were read
            lanes[key] = Lane(key, "Other", [Cell(c, key, board_url=board_url) for c in columns])
        lanes[key].cells[index[card.column_id]].cards.append(card)
    shown = [lane for lane in lanes.values() if lane.count]
    # An empty board (or view) still shows one lane, so there is somewhere to add a card.
    return shown or [lanes[order[-1][0]]]


def _board_url(project: Project) -> str:
    return reverse("projects:board", args=[project.key])


def _board_context(request, project: Project):
    filters = BoardFilters.from_query(request.GET)
    people = {user.pk: Person.of(user) for user in people_of(project)}
    milestones = list(project.milestones.all())
    columns = columns_with_counts(project)
    cards = _cards(project, filters, people)
    board_url = _board_url(project)
    return {
        "project": project,
        "writable": can_plan(request.user, project),
        "filters": filters,
        "lanes": _lanes(columns, cards, filters, people, milestones, board_url),
        "columns": columns,
        "shown": len(cards),
        "total": sum(column.card_count for column in columns),
        "people": people.values(),
        "milestones": milestones,
        "labels": _labels_of(project),
        "lane_choices": LANES,
        "board_url": board_url,
        "query": request.GET.urlencode(),
    }


def _task_of(project: Project, pk: int) -> Task:
    """A card of this project's board, or 404: a card id from another board is not here."""
    return get_object_or_404(
        Task.objects.filter(project=project).select_related("assignee", "milestone", "column"),
        pk=pk,
    )


@login_required
def board(request, key):
    """The board. With htmx, only the grid (after a refused move, to show the truth)."""
    project = get_project_page_for(request.user, key, refusal=STAFF_ONLY)
    context = _board_context(request, project)
    template = "projects/board.html#grid" if request.htmx else "projects/board.html"
    return _vary_on_htmx(render(request, template, context))


# ---- Moving cards -------------------------------------------------------------------


def _heads_response(request, project, message: str, *, status=200, cell_context=None):
    """The answer to an htmx write on the board: every column head (counts, WIP state)
    out of band and a line for the live region; with `cell_context`, a re-rendered cell
    first (quick-add)."""
    context = {
        "project": project,
        "columns": columns_with_counts(project),
        "message": message,
        "board_url": _board_url(project),
        "writable": True,
        **(cell_context or {}),
    }
    return render(request, "projects/board/heads_oob.html", context, status=status)


@login_required
@require_POST
def task_move(request, key, pk):
    """Drop a card: into `column`, just below `after` (none: the top). The card alone is
    written; htmx gets the column heads back, a plain form a redirect to the board."""
    project = get_project_page_for(request.user, key, refusal=STAFF_ONLY, write=True)
    task = get_object_or_404(Task.objects.filter(project=project), pk=pk)
    form = MoveForm(request.POST, project=project)
    error = None
    if form.is_valid():
        column = form.cleaned_data["column"]
        after = form.cleaned_data["after"]
        if after is None and form.cleaned_data["position"] == "bottom":
            after = column.tasks.exclude(pk=task.pk).order_by("-rank").first()
        if after is not None and after.pk == task.pk:
            after = None  # "below itself" means where it is: the top of the rest, here
        try:
            services.task_move(task=task, column=column, after=after, actor=request.user)
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = " ".join(message for errors in form.errors.values() for message in errors)
    if request.htmx:
        if error:
            return _heads_response(request, project, f"Not moved: {error}", status=400)
        where = column.name if after is None else f"{column.name}, below “{after.title}”"
        return _heads_response(request, project, f"Moved “{task.title}” to {where}.")
    if error:
        messages.error(request, f"“{task.title}” was not moved: {error}")
    else:
        messages.success(request, f"Moved “{task.title}” to {column.name}.")
    return redirect(f"{_board_url(project)}#card-{task.pk}")


# ---- Quick-add ----------------------------------------------------------------------


@login_required
@require_POST
def quick_add(request, key, column_id):
    """A card with only a title at the bottom of a column (in the swimlane it was typed
    in). htmx gets that column's cell back, with the filters of the page it came from."""
    project = get_project_page_for(request.user, key, refusal=STAFF_ONLY, write=True)
    column = get_object_or_404(Column, project=project, pk=column_id)
    filters = BoardFilters.from_query(request.GET)
    people = people_of(project)
    form = QuickAddForm(request.POST, project=project, people=people, lanes=filters.lanes)
    task = None
    if form.is_valid():
        try:
            task = services.task_create(
                project=project,
                title=form.cleaned_data["title"],
                column=column,
                actor=request.user,
                **form.cleaned_data["lane"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
    lane = request.POST.get("lane", "")
    if request.htmx:
        person_by_id = {user.pk: Person.of(user) for user in people}
        cards = [
            card
            for card in _cards(project, filters, person_by_id, column=column)
            if _lane_key(card, filters.lanes) == lane
        ]
        cell = Cell(column, lane, cards, board_url=_board_url(project))
        # On success a fresh, focused field for the next title; on error the typed one.
        cell_context = {
            "cell": cell,
            "add_form": None if task else form,
            "refocus": True,
            "filters": filters,
            "query": request.GET.urlencode(),
        }
        if task is None:
            message = "Not added: " + " ".join(
                message for errors in form.errors.values() for message in errors
            )
            return _heads_response(request, project, message, status=400, cell_context=cell_context)
        return _heads_response(
            request, project, f"Added “{task.title}” to {column.name}.", cell_context=cell_context
        )
    if task is None:
        messages.error(request, "Give the card a title (up to 200 characters).")
        return redirect(_board_url(project))
    messages.success(request, f"Added “{task.title}” to {column.name}.")
    return redirect(f"{_board_url(project)}?{request.GET.urlencode()}#card-{task.pk}")


# ---- The card panel -----------------------------------------------------------------


def _panel_context(request, project, task, *, writable, **overrides):
    people = people_of(project)
    links = Dependency.objects.filter(Q(successor=task) | Q(predecessor=task)).select_related(
        "predecessor", "successor"
    )
    context = {
        "project": project,
        "task": task,
        "writable": writable,
        "board_url": _board_url(project),
        "waits_for": [link for link in links if link.successor_id == task.pk],
        "blocks": [link for link in links if link.predecessor_id == task.pk],
        "conflict": None,
        "saved": False,
    }
    if writable:
        context["form"] = TaskForm(
            initial=TaskForm.initial_for(task), project=project, people=people
        )
        context["dependency_form"] = DependencyForm(task=task)
        context["move_form"] = MoveForm(
            initial={"column": task.column_id, "position": "bottom"}, project=project
        )
    context.update(overrides)
    return context


def _panel(request, context, *, status=200):
    """The panel: a fragment for htmx (with the card out of band, so the board shows the
    edit), the card's own page otherwise."""
    if request.htmx:
        if context.get("saved"):
            task = context["task"]
            person = Person.of(task.assignee) if task.assignee_id else None
            context["card_html"] = card_html(Card.of(task, person), context["board_url"], oob=True)
        template = "projects/board_task.html#panel"
    else:
        template = "projects/board_task.html"
    return _vary_on_htmx(render(request, template, context, status=status))


@login_required
def task_panel(request, key, pk):
    """Read a card; with `can_plan`, edit it. A stale `version` answers 409 with the
    draft kept and what is stored now beside it."""
    project = get_project_page_for(
        request.user, key, refusal=STAFF_ONLY, write=request.method == "POST"
    )
    task = _task_of(project, pk)
    if request.method != "POST":
        writable = can_plan(request.user, project)
        return _panel(request, _panel_context(request, project, task, writable=writable))
    form = TaskForm(request.POST, project=project, people=people_of(project))
    if not form.is_valid():
        context = _panel_context(request, project, task, writable=True, form=form)
        return _panel(request, context, status=400)
    try:
        task = services.task_update(
            task=task, actor=request.user, version=form.cleaned_data["version"], **form.changes()
        )
    except StaleTask as exc:
        current = _task_of(project, exc.current.pk)
        draft = request.POST.copy()
        draft["version"] = current.version  # saving again overwrites, knowingly
        kept = TaskForm(draft, project=project, people=people_of(project))
        kept.is_valid()
        conflict = _differences(kept, current)
        context = _panel_context(
            request, project, current, writable=True, form=kept, conflict=conflict
        )
        return _panel(request, context, status=409)
    except ValidationError as exc:
        add_service_errors(form, exc)
        context = _panel_context(request, project, task, writable=True, form=form)
        return _panel(request, context, status=400)
    task = _task_of(project, task.pk)
    if not request.htmx:
        messages.success(request, "Saved.")
        return redirect("projects:board_task", project.key, task.pk)
    return _panel(request, _panel_context(request, project, task, writable=True, saved=True))


def _differences(form: TaskForm, current: Task) -> list[tuple[str, str]]:
    """(field label, what is stored now) for each field where the kept draft and the
    stored card differ: what the other person changed, or what this editor is about to."""

    def shown(value) -> str:
        if value is None or value == "" or value == []:
            return "—"
        if isinstance(value, list):
            return ", ".join(value)
        if hasattr(value, "get_username"):
            return person_label(value)
        if isinstance(value, Decimal):
            return f"{value.normalize():f}"
        if isinstance(value, date):
            return value.strftime("%-d %b %Y")
        if isinstance(value, Milestone):
            return value.name
        return str(value)

    rows = []
    for name, value in form.changes().items():
        now = getattr(current, name)
        if value != now:
            rows.append(
                (form.fields[name].label or name.replace("_", " ").capitalize(), shown(now))
            )
    return rows


@login_required
@require_POST
def dependency_add(request, key, pk):
    project = get_project_page_for(request.user, key, refusal=STAFF_ONLY, write=True)
    task = _task_of(project, pk)
    form = DependencyForm(request.POST, task=task)
    if form.is_valid():
        try:
            services.dependency_add(actor=request.user, **form.link(task))
        except ValidationError as exc:
            # A loop comes back naming its tasks: "That would make a loop: A → B → A."
            form.add_error("other", exc.messages)
    if form.errors:
        context = _panel_context(request, project, task, writable=True, dependency_form=form)
        return _panel(request, context, status=400)
    if not request.htmx:
        messages.success(request, "Dependency added.")
        return redirect("projects:board_task", project.key, task.pk)
    return _panel(request, _panel_context(request, project, task, writable=True))


@login_required
@require_POST
def dependency_remove(request, key, pk, dependency_pk):
    project = get_project_page_for(request.user, key, refusal=STAFF_ONLY, write=True)
    task = _task_of(project, pk)
    link = get_object_or_404(
        Dependency.objects.filter(Q(successor=task) | Q(predecessor=task)), pk=dependency_pk
    )
    services.dependency_remove(dependency=link, actor=request.user)
    if not request.htmx:
        messages.success(request, "Dependency removed.")
        return redirect("projects:board_task", project.key, task.pk)
    return _panel(request, _panel_context(request, project, task, writable=True))
