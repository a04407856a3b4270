"""Admin for the bridge's records. What the plan writes (bulletins, the outbox bookkeeping,
sent-notice marks, webhook deliveries) is read-only here; actions call the same services
as the pages do."""

import secrets

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.utils import timezone

from liaison import webhooks
from liaison.models import (
    Bulletin,
    HandoverCriterion,
    HandoverPlan,
    ProjectDesk,
    Promise,
    Question,
    SentNotice,
    StatusLink,
    Subscription,
    Webhook,
    WebhookDelivery,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the system: admins look, never type."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ProjectDesk)
class ProjectDeskAdmin(admin.ModelAdmin):
    list_display = ["project", "workaround_public", "intake_ticket", "last_sequence", "updated_at"]
    list_select_related = ["project", "intake_ticket__queue"]
    search_fields = ["project__key", "project__name"]
    raw_id_fields = ["project", "intake_ticket"]
    readonly_fields = ["last_sequence", "updated_at"]


@admin.register(Bulletin)
class BulletinAdmin(ReadOnlyAdmin):
    list_display = ["title", "queue", "project", "health", "forecast_date", "active", "updated_at"]
    list_filter = ["active", "health", "queue"]
    list_select_related = ["queue", "project"]
    search_fields = ["title", "project__key", "project__name"]


@admin.register(Promise)
class PromiseAdmin(admin.ModelAdmin):
    list_display = ["ticket", "milestone", "promised_date", "made_by", "made_at", "updated_at"]
    list_select_related = ["ticket__queue", "milestone__project", "made_by"]
    raw_id_fields = ["ticket", "milestone", "event", "made_by"]
    readonly_fields = ["made_at"]
    date_hierarchy = "made_at"


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "project", "ticket", "asked_by", "due_at", "answered_at"]
    list_filter = [("answered_at", admin.EmptyFieldListFilter)]
    list_select_related = ["project", "ticket__queue", "asked_by"]
    search_fields = ["text", "answer", "project__key"]
    raw_id_fields = ["ticket", "project", "asked_by", "answered_by"]
    readonly_fields = ["created_at"]


# Evidence links typed without a scheme are https (Django 6's default, chosen now).
URL_FIELDS = {models.URLField: {"assume_scheme": "https"}}


class HandoverCriterionInline(admin.TabularInline):
    model = HandoverCriterion
    extra = 0
    formfield_overrides = URL_FIELDS
    fields = ["position", "name", "status", "owner", "evidence_url"]
    raw_id_fields = ["owner"]


@admin.register(HandoverPlan)
class HandoverPlanAdmin(admin.ModelAdmin):
    list_display = ["project", "support_queue", "signed_off_by", "signed_off_at", "hypercare_until"]
    list_select_related = ["project", "support_queue", "signed_off_by"]
    search_fields = ["project__key", "project__name"]
    raw_id_fields = ["project"]
    # A sign-off is given on the handover page, where its rules are checked.
    readonly_fields = ["signed_off_by", "signed_off_at", "created_at"]
    inlines = [HandoverCriterionInline]


@admin.register(HandoverCriterion)
class HandoverCriterionAdmin(admin.ModelAdmin):
    list_display = ["name", "plan", "status", "owner", "position"]
    list_filter = ["status"]
    list_select_related = ["plan__project", "owner"]
    raw_id_fields = ["plan", "owner"]
    formfield_overrides = URL_FIELDS


@admin.register(StatusLink)
class StatusLinkAdmin(admin.ModelAdmin):
    list_display = ["label", "project", "created_by", "created_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["project", "created_by"]
    search_fields = ["label", "project__key", "project__name"]
    raw_id_fields = ["project"]
    readonly_fields = ["created_by", "created_at", "revoked_at"]
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke the selected links")
    def revoke(self, request, queryset):
        from liaison.status import status_link_revoke

        links = list(queryset.filter(revoked_at__isnull=True))
        for link in links:
            status_link_revoke(link=link, actor=request.user)
        self.message_user(request, f"{len(links)} link(s) revoked.", messages.SUCCESS)


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["email", "project", "created_at", "confirmed_at", "unsubscribed_at"]
    list_filter = [
        ("confirmed_at", admin.EmptyFieldListFilter),
        ("unsubscribed_at", admin.EmptyFieldListFilter),
    ]
    list_select_related = ["project"]
    search_fields = ["email", "project__key", "project__name"]
    raw_id_fields = ["project"]
    # Consent is given by the subscriber's own click, never typed in by an admin.
    readonly_fields = ["created_at", "confirmed_at", "unsubscribed_at"]
    actions = ["unsubscribe"]

    @admin.action(description="Unsubscribe the selected addresses")
    def unsubscribe(self, request, queryset):
        ended = queryset.filter(unsubscribed_at__isnull=True).update(unsubscribed_at=timezone.now())
        self.message_user(request, f"{ended} subscription(s) ended.", messages.SUCCESS)


class WebhookForm(forms.ModelForm):
    url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        help_text="https:// (or http://) and a public internet address: loopback, private "
        "and link-local addresses are refused, now and at every delivery.",
    )
    events = forms.MultipleChoiceField(
        choices=Webhook.Event.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="What the URL is told about.",
    )
    secret = forms.CharField(
        required=False,
        max_length=128,
        help_text="Key of the HMAC-SHA256 signature the receiver checks. Leave empty to "
        "generate one.",
    )

    class Meta:
        model = Webhook
        fields = ["url", "project", "events", "secret", "active"]

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        webhooks.validate_webhook_url(url)
        return url

    def clean_secret(self):
        return self.cleaned_data["secret"].strip() or secrets.token_urlsafe(32)


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = ["url", "project", "event_list", "active", "created_at"]
    list_filter = ["active"]
    list_select_related = ["project"]
    search_fields = ["url", "project__key"]
    raw_id_fields = ["project"]

    @admin.display(description="events")
    def event_list(self, obj):
        return ", ".join(obj.events)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """The delivery log: what was sent where, how often, and what came back."""

    list_display = [
        "event", "webhook", "status", "attempts", "response_code", "next_attempt_at",
        "delivered_at", "created_at",
    ]  # fmt: skip
    list_filter = ["status", "event"]
    list_select_related = ["webhook"]
    search_fields = ["source_key", "webhook__url"]
    date_hierarchy = "created_at"
    actions = ["retry"]

    @admin.action(description="Send the selected deliveries again", permissions=["retry"])
    def retry(self, request, queryset):
        queued = sum(webhooks.delivery_retry(delivery=delivery) for delivery in queryset)
        self.message_user(request, f"{queued} delivery(ies) queued again.", messages.SUCCESS)

    def has_retry_permission(self, request):
        return request.user.has_perm("liaison.change_webhookdelivery")


@admin.register(SentNotice)
class SentNoticeAdmin(ReadOnlyAdmin):
    list_display = ["key", "sent_at"]
    search_fields = ["key"]
    date_hierarchy = "sent_at"
