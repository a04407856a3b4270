from django.contrib import admin

from projects.models import Milestone, Project


class MilestoneInline(admin.TabularInline):
    model = Milestone
    extra = 0
    fields = ["name", "kind", "baseline_date", "target_date", "forecast_date", "completed_at"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "status", "health", "owner", "liaison", "visibility"]
    list_filter = ["status", "health", "visibility"]
    search_fields = ["key", "name"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["owner", "liaison"]
    filter_horizontal = ["stakeholders"]
    inlines = [MilestoneInline]


@admin.register(Milestone)
class MilestoneAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "kind", "baseline_date", "target_date", "forecast_date"]
    list_filter = ["kind"]
    list_select_related = ["project"]
    search_fields = ["name", "project__key"]
