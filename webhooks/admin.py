"""Webhooks in the admin: set them up, see why one was disabled, its deliveries and every attempt.

Saves go through `webhooks.services` (the same checks as the API, the SSRF guard
included); a generated or rotated secret is shown once in a message. Actions send a
test ping, rotate the secret and resend failed deliveries; the deliveries list filters
by status and webhook and resends the chosen ones.
"""

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from datamodels.models import DataModel
from infinity.exceptions import ValidationFailed

from . import services
from .models import Delivery, DeliveryAttempt, Webhook


class WebhookForm(forms.ModelForm):
    """The webhook's settings, turned into the API's shape for `services`."""

    events = forms.MultipleChoiceField(choices=[(e, e) for e in services.EVENTS],
                                       widget=forms.CheckboxSelectMultiple)
    models = forms.ModelMultipleChoiceField(DataModel.objects.all(), required=False,
                                            help_text="None chosen: every model.")
    fields = forms.CharField(required=False, help_text="Comma-separated field names: updates are sent only "
                                                       "when one of them changed (empty: any change).")
    signing_secret = forms.CharField(required=False, label="Secret",
                                     help_text="Leave empty to generate one (shown once after saving).")

    class Meta:
        model = Webhook
        fields = ["url", "events", "active", "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["models"].initial = DataModel.objects.filter(pk__in=self.instance.model_ids)
            self.fields["fields"].initial = ", ".join(self.instance.fields)
            self.fields["events"].initial = self.instance.events

    def api_data(self) -> dict:
        data = {key: self.cleaned_data[key] for key in ("url", "active", "description")}
        data["events"] = list(self.cleaned_data["events"])
        data["models"] = [m.name for m in self.cleaned_data["models"]]
        data["fields"] = [f.strip() for f in self.cleaned_data["fields"].split(",") if f.strip()]
        if self.cleaned_data.get("signing_secret"):
            data["secret"] = self.cleaned_data["signing_secret"]
        return data

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                services.clean_webhook(self.api_data(), partial=bool(self.instance.pk))
            except ValidationFailed as exc:
                for detail in exc.details or []:
                    name = {"secret": "signing_secret"}.get(detail["field"], detail["field"])
                    field = name if name in self.fields else None
                    self.add_error(field, detail["message"])
        return cleaned


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = ("url", "events_shown", "active", "status", "created_at")
    list_filter = ("active",)
    search_fields = ("url", "description")
    readonly_fields = ("id", "disabled_at", "disabled_reason", "failing_since", "deliveries_link", "created_at")
    actions = ["send_test_ping", "resend_failed", "rotate_secret"]

    @admin.display(description="events")
    def events_shown(self, obj):
        return ", ".join(obj.events)

    @admin.display(description="state")
    def status(self, obj):
        if obj.disabled_at:
            return f"disabled since {obj.disabled_at:%Y-%m-%d %H:%M} UTC: {obj.disabled_reason}"
        if obj.failing_since:
            return f"failing since {obj.failing_since:%Y-%m-%d %H:%M} UTC"
        return "ok" if obj.active else "inactive"

    @admin.display(description="deliveries")
    def deliveries_link(self, obj):
        url = reverse("admin:webhooks_delivery_changelist") + f"?webhook__id__exact={obj.pk}"
        return format_html('<a href="{}">See deliveries</a>', url)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return [f for f in fields if f != "signing_secret"] if obj is not None else fields  # rotate instead

    def save_model(self, request, obj, form, change):
        data = form.api_data()
        if change:
            services.webhook_update(webhook=Webhook.objects.get(pk=obj.pk), data=data)
            return
        webhook, secret = services.webhook_create(data=data)
        obj.pk = webhook.pk
        messages.warning(request, f"The signing secret (shown only now): {secret}")

    def delete_model(self, request, obj):
        services.webhook_delete(webhook=obj)

    def delete_queryset(self, request, queryset):
        for webhook in queryset:
            services.webhook_delete(webhook=webhook)

    @admin.action(description="Send a test ping")
    def send_test_ping(self, request, queryset):
        for webhook in queryset:
            services.webhook_test(webhook=webhook)
        messages.success(request, f"Queued {queryset.count()} test ping(s).")

    @admin.action(description="Resend failed deliveries")
    def resend_failed(self, request, queryset):
        count = sum(services.deliveries_resend(webhook_id=w.pk) for w in queryset)
        messages.success(request, f"Resending {count} failed deliveries.")

    @admin.action(description="Rotate the secret (the old one signs for 24 more hours)")
    def rotate_secret(self, request, queryset):
        for webhook in queryset:
            secret = services.webhook_rotate_secret(webhook=webhook)
            messages.warning(request, f"New secret of {webhook.url} (shown only now): {secret}")


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = ("number", "started_at", "succeeded", "response_code", "latency_ms", "error",
                                "response_body")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "webhook", "event", "model", "record_id", "status", "attempts", "last_response_code",
                    "created_at")
    list_filter = ("status", "event", "webhook")
    search_fields = ("id", "record_id")
    readonly_fields = [f.name for f in Delivery._meta.fields]
    inlines = [AttemptInline]
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Resend the chosen deliveries", permissions=["view"])
    def resend(self, request, queryset):
        for delivery in queryset:
            services.delivery_resend(delivery=delivery)
        messages.success(request, f"Resending {queryset.count()} deliveries.")
