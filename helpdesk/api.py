"""Help desk API: thin viewsets over `visible_to`; every write goes through services.

Access is the pages' access: a ticket comes through `get_ticket_for`, so a caller who may
not see it gets 404 whether or not it exists, and one who may only read it gets 403 on a
write. Lists are `visible_to(user)`: empty for anyone who works in no queue.

The requester's secret link (`/t/<secret>/`) is deliberately not a field: it is a
credential that lets anyone read and answer the ticket, and API responses end up in logs,
scripts and third-party tools. The caller receives it by e-mail; an agent who must read it
out finds it on the ticket page.
"""

import functools
from collections.abc import Mapping
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.contrib.postgres.expressions import ArraySubquery
from django.db import transaction
from django.db.models import CharField, Func, OuterRef
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from config.api import CursorPagination
from config.roles import is_agent
from helpdesk import services
from helpdesk.access import get_ticket_for
from helpdesk.filters import TicketFilter
from helpdesk.models import Queue, Tag, Ticket, TicketEvent
from projects.models import Milestone, Project

# Ticket.version is a PostgreSQL integer.
MAX_VERSION = 2**31 - 1
MAX_TEXT = 100_000


class QueueSerializer(serializers.ModelSerializer):
    class Meta:
        model = Queue
        fields = ["id", "name", "slug", "key", "is_public"]


class QueueViewSet(viewsets.ReadOnlyModelViewSet):
    """The queues the caller is a member of (all of them for administrators)."""

    serializer_class = QueueSerializer
    filterset_fields = ["is_public"]

    def get_queryset(self):
        return Queue.objects.visible_to(self.request.user)


# --- Pagination ---------------------------------------------------------------------------


class TimelinePagination(CursorPagination):
    """A ticket's timeline reads oldest first, as on the ticket page."""

    ordering = "id"


# --- Serializers --------------------------------------------------------------------------


class StrictInputMixin:
    """Refuse keys an endpoint does not take, instead of silently dropping what the client
    meant to change."""

    ignored_keys = frozenset({"csrfmiddlewaretoken"})

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields) - self.ignored_keys)
            if unknown:
                readable = set(TicketSerializer.Meta.fields)
                raise serializers.ValidationError(
                    {
                        key: [
                            "This field cannot be set here."
                            if key in readable
                            else "Unknown field."
                        ]
                        for key in unknown
                    }
                )
        return super().to_internal_value(data)


class TicketSerializer(serializers.ModelSerializer):
    """A ticket as the API shows it; every field is read-only (writes have their own
    request bodies)."""

    reference = serializers.CharField(read_only=True, help_text="`<QUEUE KEY>-<number>`.")
    queue = serializers.PrimaryKeyRelatedField(read_only=True)
    assignee = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    project = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    milestone = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    requester_email = serializers.EmailField(source="requester.email", read_only=True)
    requester_name = serializers.CharField(source="requester.name", read_only=True)
    tags = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="name", help_text="Tag names."
    )

    class Meta:
        model = Ticket
        fields = [
            "id",
            "reference",
            "queue",
            "subject",
            "description",
            "status",
            "priority",
            "type",
            "assignee",
            "requester_email",
            "requester_name",
            "project",
            "milestone",
            "tags",
            "source",
            "created_at",
            "updated_at",
            "first_response_due",
            "resolution_due",
            "version",
        ]
        read_only_fields = fields


# The list reads its columns as plain values and builds each row as TicketSerializer would.
# Through the serializer a page of 50 tickets costs some 10 ms of Python (a model instance
# per ticket, queue, requester and tag, then twenty field objects per row); read as values
# it costs about 1 ms, and the list is the endpoint scripts poll. A test holds the two
# representations equal, field for field.
_LIST_DATETIMES = ("created_at", "updated_at", "first_response_due", "resolution_due")


class _UtcText(Func):
    """A timestamptz as UTC text (`2026-11-22T04:18:05.482186`), for `fromisoformat`.

    The ORM loads each timestamp through a Python-level loader that costs several
    microseconds; the four on each of 50 rows were a sixth of the list's time. Text
    parsed by the C `datetime.fromisoformat` is the same instant at a fraction of it."""

    template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    output_field = CharField()


