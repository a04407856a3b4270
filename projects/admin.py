from django.contrib import admin

from projects.models import (
    Capacity,
    Column,
    Dependency,
    LessonLearned,
    Milestone,
    MilestoneSlip,
    Project,
    ProjectEvent,
    Risk,
    StatusUpdate,
    Task,
)
from projects.services import event_retry


class MilestoneInline(admin.TabularInline):
    model = Milestone
    extra = 0
    fields = ["name", "kind", "baseline_date", "target_date", "forecast_date", "completed_at"]
    readonly_fields = ["forecast_date"]


class ColumnInline(admin.TabularInline):
    model = Column
    extra = 0


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "status", "health", "owner", "liaison", "visibility"]
    list_filter = ["status", "health", "visibility"]
    search_fields = ["key", "name"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["owner", "liaison"]
    filter_horizontal = ["stakeholders", "members"]
    inlines = [ColumnInline, MilestoneInline]


class MilestoneSlipInline(admin.TabularInline):
    model = MilestoneSlip
    extra = 0
    fields = ["created_at", "old_date", "new_date", "reason", "author"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        # Slips are recorded by milestone_reschedule, never typed in.
        return False


@admin.register(Milestone)
class MilestoneAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "kind", "baseline_date", "target_date", "forecast_date"]
    list_filter = ["kind"]
    list_select_related = ["project"]
    search_fields = ["name", "project__key"]
    readonly_fields = ["forecast_date"]
    inlines = [MilestoneSlipInline]


@admin.register(MilestoneSlip)
class MilestoneSlipAdmin(admin.ModelAdmin):
    list_display = ["milestone", "old_date", "new_date", "author", "created_at"]
    list_select_related = ["milestone__project", "author"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Column)
class ColumnAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "position", "wip_limit", "is_done"]
    list_select_related = ["project"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["title", "project", "column", "assignee", "estimate_hours", "forecast_finish"]
    list_filter = ["is_critical"]
    list_select_related = ["project", "column", "assignee"]
    search_fields = ["title"]
    raw_id_fields = ["milestone", "assignee"]
    readonly_fields = ["forecast_start", "forecast_finish", "is_critical", "rank"]


@admin.register(Dependency)
class DependencyAdmin(admin.ModelAdmin):
    list_display = ["predecessor", "successor", "type", "lag_days"]
    list_select_related = ["predecessor", "successor"]
    raw_id_fields = ["predecessor", "successor"]


@admin.register(Capacity)
class CapacityAdmin(admin.ModelAdmin):
    list_display = ["user", "hours_per_week", "calendar"]
    list_select_related = ["user", "calendar"]


@admin.register(Risk)
class RiskAdmin(admin.ModelAdmin):
    list_display = ["title", "project", "probability", "impact", "owner", "status"]
    list_filter = ["status"]
    list_select_related = ["project", "owner"]


@admin.register(StatusUpdate)
class StatusUpdateAdmin(admin.ModelAdmin):
    list_display = ["project", "health", "author", "created_at"]
    list_select_related = ["project", "author"]

    def has_change_permission(self, request, obj=None):
        return False  # published updates are immutable; a correction is a new update


@admin.register(LessonLearned)
class LessonLearnedAdmin(admin.ModelAdmin):
    list_display = ["project", "text", "author", "created_at"]
    list_select_related = ["project", "author"]


class DeliveryFilter(admin.SimpleListFilter):
    title = "delivery"
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return [
            ("pending", "Pending"),
            ("failing", "Failing (retrying)"),
            ("dead", "Dead letters"),
            ("published", "Published"),
        ]

    def queryset(self, request, queryset):
        return {
            "pending": queryset.filter(published_at__isnull=True, dead_at__isnull=True),
            "failing": queryset.filter(
                published_at__isnull=True, dead_at__isnull=True, attempts__gt=0
            ),
            "dead": queryset.filter(dead_at__isnull=False),
            "published": queryset.filter(published_at__isnull=False),
        }.get(self.value(), queryset)


@admin.register(ProjectEvent)
class ProjectEventAdmin(admin.ModelAdmin):
    list_display = [
        "id", "project", "sequence", "kind", "created_at", "published_at", "attempts", "dead_at",
    ]  # fmt: skip
    list_filter = [DeliveryFilter, "kind"]
    list_select_related = ["project"]
    readonly_fields = [
        "project", "sequence", "kind", "payload", "actor", "created_at", "published_at",
        "attempts", "last_error", "dead_at",
    ]  # fmt: skip
    actions = ["retry"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Retry publishing the selected dead letters")
    def retry(self, request, queryset):
        dead = list(queryset.filter(dead_at__isnull=False))
        for event in dead:
            event_retry(event)
        self.message_user(request, f"{len(dead)} event(s) queued again.")
