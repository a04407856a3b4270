"""The bridge's API: bulletins (read-only) and handover plans (API.md).

Who reads: agents and project managers (and administrators), the people who work in
Bridgedesk; anyone else signed in gets 403 (a stakeholder reads the status page), an
anonymous caller 401. Both follow `Project.visible_to`, as the projects API does.

Who writes a handover: the project's planners and its liaison (`can_edit_handover`, the
handover page's rule) PATCH its queues and hypercare length; support leads (permission
`liaison.sign_off_handover`) sign it off. Everything goes through liaison.handover, the
same functions the page calls, so a change of the support queue clears a sign-off here
exactly as it does there.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response

from config.api import CursorPagination
from config.filters import MAX_ID
from config.roles import is_staff_role
from helpdesk.models import Queue
from liaison import handover as service
from liaison.filters import BulletinFilter, HandoverFilter
from liaison.models import Bulletin, HandoverCriterion, HandoverPlan
from projects.api import StrictInputMixin, _id_or_404
from projects.models import Project


class StaffRole(BasePermission):
    """Agents and project managers (and administrators) only."""

    message = "This is for agents and project managers; stakeholders read status pages."

    def has_permission(self, request, view):
        return is_staff_role(request.user)


STAFF_ONLY = [IsAuthenticated, StaffRole]


# --- Bulletins ------------------------------------------------------------------------------


class SlipSerializer(serializers.Serializer):
    """One move of the bulletin's milestone, newest first."""

    old = serializers.DateField(help_text="The date before the move.")
    new = serializers.DateField(help_text="The date after it.")
    reason = serializers.CharField(help_text="Why it moved, as the project team wrote it.")
    at = serializers.DateTimeField(help_text="When it moved.")


class BulletinSerializer(serializers.ModelSerializer):
    queue = serializers.PrimaryKeyRelatedField(read_only=True)
    project = serializers.PrimaryKeyRelatedField(read_only=True)
    body = serializers.CharField(read_only=True, help_text="What to tell callers (markdown).")
    next_milestone = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The milestone callers ask about."
    )
    next_milestone_name = serializers.CharField(read_only=True)
    forecast_date = serializers.DateField(
        read_only=True, allow_null=True, help_text="When that milestone is expected."
    )
    baseline_date = serializers.DateField(
        read_only=True, allow_null=True, help_text="The date first committed to."
    )
    slip_days = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Forecast minus baseline, in days."
    )
    slips = SlipSerializer(many=True, read_only=True)

    class Meta:
        model = Bulletin
        fields = [
            "id",
            "queue",
            "project",
            "title",
            "body",
            "health",
            "next_milestone",
            "next_milestone_name",
            "forecast_date",
            "baseline_date",
            "slip_days",
            "slips",
            "workaround",
            "active",
            "updated_at",
        ]
        read_only_fields = fields


class BulletinViewSet(viewsets.ReadOnlyModelViewSet):
    """What agents of each queue are told about each project right now, newest first.
    Rewritten by every plan change; read-only."""

    serializer_class = BulletinSerializer
    filterset_class = BulletinFilter
    pagination_class = CursorPagination
    permission_classes = STAFF_ONLY

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Bulletin.objects.none()
        return Bulletin.objects.filter(
            project__in=Project.objects.visible_to(self.request.user).values("pk")
        )

    def get_object(self):
        pk = _id_or_404(self.kwargs["pk"], "bulletin")
        bulletin = self.get_queryset().filter(pk=pk).first()
        if bulletin is None:
            raise NotFound("No such bulletin")
        return bulletin


# --- Handovers ------------------------------------------------------------------------------


class CriterionSerializer(serializers.ModelSerializer):
    owner = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The user who sees to it."
    )
    evidence_url = serializers.CharField(read_only=True, help_text="Where to see it is done.")

    class Meta:
        model = HandoverCriterion
        fields = ["id", "name", "owner", "evidence_url", "status"]
        read_only_fields = fields


class HandoverSerializer(serializers.ModelSerializer):
    project = serializers.PrimaryKeyRelatedField(read_only=True)
    readiness = serializers.SerializerMethodField(
        help_text="0–100: the share of criteria done or not applicable."
    )
    criteria = CriterionSerializer(many=True, read_only=True)
    support_queue = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="Takes the tickets once hypercare is over."
    )
    second_line_queue = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="Takes new tickets during hypercare."
    )
    signed_off_by = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The support lead who signed it off."
    )
    in_hypercare = serializers.SerializerMethodField(
        help_text="Whether hypercare runs today (it starts at the go-live)."
    )

    class Meta:
        model = HandoverPlan
        fields = [
            "id",
            "project",
            "readiness",
            "criteria",
            "support_queue",
            "second_line_queue",
            "hypercare_days",
            "hypercare_until",
            "in_hypercare",
            "signed_off_by",
            "signed_off_at",
        ]
        read_only_fields = fields

    def get_readiness(self, plan) -> int:
        return service.readiness(plan.criteria.all())

    def get_in_hypercare(self, plan) -> bool:
        return service.hypercare_state(plan) == "active"