def ticket_list_values(tickets):
    """`tickets` as the dicts `ticket_list_rows` reads: one query, the tags as an array."""
    tag_names = Tag.objects.filter(tickets=OuterRef("pk")).order_by("name").values("name")
    return tickets.values(
        "id",
        "queue_id",
        "queue__key",
        "number",
        "subject",
        "description",
        "status",
        "priority",
        "type",
        "assignee_id",
        "requester__email",
        "requester__name",
        "project_id",
        "milestone_id",
        "source",
        "version",
        tag_names=ArraySubquery(tag_names),
        **{f"{name}_utc": _UtcText(name) for name in _LIST_DATETIMES},
    )


@functools.cache
def _ticket_list_columns():
    """Every ticket with the list's columns, composed once per process: a request only
    narrows a copy, which costs a third of composing the columns and subquery anew."""
    return ticket_list_values(Ticket.objects.all())


def _iso_8601(utc_text, zone):
    """UTC text as DRF's DateTimeField writes the datetime: in the current time zone,
    ISO 8601, UTC as Z, no fraction on a whole second."""
    if utc_text is None:
        return None
    if zone is None:  # UTC: the text needs only its suffix, and no datetime is built.
        whole_second = utc_text.endswith(".000000")
        return (utc_text[:-7] if whole_second else utc_text) + "Z"
    moment = datetime.fromisoformat(utc_text).replace(tzinfo=UTC)
    text = moment.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Zulu", "Zulu", "Universal"})


def ticket_list_rows(values) -> list[dict]:
    """Rows of `ticket_list_values` as TicketSerializer represents their tickets."""
    zone = timezone.get_current_timezone()
    if zone is UTC or getattr(zone, "key", None) in _UTC_NAMES:
        zone = None
    return [
        {
            "id": value["id"],
            "reference": f"{value['queue__key']}-{value['number']}",
            "queue": value["queue_id"],
            "subject": value["subject"],
            "description": value["description"],
            "status": value["status"],
            "priority": value["priority"],
            "type": value["type"],
            "assignee": value["assignee_id"],
            "requester_email": value["requester__email"],
            "requester_name": value["requester__name"],
            "project": value["project_id"],
            "milestone": value["milestone_id"],
            "tags": value["tag_names"],
            "source": value["source"],
            **{name: _iso_8601(value[f"{name}_utc"], zone) for name in _LIST_DATETIMES},
            "version": value["version"],
        }
        for value in values
    ]


class TicketCreateSerializer(StrictInputMixin, serializers.Serializer):
    """POST /tickets/: open a ticket on a caller's behalf (source `api`)."""

    queue = serializers.PrimaryKeyRelatedField(
        queryset=Queue.objects.none(), help_text="Id of a queue you work in."
    )
    subject = serializers.CharField(max_length=255)
    description = serializers.CharField(allow_blank=True, default="", max_length=MAX_TEXT)
    requester_email = serializers.EmailField(max_length=254)
    requester_name = serializers.CharField(allow_blank=True, default="", max_length=200)
    priority = serializers.ChoiceField(choices=Ticket.Priority.choices, default="P3")
    type = serializers.ChoiceField(choices=Ticket.Type.choices, default="incident")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            # An unknown queue and one the caller does not work in read the same: no leak.
            self.fields["queue"].queryset = Queue.objects.visible_to(request.user)


