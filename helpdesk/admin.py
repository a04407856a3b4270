from django.contrib import admin

from helpdesk.models import Contact, Queue, Ticket, TicketEvent


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
    raw_id_fields = ["requester", "assignee", "project", "milestone"]
    readonly_fields = ["number", "secret", "version", "created_at", "updated_at"]
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
