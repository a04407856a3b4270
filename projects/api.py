"""Projects API: projects, milestones, tasks and status updates (API.md).

Who reads what:
- projects, milestones, status updates: `Project.objects.visible_to(user)`, the status
  page's rule. Agents and project managers read every project; anyone else (a
  stakeholder) the public ones and those they are a stakeholder of.
- tasks: the board's people only: agents and project managers, plus a project's owner and
  members. Stakeholders read what a status page shows (health, milestones, forecasts,
  updates), and the board is not on it: they get an empty list and 404s.
Who writes: `can_plan` (the owner, the team, project managers); a reader who may not plan
gets 403; an object the caller may not read is 404 whether or not it exists; anonymous
callers 401. Every write goes through projects.services, so the slip, the outbox event
and the recomputed forecasts happen exactly as they do from the pages.

Not offered, on purpose: PUT (edits are PATCH), DELETE (milestones, tasks and updates are
history; there is no service that deletes them), PATCH of a status update (published
updates are immutable: a correction is a new one). Those answer 405.
"""

from collections.abc import Mapping
from datetime import date

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count, IntegerField, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from config.api import CursorPagination
from config.filters import MAX_ID
from config.roles import is_staff_role
from projects import services
from projects.access import can_plan
from projects.exceptions import StaleTask
from projects.filters import MilestoneFilter, ProjectFilter, StatusUpdateFilter, TaskFilter
from projects.models import Column, Dependency, Milestone, Project, StatusUpdate, Task
from projects.selectors import expected_date

# Task.version is a PostgreSQL integer.
MAX_VERSION = 2**31 - 1
MAX_TEXT = 100_000
MAX_DEPENDENCIES = 500
# Dates people give: wide enough for any plan, narrow enough that a typo such as 0202
# cannot stretch a timeline over eighteen centuries.
FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2099, 12, 31)
# The stakeholder status page, as API.md promises it. A path, not a URL name: projects
# knows nothing of the liaison app that serves it.
STATUS_PAGE_PATH = "/status/{slug}/"


def _plan_or_403(user, project: Project) -> None:
    if not can_plan(user, project):
        raise PermissionDenied("You may read this project but not change its plan.")


def _id_or_404(pk: str, what: str) -> int:
    """The id in the URL, refused as 404 before the database can choke on it."""
    if not (pk.isascii() and pk.isdigit() and len(pk) <= 18):
        raise NotFound(f"No such {what}")
    return int(pk)


class StrictInputMixin:
    """Refuse keys an endpoint does not take, instead of silently dropping what the client
    meant to change; `readable` names the fields that exist but are not set here."""

    readable: frozenset[str] = frozenset()
    ignored_keys = frozenset({"csrfmiddlewaretoken"})

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields) - self.ignored_keys)
            if unknown:
                raise serializers.ValidationError(
                    {
                        key: [
                            "This field cannot be set here."
                            if key in self.readable
                            else "Unknown field."
                        ]
                        for key in unknown
                    }
                )
        return super().to_internal_value(data)


class PlanDateField(serializers.DateField):
    """An ISO 8601 date within FIRST_DATE..LAST_DATE."""

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not FIRST_DATE <= day <= LAST_DATE:
            raise serializers.ValidationError(
                f"Give a date between {FIRST_DATE.isoformat()} and {LAST_DATE.isoformat()}."
            )
        return day


# --- Projects -------------------------------------------------------------------------------


def projects_for_api(user):
    """The projects `user` may read, with the latest milestone forecast of each."""
    latest = (
        Milestone.objects.filter(project=OuterRef("pk"))
        .order_by()
        .values("project")
        .annotate(latest=Max(expected_date()))
        .values("latest")
    )
    return (
        Project.objects.visible_to(user)
        .annotate(latest_forecast=Subquery(latest))
        .prefetch_related("queues")  # helpdesk.Queue.projects, read by `queues`
    )