class TicketUpdateSerializer(StrictInputMixin, serializers.Serializer):
    """PATCH /tickets/{id}/: change what agents change, at the version they last saw."""

    version = serializers.IntegerField(
        min_value=1,
        max_value=MAX_VERSION,
        help_text="The `version` you last read. If the ticket has changed since, nothing "
        "is written and the answer is 409 with the current ticket.",
    )
    status = serializers.ChoiceField(choices=Ticket.Status.choices, required=False)
    priority = serializers.ChoiceField(choices=Ticket.Priority.choices, required=False)
    type = serializers.ChoiceField(choices=Ticket.Type.choices, required=False)
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.none(),
        allow_null=True,
        required=False,
        help_text="Id of an agent of the ticket's queue; null to unassign.",
        error_messages={"does_not_exist": "User {pk_value} is not an agent of this queue."},
    )
    project = serializers.PrimaryKeyRelatedField(
        queryset=Project.objects.none(),
        allow_null=True,
        required=False,
        help_text="Id of the project the ticket is about; null unlinks it (and its milestone).",
    )
    milestone = serializers.PrimaryKeyRelatedField(
        queryset=Milestone.objects.none(),
        allow_null=True,
        required=False,
        help_text="Id of a milestone; alone, it links the milestone's project too.",
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50),
        max_length=50,
        required=False,
        help_text="The complete list of tag names (replaces the current tags); "
        "names are stored slugified: `VPN issue` becomes `vpn-issue`.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        ticket = self.context.get("ticket")
        if ticket is not None:
            # Someone outside the queue reads as "no such agent", whether or not they exist.
            self.fields["assignee"].queryset = ticket.queue.members.all()
        request = self.context.get("request")
        if request is not None:
            projects = Project.objects.visible_to(request.user)
            self.fields["project"].queryset = projects
            self.fields["milestone"].queryset = Milestone.objects.filter(
                project__in=projects
            ).select_related("project")

    def validate(self, attrs):
        if "project" in attrs and attrs["project"] is None and attrs.get("milestone"):
            raise serializers.ValidationError(
                {"milestone": ["A milestone cannot be linked without its project."]}
            )
        return attrs

    def validate_tags(self, names):
        for name in names:
            if not slugify(name, allow_unicode=True):
                raise serializers.ValidationError(
                    f"“{name}” has no letters or digits to make a tag name of."
                )
        return names


class TicketConflictSerializer(serializers.Serializer):
    """The answer to a PATCH with a stale `version`."""

    detail = serializers.CharField()
    current = TicketSerializer(help_text="The ticket as it is now; reapply your change to it.")


class TicketEventSerializer(serializers.ModelSerializer):
    """One entry of a ticket's timeline."""

    author = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The agent; null for the caller and system."
    )
    author_name = serializers.SerializerMethodField(
        help_text="The agent's or the caller's name; empty for the system."
    )
    changes = serializers.SerializerMethodField(
        help_text='What a change changed: `{"field": [old, new]}`.'
    )

    class Meta:
        model = TicketEvent
        fields = ["id", "kind", "body", "public", "author", "author_name", "changes", "created_at"]
        read_only_fields = fields

    def get_author_name(self, event) -> str:
        if event.author_id:
            return event.author.get_full_name() or event.author.get_username()
        if event.author_contact_id:
            return event.author_contact.name or event.author_contact.email
        return ""

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "array", "items": {}}})
    def get_changes(self, event):
        return event.changes


class CommentSerializer(StrictInputMixin, serializers.Serializer):
    """POST /tickets/{id}/comments/."""

    body = serializers.CharField(max_length=MAX_TEXT)
    public = serializers.BooleanField(
        help_text="true: a reply e-mailed to the caller; false: an internal note that only "
        "agents ever see. Required, so that nothing is sent to a caller by accident."
    )


def _link_of(ticket: Ticket, changes: dict) -> dict | None:
    """Pop `project`/`milestone` from a PATCH into the arguments of `ticket_link`, or None
    when the link is not being changed. A field left out keeps its value, except that a
    milestone of another project goes when the project changes, and a milestone alone
    brings its project along."""
    if "project" not in changes and "milestone" not in changes:
        return None
    milestone_given = "milestone" in changes
    milestone = changes.pop("milestone") if milestone_given else ticket.milestone
    if "project" in changes:
        project = changes.pop("project")
        moved = milestone is not None and milestone.project_id != getattr(project, "pk", None)
        if moved and not milestone_given:
            milestone = None
    else:
        project = milestone.project if milestone is not None else ticket.project
    return {"project": project, "milestone": milestone}


# --- Views --------------------------------------------------------------------------------


class TicketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Tickets of the queues the caller works in. Newest first, cursor-paginated.

    PUT and DELETE are not offered: edits are PATCH with `version`; tickets are closed,
    not deleted."""

    serializer_class = TicketSerializer
    filterset_class = TicketFilter
    pagination_class = CursorPagination

    def get_queryset(self):
        return (
            Ticket.objects.visible_to(self.request.user)
            .select_related("queue", "requester")
            .prefetch_related("tags")
        )

    def list(self, request, *args, **kwargs):
        tickets = self.filter_queryset(_ticket_list_columns().visible_to(request.user))
        page = self.paginate_queryset(tickets)
        return self.get_paginated_response(ticket_list_rows(page))

    def get_object(self):
        """Through the one door: 404 when not visible, 403 on a write by a reader."""
        pk = self.kwargs["pk"]
        if not (pk.isascii() and pk.isdigit() and len(pk) <= 18):
            raise NotFound("No such ticket")  # answered before the database can choke on it
        write = self.request.method not in SAFE_METHODS
        ticket = get_ticket_for(self.request.user, int(pk), write=write)
        self.check_object_permissions(self.request, ticket)
        return ticket

    def _current(self, ticket: Ticket) -> dict:
        """The ticket re-read with everything its representation needs."""
        return TicketSerializer(self.get_queryset().get(pk=ticket.pk)).data

    @extend_schema(request=TicketCreateSerializer, responses={201: TicketSerializer})
    def create(self, request, *args, **kwargs):
        if not is_agent(request.user):
            raise PermissionDenied("Only help desk agents may open tickets through the API.")
        form = TicketCreateSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        ticket = services.ticket_create(
            **form.validated_data, source=Ticket.Source.API, actor=request.user
        )
        return Response(
            TicketSerializer(ticket).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:ticket-detail", args=[ticket.pk])},
        )

    @extend_schema(
        request=TicketUpdateSerializer,
        responses={
            200: TicketSerializer,
            409: OpenApiResponse(
                TicketConflictSerializer, description="`version` is stale; nothing was written."
            ),
        },
    )
    def partial_update(self, request, *args, **kwargs):
        ticket = self.get_object()
        form = TicketUpdateSerializer(
            data=request.data, context={"ticket": ticket, "request": request}
        )
        form.is_valid(raise_exception=True)
        changes = dict(form.validated_data)
        version = changes.pop("version")
        link = _link_of(ticket, changes)
        try:
            # One transaction: the version check and row lock of ticket_update cover the
            # link too, and a refused link undoes the other changes.
            with transaction.atomic():
                updated = services.ticket_update(
                    ticket=ticket, actor=request.user, version=version, **changes
                )
                if link is not None:
                    updated = services.ticket_link(ticket=updated, actor=request.user, **link)
        except services.StaleVersion as stale:
            current = stale.current.version
            return Response(
                {
                    "detail": f"This ticket was changed by someone else: you sent version "
                    f"{version}, it is now at version {current}. Nothing was written; "
                    f"reapply your change to `current` and send version {current}.",
                    "current": self._current(ticket),
                },
                status=status.HTTP_409_CONFLICT,
            )
        return Response(self._current(updated))

    @extend_schema(request=CommentSerializer, responses={201: TicketEventSerializer})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def comments(self, request, pk=None):
        """Reply to the caller (`public: true`, e-mailed) or add an internal note."""
        ticket = self.get_object()
        form = CommentSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        event = services.ticket_reply(ticket=ticket, author=request.user, **form.validated_data)
        return Response(TicketEventSerializer(event).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=TicketEventSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=TimelinePagination)
    def events(self, request, pk=None):
        """The ticket's timeline, oldest first: replies, internal notes, changes."""
        ticket = self.get_object()
        events = ticket.events.select_related("author", "author_contact")
        if not is_agent(request.user):
            # Internal notes and changes are for agents only.
            events = events.filter(public=True)
        page = self.paginate_queryset(events)
        return self.get_paginated_response(TicketEventSerializer(page, many=True).data)
