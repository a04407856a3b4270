from django.contrib import admin

from helpdesk.models import (
    Attachment,
    CannedResponse,
    Contact,
    InboundMessage,
    Queue,
    SatisfactionRating,
    SavedView,
    SLAPolicy,
    SLATarget,
    Tag,
    Ticket,
    TicketEvent,
)


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "slug", "is_public", "inbound_address"]
    list_filter = ["is_public"]
    search_fields = ["name", "key", "inbound_address"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["members"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["email", "name", "organisation", "created_at"]
    search_fields = ["email", "name", "organisation"]


class TicketEventInline(admin.TabularInline):
    model = TicketEvent
    extra = 0
    fields = ["created_at", "kind", "public", "author", "author_contact", "body"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        # The timeline is written by services only, so it stays a true audit trail.
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["__str__", "queue", "status", "priority", "assignee", "created_at"]
    list_filter = ["queue", "status", "priority", "type", "source"]
    search_fields = ["subject", "requester__email", "number"]
    list_select_related = ["queue", "assignee"]
    raw_id_fields = ["requester", "assignee", "project", "milestone", "merged_into"]
    filter_horizontal = ["tags"]
    readonly_fields = ["number", "secret", "version", "created_at", "updated_at", "sla_policy"]
    date_hierarchy = "created_at"
    inlines = [TicketEventInline]


@admin.register(TicketEvent)
class TicketEventAdmin(admin.ModelAdmin):
    list_display = ["ticket", "kind", "public", "author", "created_at"]
    list_filter = ["kind", "public"]
    list_select_related = ["ticket__queue", "author"]
    raw_id_fields = ["ticket", "author", "author_contact"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ["filename", "ticket", "content_type", "size", "created_at"]
    list_select_related = ["ticket__queue"]
    raw_id_fields = ["ticket", "event"]
    readonly_fields = ["file", "filename", "content_type", "size", "sha256", "created_at"]
    search_fields = ["filename", "sha256"]


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ["title", "queue", "owner"]
    list_filter = ["queue"]
    list_select_related = ["queue", "owner"]
    search_fields = ["title", "body"]


class SLATargetInline(admin.TabularInline):
    model = SLATarget
    extra = 0


@admin.register(SLAPolicy)
class SLAPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "calendar", "warn_before_minutes"]
    list_select_related = ["calendar"]
    inlines = [SLATargetInline]


@admin.register(SLATarget)
class SLATargetAdmin(admin.ModelAdmin):
    list_display = ["policy", "priority", "first_response_minutes", "resolution_minutes"]
    list_select_related = ["policy"]


@admin.register(SatisfactionRating)
class SatisfactionRatingAdmin(admin.ModelAdmin):
    list_display = ["ticket", "score", "created_at"]
    list_filter = ["score"]
    list_select_related = ["ticket__queue"]
    raw_id_fields = ["ticket"]


@admin.register(SavedView)
class SavedViewAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "shared", "query"]
    list_filter = ["shared"]
    list_select_related = ["owner"]


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    """Every e-mail as received. Failed ones wait here for an admin to look and retry."""

    list_display = ["received_at", "message_id", "recipient", "source", "status", "ticket"]
    list_filter = ["status", "source"]
    list_select_related = ["ticket__queue"]
    search_fields = ["message_id", "recipient", "error"]
    readonly_fields = [
        "source",
        "recipient",
        "message_id",
        "status",
        "error",
        "ticket",
        "received_at",
        "processed_at",
        "raw_text",
    ]
    exclude = ["raw"]
    actions = ["retry"]

    @admin.display(description="Message as received")
    def raw_text(self, obj):
        return bytes(obj.raw).decode("utf-8", errors="replace")

    @admin.action(description="Process the selected messages again")
    def retry(self, request, queryset):
        from helpdesk.inbound import inbound_process

        results = [inbound_process(message=message) for message in queryset]
        processed = sum(message.status == InboundMessage.Status.PROCESSED for message in results)
        self.message_user(request, f"{processed} of {len(results)} messages processed.")

    def has_add_permission(self, request):
        return False