class ProjectSerializer(serializers.ModelSerializer):
    owner = serializers.PrimaryKeyRelatedField(read_only=True, help_text="The PM's user id.")
    liaison = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The help desk agent who speaks for it."
    )
    queues = serializers.SerializerMethodField(
        help_text="Ids of the help desk queues the project affects."
    )
    forecast_date = serializers.DateField(
        source="latest_forecast",
        read_only=True,
        allow_null=True,
        help_text="When the last milestone is expected: the latest milestone forecast (a "
        "milestone's target until its forecast is computed); null without milestones.",
    )
    status_page_url = serializers.SerializerMethodField(
        help_text="The stakeholder status page; who may open it follows `visibility`."
    )

    class Meta:
        model = Project
        fields = [
            "id",
            "key",
            "name",
            "slug",
            "description",
            "status",
            "health",
            "owner",
            "liaison",
            "queues",
            "start_date",
            "target_date",
            "forecast_date",
            "visibility",
            "status_page_url",
            "archived_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "array", "items": {"type": "integer"}})
    def get_queues(self, project) -> list[int]:
        # The reverse of helpdesk.Queue.projects, prefetched by projects_for_api.
        return sorted(queue.pk for queue in project.queues.all())

    def get_status_page_url(self, project) -> str:
        path = STATUS_PAGE_PATH.format(slug=project.slug)
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class ProjectViewSet(viewsets.ReadOnlyModelViewSet):
    """Projects the caller may read, newest first. Read-only here: projects are created and
    edited on their pages."""

    serializer_class = ProjectSerializer
    filterset_class = ProjectFilter
    pagination_class = CursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Project.objects.none()
        return projects_for_api(self.request.user)

    def get_object(self):
        pk = _id_or_404(self.kwargs["pk"], "project")
        project = self.get_queryset().filter(pk=pk).first()
        if project is None:
            raise NotFound("No such project")
        return project


# --- Milestones -----------------------------------------------------------------------------


class MilestoneSerializer(serializers.ModelSerializer):
    project = serializers.PrimaryKeyRelatedField(read_only=True)
    slip_days = serializers.IntegerField(
        read_only=True,
        help_text="Days the expected date (forecast, else target) lies after the baseline.",
    )

    class Meta:
        model = Milestone
        fields = [
            "id",
            "project",
            "name",
            "kind",
            "baseline_date",
            "target_date",
            "forecast_date",
            "completed_at",
            "slip_days",
        ]
        read_only_fields = fields


class MilestoneCreateSerializer(StrictInputMixin, serializers.Serializer):
    """POST /milestones/: a new commitment; its baseline is its first target, for good."""

    readable = frozenset(MilestoneSerializer.Meta.fields)

    project = serializers.PrimaryKeyRelatedField(
        queryset=Project.objects.none(), help_text="Id of a project you plan."
    )
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Milestone.Kind.choices, default=Milestone.Kind.REGULAR)
    target_date = PlanDateField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["project"].queryset = Project.objects.visible_to(request.user)


REASON_REQUIRED = "Say why the date moves; the help desk will read it."


class MilestoneRescheduleSerializer(StrictInputMixin, serializers.Serializer):
    """PATCH /milestones/{id}/: move the target date. The move is recorded as a slip (old,
    new, reason, who) and announced to the help desk; the baseline never moves."""

    readable = frozenset(MilestoneSerializer.Meta.fields)

    target_date = PlanDateField(help_text="The new target date.")
    reason = serializers.CharField(
        max_length=2000,
        help_text="Why it moves. Required: agents read it out to callers.",
        error_messages={"required": REASON_REQUIRED, "blank": REASON_REQUIRED},
    )


class MilestoneViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Milestones of the projects the caller may read, newest first."""

    serializer_class = MilestoneSerializer
    filterset_class = MilestoneFilter
    pagination_class = CursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Milestone.objects.none()
        return Milestone.objects.filter(project__in=Project.objects.visible_to(self.request.user))

    def get_object(self):
        pk = _id_or_404(self.kwargs["pk"], "milestone")
        milestone = (
            Milestone.objects.filter(
                pk=pk, project__in=Project.objects.visible_to(self.request.user)
            )
            .select_related("project")
            .first()
        )
        if milestone is None:
            raise NotFound("No such milestone")
        if self.request.method not in SAFE_METHODS:
            _plan_or_403(self.request.user, milestone.project)
        return milestone

    @extend_schema(request=MilestoneCreateSerializer, responses={201: MilestoneSerializer})
    def create(self, request, *args, **kwargs):
        form = MilestoneCreateSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        project = form.validated_data.pop("project")
        _plan_or_403(request.user, project)
        milestone = services.milestone_create(
            project=project, actor=request.user, **form.validated_data
        )
        milestone.refresh_from_db()  # the forecast the scheduler just computed
        return Response(
            MilestoneSerializer(milestone).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:milestone-detail", args=[milestone.pk])},
        )

    @extend_schema(request=MilestoneRescheduleSerializer, responses={200: MilestoneSerializer})
    def partial_update(self, request, *args, **kwargs):
        milestone = self.get_object()
        form = MilestoneRescheduleSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        milestone = services.milestone_reschedule(
            milestone=milestone, actor=request.user, **form.validated_data
        )
        return Response(MilestoneSerializer(milestone).data)


# --- Tasks ----------------------------------------------------------------------------------


def tasks_for_api(user):
    """The tasks `user` may read, with each one's place in its column and its links."""
    tasks = Task.objects.visible_to(user)
    if not is_staff_role(user):
        planned = Project.objects.filter(Q(owner=user) | Q(members=user)).values("pk")
        tasks = tasks.filter(project__in=planned)
    # The card's place in its column: how many cards sort above it (rank, then id), counted
    # on the (column, rank) index. Computed, so a move still writes the one card.
    above = (
        Task.objects.filter(column=OuterRef("column"))
        .filter(Q(rank__lt=OuterRef("rank")) | Q(rank=OuterRef("rank"), pk__lt=OuterRef("pk")))
        .order_by()
        .values("column")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return tasks.annotate(
        position=Coalesce(Subquery(above, output_field=IntegerField()), 0)
    ).prefetch_related("predecessor_links")


class DependencySerializer(serializers.ModelSerializer):
    """One thing this task waits for."""

    task = serializers.IntegerField(source="predecessor_id", help_text="The task waited for.")

    class Meta:
        model = Dependency
        fields = ["task", "type", "lag_days"]
        read_only_fields = fields


class TaskSerializer(serializers.ModelSerializer):
    project = serializers.PrimaryKeyRelatedField(read_only=True)
    milestone = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    column = serializers.PrimaryKeyRelatedField(read_only=True, help_text="Board column id.")
    position = serializers.IntegerField(
        read_only=True,
        help_text="The card's place in its column, 0 at the top. Send it (with or without "
        "`column`) to move the card; no other card is renumbered.",
    )
    assignee = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    estimate_hours = serializers.DecimalField(
        max_digits=7, decimal_places=2, coerce_to_string=False, read_only=True
    )
    depends_on = serializers.SerializerMethodField(help_text="Ids of the tasks this one waits for.")
    dependencies = serializers.SerializerMethodField(
        help_text="The same links with their type (FS, SS, FF, SF) and lag in working days."
    )

    class Meta:
        model = Task
        fields = [
            "id",
            "project",
            "milestone",
            "title",
            "description",
            "column",
            "position",
            "assignee",
            "estimate_hours",
            "start_date",
            "due_date",
            "labels",
            "depends_on",
            "dependencies",
            "forecast_start",
            "forecast_finish",
            "is_critical",
            "completed_at",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @staticmethod
    def _links(task):
        return sorted(task.predecessor_links.all(), key=lambda link: link.predecessor_id)

    @extend_schema_field({"type": "array", "items": {"type": "integer"}})
    def get_depends_on(self, task) -> list[int]:
        return [link.predecessor_id for link in self._links(task)]

    @extend_schema_field(DependencySerializer(many=True))
    def get_dependencies(self, task):
        return DependencySerializer(self._links(task), many=True).data


class TaskInputSerializer(StrictInputMixin, serializers.Serializer):
    """What POST and PATCH /tasks/ take. Column, milestone and dependencies must belong to
    the task's project; a dependency that would close a loop is refused, naming it."""

    readable = frozenset(TaskSerializer.Meta.fields)

    title = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, max_length=MAX_TEXT, required=False)
    column = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text="Board column id; a new task goes to the first column by default.",
    )
    position = serializers.IntegerField(
        min_value=0,
        max_value=MAX_VERSION,
        required=False,
        help_text="Place in the column, 0 at the top; past the end means the bottom.",
    )
    milestone = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, allow_null=True, required=False
    )
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        allow_null=True,
        required=False,
        help_text="User id; null to unassign.",
    )
    estimate_hours = serializers.DecimalField(
        max_digits=7, decimal_places=2, min_value=0, required=False
    )
    start_date = PlanDateField(allow_null=True, required=False, help_text="Not before this day.")
    due_date = PlanDateField(allow_null=True, required=False)
    labels = serializers.ListField(
        child=serializers.CharField(max_length=30), max_length=20, required=False
    )
    depends_on = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        max_length=MAX_DEPENDENCIES,
        required=False,
        help_text="The complete list of task ids this one waits for (finish to start); "
        "links already there keep their type and lag, the others are removed.",
    )

    def __init__(self, *args, project=None, task=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.task = task

    def validate(self, attrs):
        project = self.project or attrs.get("project")
        if "column" in attrs:
            column = Column.objects.filter(project=project, pk=attrs["column"]).first()
            if column is None:
                raise DRFValidationError({"column": ["Choose a column of this project's board."]})
            attrs["column"] = column
        if attrs.get("milestone") is not None:
            milestone = Milestone.objects.filter(project=project, pk=attrs["milestone"]).first()
            if milestone is None:
                raise DRFValidationError({"milestone": ["Choose a milestone of this project."]})
            attrs["milestone"] = milestone
        start = attrs.get("start_date", getattr(self.task, "start_date", None))
        due = attrs.get("due_date", getattr(self.task, "due_date", None))
        if start and due and due < start:
            field = "due_date" if "due_date" in attrs else "start_date"
            raise DRFValidationError({field: ["The due date cannot be before the start date."]})
        if "depends_on" in attrs:
            attrs["depends_on"] = self._predecessors(project, attrs["depends_on"])
        return attrs

    def _predecessors(self, project, ids: list[int]) -> list[Task]:
        wanted = list(dict.fromkeys(ids))  # once each, in the order given
        if self.task is not None and self.task.pk in wanted:
            raise DRFValidationError({"depends_on": ["A task cannot depend on itself."]})
        found = {t.pk: t for t in Task.objects.filter(project=project, pk__in=wanted)}
        missing = [pk for pk in wanted if pk not in found]
        if missing:
            listed = ", ".join(str(pk) for pk in missing)
            raise DRFValidationError({"depends_on": [f"No task {listed} in this project."]})
        return [found[pk] for pk in wanted]


class TaskCreateSerializer(TaskInputSerializer):
    """POST /tasks/: a new card at the bottom of its column (or at `position`)."""

    project = serializers.PrimaryKeyRelatedField(
        queryset=Project.objects.none(), help_text="Id of a project you plan."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["project"].queryset = Project.objects.visible_to(request.user)


class TaskUpdateSerializer(TaskInputSerializer):
    """PATCH /tasks/{id}/: change a card at the version you last read."""

    version = serializers.IntegerField(
        min_value=1,
        max_value=MAX_VERSION,
        help_text="The `version` you last read. If the task has changed since, nothing is "
        "written and the answer is 409 with the current task. It moves on when the card's "
        "own fields change; a move or a change of `depends_on` is checked against it but, "
        "as on the board, writes the card's place or links only.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["title"].required = False


class TaskConflictSerializer(serializers.Serializer):
    """The answer to a PATCH with a stale `version`."""

    detail = serializers.CharField()
    current = TaskSerializer(help_text="The task as it is now; reapply your change to it.")


def _link_errors(error: DjangoValidationError) -> DRFValidationError:
    """A refused dependency, reported under the field the client sent: `depends_on`."""
    if hasattr(error, "error_dict"):
        messages = [message for found in error.message_dict.values() for message in found]
    else:
        messages = error.messages
    return DRFValidationError({"depends_on": messages})


def _set_dependencies(task: Task, predecessors: list[Task], actor) -> None:
    """Make `predecessors` exactly what `task` waits for, through the services: links kept
    keep their type and lag, new ones are finish-to-start, loops are refused."""
    current = {link.predecessor_id: link for link in Dependency.objects.filter(successor=task)}
    wanted = {t.pk for t in predecessors}
    try:
        for pk, link in current.items():
            if pk not in wanted:
                services.dependency_remove(dependency=link, actor=actor)
        for predecessor in predecessors:
            if predecessor.pk not in current:
                services.dependency_add(predecessor=predecessor, successor=task, actor=actor)
    except DjangoValidationError as error:
        raise _link_errors(error) from None


def _move(task: Task, column: Column | None, position: int | None, actor) -> None:
    """Put the card at `position` (0: the top; None: the bottom) of `column` (None: its own)."""
    column = column or task.column
    others = Task.objects.filter(column=column).exclude(pk=task.pk)
    if position == 0:
        after = None
    elif position is None:
        after = others.order_by("-rank", "-pk").first()
    else:
        after = others.order_by("rank", "pk")[position - 1 : position].first()
        if after is None:  # past the end: the bottom
            after = others.order_by("-rank", "-pk").first()
    services.task_move(task=task, column=column, after=after, actor=actor)


class TaskViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Tasks (board cards) of the projects the caller plans or works on, newest first."""

    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    pagination_class = CursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Task.objects.none()
        return tasks_for_api(self.request.user)

    def get_object(self):
        pk = _id_or_404(self.kwargs["pk"], "task")
        task = self.get_queryset().select_related("project", "column").filter(pk=pk).first()
        if task is None:
            raise NotFound("No such task")
        if self.request.method not in SAFE_METHODS:
            _plan_or_403(self.request.user, task.project)
        return task

    def _current(self, task: Task) -> dict:
        """The task re-read with everything its representation needs."""
        return TaskSerializer(self.get_queryset().get(pk=task.pk)).data

    @extend_schema(request=TaskCreateSerializer, responses={201: TaskSerializer})
    def create(self, request, *args, **kwargs):
        form = TaskCreateSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        project = data.pop("project")
        _plan_or_403(request.user, project)
        predecessors = data.pop("depends_on", None)
        position = data.pop("position", None)
        with transaction.atomic():
            task = services.task_create(project=project, actor=request.user, **data)
            if predecessors:
                _set_dependencies(task, predecessors, request.user)
            if position is not None:
                _move(task, task.column, position, request.user)
        return Response(
            self._current(task),
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:task-detail", args=[task.pk])},
        )

    @extend_schema(
        request=TaskUpdateSerializer,
        responses={
            200: TaskSerializer,
            409: OpenApiResponse(
                TaskConflictSerializer, description="`version` is stale; nothing was written."
            ),
        },
    )
    def partial_update(self, request, *args, **kwargs):
        task = self.get_object()
        form = TaskUpdateSerializer(data=request.data, project=task.project, task=task)
        form.is_valid(raise_exception=True)
        changes = dict(form.validated_data)
        version = changes.pop("version")
        predecessors = changes.pop("depends_on", None)
        moving = "column" in changes or "position" in changes
        column = changes.pop("column", None)
        position = changes.pop("position", None)
        if column is not None and column.pk == task.column_id and position is None:
            moving = False  # already in that column: stays where it is
        try:
            # One transaction: the version check covers every part of the change, and a
            # refused part (a loop, say) undoes the others.
            with transaction.atomic():
                current = Task.objects.select_for_update().get(pk=task.pk)
                if current.version != version:
                    raise StaleTask(current)
                current.project = task.project
                if changes:
                    current = services.task_update(
                        task=current, actor=request.user, version=version, **changes
                    )
                if moving:
                    current.column = column or task.column
                    _move(current, column, position, request.user)
                if predecessors is not None:
                    _set_dependencies(current, predecessors, request.user)
        except StaleTask as stale:
            now = stale.current.version
            return Response(
                {
                    "detail": f"This task was changed by someone else: you sent version "
                    f"{version}, it is now at version {now}. Nothing was written; reapply "
                    f"your change to `current` and send version {now}.",
                    "current": self._current(task),
                },
                status=status.HTTP_409_CONFLICT,
            )
        return Response(self._current(task))


# --- Status updates -------------------------------------------------------------------------


class StatusUpdateSerializer(serializers.ModelSerializer):
    project = serializers.PrimaryKeyRelatedField(read_only=True)
    author = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The user who published it."
    )
    author_name = serializers.SerializerMethodField()

    class Meta:
        model = StatusUpdate
        fields = ["id", "project", "health", "summary", "created_at", "author", "author_name"]
        read_only_fields = fields

    def get_author_name(self, update) -> str:
        if update.author is None:
            return ""
        return update.author.get_full_name() or update.author.get_username()


class StatusUpdateCreateSerializer(StrictInputMixin, serializers.Serializer):
    """POST /status-updates/: publish the project's word of the week. Immutable once
    published; the project's health follows it."""

    readable = frozenset(StatusUpdateSerializer.Meta.fields)

    project = serializers.PrimaryKeyRelatedField(
        queryset=Project.objects.none(), help_text="Id of a project you plan."
    )
    health = serializers.ChoiceField(choices=Project.Health.choices)
    summary = serializers.CharField(
        max_length=MAX_TEXT, help_text="Markdown: what happened, what comes next."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["project"].queryset = Project.objects.visible_to(request.user)


class StatusUpdateViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Status updates of the projects the caller may read, newest first."""

    serializer_class = StatusUpdateSerializer
    filterset_class = StatusUpdateFilter
    pagination_class = CursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return StatusUpdate.objects.none()
        return StatusUpdate.objects.filter(
            project__in=Project.objects.visible_to(self.request.user)
        ).select_related("author")

    def get_object(self):
        pk = _id_or_404(self.kwargs["pk"], "status update")
        update = self.get_queryset().filter(pk=pk).first()
        if update is None:
            raise NotFound("No such status update")
        return update

    @extend_schema(request=StatusUpdateCreateSerializer, responses={201: StatusUpdateSerializer})
    def create(self, request, *args, **kwargs):
        form = StatusUpdateCreateSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        project = form.validated_data.pop("project")
        _plan_or_403(request.user, project)
        update = services.status_update_publish(
            project=project, actor=request.user, **form.validated_data
        )
        return Response(
            StatusUpdateSerializer(update).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:statusupdate-detail", args=[update.pk])},
        )