class QueueIdField(serializers.IntegerField):
    """A queue id (or null): refused as 400 before the database sees a number too big."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)


class HandoverUpdateSerializer(StrictInputMixin, serializers.Serializer):
    """PATCH /handovers/{id}/: where the project's tickets go, and for how long hypercare
    runs. Naming another support queue clears the sign-off."""

    readable = frozenset(HandoverSerializer.Meta.fields)

    support_queue = QueueIdField(help_text="Queue id; null: none named.")
    second_line_queue = QueueIdField(help_text="Queue id; null: tickets stay where they are.")
    hypercare_days = serializers.IntegerField(
        min_value=0, max_value=service.MAX_HYPERCARE_DAYS, required=False
    )

    def validate(self, attrs):
        wanted = {attrs[f] for f in ("support_queue", "second_line_queue") if attrs.get(f)}
        found = {queue.pk: queue for queue in Queue.objects.filter(pk__in=wanted)}
        for field in ("support_queue", "second_line_queue"):
            if field in attrs and attrs[field] is not None:
                if attrs[field] not in found:
                    raise DRFValidationError({field: [f"No queue {attrs[field]}."]})
                attrs[field] = found[attrs[field]]
        return attrs


class HandoverCreateSerializer(StrictInputMixin, serializers.Serializer):
    """POST /handovers/: open the project's plan with the default criteria (answers the
    existing plan, 200, if there is one)."""

    readable = frozenset(HandoverSerializer.Meta.fields) - {"project"}

    project = serializers.PrimaryKeyRelatedField(
        queryset=Project.objects.none(), help_text="Id of a project you plan or are liaison of."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["project"].queryset = Project.objects.visible_to(request.user)


class HandoverViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Handover plans of the projects the caller may read, newest first. A plan exists
    once someone opened it (page or POST) or its project went live."""

    serializer_class = HandoverSerializer
    filterset_class = HandoverFilter
    pagination_class = CursorPagination
    permission_classes = STAFF_ONLY
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return HandoverPlan.objects.none()
        return HandoverPlan.objects.filter(
            project__in=Project.objects.visible_to(self.request.user).values("pk")
        ).prefetch_related("criteria")

    def get_object(self):
        pk = _id_or_404(self.kwargs["pk"], "handover plan")
        plan = self.get_queryset().select_related("project").filter(pk=pk).first()
        if plan is None:
            raise NotFound("No such handover plan")
        writing = self.request.method not in SAFE_METHODS and self.action != "sign_off"
        if writing and not service.can_edit_handover(self.request.user, plan.project):
            raise PermissionDenied("You may read this handover plan but not change it.")
        return plan

    def _current(self, plan: HandoverPlan) -> dict:
        return HandoverSerializer(self.get_queryset().get(pk=plan.pk)).data

    @extend_schema(
        request=HandoverCreateSerializer,
        responses={201: HandoverSerializer, 200: HandoverSerializer},
    )
    def create(self, request, *args, **kwargs):
        form = HandoverCreateSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        project = form.validated_data["project"]
        if not service.can_edit_handover(request.user, project):
            raise PermissionDenied("Only the project's planners and liaison open its handover.")
        existed = HandoverPlan.objects.filter(project=project).exists()
        plan = service.handover_plan_for(project)
        return Response(
            self._current(plan), status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        )

    @extend_schema(request=HandoverUpdateSerializer, responses={200: HandoverSerializer})
    def partial_update(self, request, *args, **kwargs):
        plan = self.get_object()
        form = HandoverUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        service.handover_settings_update(plan=plan, actor=request.user, **form.validated_data)
        return Response(self._current(plan))

    @extend_schema(
        request=None,
        responses={
            200: HandoverSerializer,
            400: OpenApiResponse(
                description="Not ready: `readiness` and/or `support_queue` say why."
            ),
            403: OpenApiResponse(description="Only support leads sign off."),
        },
    )
    @action(detail=True, methods=["post"], url_path="sign-off", filter_backends=[])
    def sign_off(self, request, pk=None):
        """The support lead accepts the project: readiness 100 and a support queue needed."""
        plan = self.get_object()
        if not service.can_sign_off(request.user):
            raise PermissionDenied("Only a support lead may sign off a handover.")
        service.handover_sign_off(plan=plan, actor=request.user)
        return Response(self._current(plan))
