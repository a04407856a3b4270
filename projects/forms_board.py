"""Forms of the project board: filters, quick-add, the card panel, moves and dependencies.

Every form that names another object (a column, a card, a milestone, a person) is built
for one project and only offers, and only accepts, that project's objects.
"""

from dataclasses import dataclass

from django import forms
from django.db.models import Q

from projects.forms import person_label
from projects.models import Dependency, Milestone, Project, Task

LANES = {"assignee": "Assignee", "milestone": "Milestone"}


@dataclass(frozen=True)
class BoardFilters:
    """What the board shows, read from the query string. Values that do not parse are
    ignored rather than refused: a stale bookmark still opens the board."""

    q: str = ""
    assignee: str = ""  # a user id, "none" (unassigned) or "" (anyone)
    label: str = ""
    milestone: str = ""  # a milestone id, "none" or ""
    lanes: str = ""  # "", "assignee" or "milestone"

    @classmethod
    def from_query(cls, query) -> "BoardFilters":
        def id_or_none(name):
            value = query.get(name, "").strip()
            # An id as the database can hold it (bigint), "none", or nothing.
            return value if value == "none" or (value.isdigit() and len(value) < 19) else ""

        lanes = query.get("lanes", "")
        return cls(
            q=query.get("q", "").strip()[:200],
            assignee=id_or_none("assignee"),
            label=query.get("label", "").strip()[:30],
            milestone=id_or_none("milestone"),
            lanes=lanes if lanes in LANES else "",
        )

    @property
    def active(self) -> bool:
        """Whether some cards may be hidden."""
        return bool(self.q or self.assignee or self.label or self.milestone)

    def apply(self, tasks):
        if self.q:
            tasks = tasks.filter(Q(title__icontains=self.q) | Q(description__icontains=self.q))
        if self.assignee == "none":
            tasks = tasks.filter(assignee__isnull=True)
        elif self.assignee:
            tasks = tasks.filter(assignee_id=int(self.assignee))
        if self.label:
            tasks = tasks.filter(labels__contains=[self.label])
        if self.milestone == "none":
            tasks = tasks.filter(milestone__isnull=True)
        elif self.milestone:
            tasks = tasks.filter(milestone_id=int(self.milestone))
        return tasks


class QuickAddForm(forms.Form):
    title = forms.CharField(max_length=200, strip=True)
    # The swimlane the card was added in: its assignee or milestone ("none": no one).
    lane = forms.CharField(required=False, max_length=20)

    def __init__(self, *args, project: Project, people, lanes: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.project, self.people, self.lanes = project, people, lanes

    def clean_lane(self) -> dict:
        """The fields a card added in this lane gets, e.g. {"assignee": <User>}."""
        value = self.cleaned_data["lane"]
        if not self.lanes or not (value.isdigit() and len(value) < 19):
            return {}
        if self.lanes == "assignee":
            user = self.people.filter(pk=int(value)).first()
            if user is None:
                raise forms.ValidationError("That person is not on this project.")
            return {"assignee": user}
        milestone = self.project.milestones.filter(pk=int(value)).first()
        if milestone is None:
            raise forms.ValidationError("That milestone is not in this project.")
        return {"milestone": milestone}


class MoveForm(forms.Form):
    """Where a card goes: a column, and the card it now follows (none: the top). Forms
    without JavaScript may say `position=bottom` instead of naming a card."""

    column = forms.ModelChoiceField(queryset=None, empty_label=None)
    after = forms.ModelChoiceField(queryset=None, required=False)
    position = forms.ChoiceField(
        choices=[("top", "At the top"), ("bottom", "At the bottom")], required=False
    )

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["column"].queryset = project.columns.all()
        self.fields["after"].queryset = project.tasks.only("id", "column_id", "rank", "title")


ISO_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class TaskForm(forms.Form):
    """The card panel's edit form; `version` is the version the editor loaded."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    title = forms.CharField(max_length=200)
    description = forms.CharField(
        required=False,
        max_length=50_000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Markdown.",
    )
    assignee = forms.ModelChoiceField(queryset=None, required=False, empty_label="Unassigned")
    estimate_hours = forms.DecimalField(
        label="Estimate (hours)", min_value=0, max_digits=7, decimal_places=2, required=False
    )
    # A date input takes and gives ISO dates, whatever the locale's display format.
    start_date = forms.DateField(label="Start", required=False, widget=ISO_DATE)
    due_date = forms.DateField(label="Due", required=False, widget=ISO_DATE)
    milestone = forms.ModelChoiceField(queryset=None, required=False, empty_label="None")
    labels = forms.CharField(
        required=False,
        max_length=500,
        help_text="Comma-separated, e.g. network, change",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args, project: Project, people, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = people
        self.fields["assignee"].label_from_instance = person_label
        self.fields["milestone"].queryset = Milestone.objects.filter(project=project)
        self.fields["milestone"].label_from_instance = lambda milestone: milestone.name

    @classmethod
    def initial_for(cls, task: Task) -> dict:
        return {
            "version": task.version,
            "title": task.title,
            "description": task.description,
            "assignee": task.assignee_id,
            "estimate_hours": f"{task.estimate_hours.normalize():f}",
            "start_date": task.start_date,
            "due_date": task.due_date,
            "milestone": task.milestone_id,
            "labels": ", ".join(task.labels),
        }

    def clean_estimate_hours(self):
        value = self.cleaned_data["estimate_hours"]
        return 0 if value is None else value

    def clean_labels(self) -> list[str]:
        labels = []
        for label in self.cleaned_data["labels"].split(","):
            label = label.strip()
            if len(label) > 30:
                raise forms.ValidationError(f"“{label[:30]}…” is longer than 30 characters.")
            if label and label not in labels:
                labels.append(label)
        return labels

    def clean(self):
        data = super().clean()
        start, due = data.get("start_date"), data.get("due_date")
        if start and due and due < start:
            self.add_error("due_date", "The due date is before the start.")
        return data

    def changes(self) -> dict:
        """The task fields, as services.task_update takes them."""
        return {name: value for name, value in self.cleaned_data.items() if name != "version"}


class DependencyForm(forms.Form):
    """A link from the card in the panel to another card of the project."""

    direction = forms.ChoiceField(
        choices=[("waits", "Waits for"), ("blocks", "Blocks")], initial="waits"
    )
    other = forms.ModelChoiceField(queryset=None, label="Task", empty_label="Choose a task…")
    type = forms.ChoiceField(
        choices=Dependency.Type.choices, initial=Dependency.Type.FINISH_TO_START
    )
    lag_days = forms.IntegerField(
        label="Lag (working days)", initial=0, min_value=-365, max_value=365
    )

    def __init__(self, *args, task: Task, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["other"].queryset = (
            Task.objects.filter(project_id=task.project_id)
            .exclude(pk=task.pk)
            .only("id", "title", "project_id")
            .order_by("title", "id")
        )

    def link(self, task: Task) -> dict:
        """Keyword arguments for services.dependency_add."""
        other = self.cleaned_data["other"]
        waits = self.cleaned_data["direction"] == "waits"
        return {
            "predecessor": other if waits else task,
            "successor": task if waits else other,
            "type": self.cleaned_data["type"],
            "lag_days": self.cleaned_data["lag_days"],
        }
