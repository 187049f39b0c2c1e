"""The admin as the "Settings page" for API keys, and each user's keys on the user page.

Keys are created through `apikey_create`, so the admin enforces the same rules as the
command and the API. The raw key is rendered once, in the response to the add form,
never put in a message, the session or a log; afterwards a key is read-only apart from
the "revoke" action (or deletion).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.models import SCOPES, ApiKey
from accounts.services import apikey_create, apikey_revoke, apikey_validate
from infinity.exceptions import ValidationFailed

DETAIL_FIELDS = (
    "prefix",
    "name",
    "user",
    "scope_list",
    "model_list",
    "rate_limit_display",
    "expires_at",
    "revoked_at",
    "last_used_at",
    "created_at",
)


class ApiKeyAddForm(forms.ModelForm):
    """The add form: everything a new key needs, checked by the service's own validation."""

    scopes = forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in SCOPES],
        initial=list(SCOPES),
        widget=forms.CheckboxSelectMultiple,
        help_text="The webhooks scope lets the key manage webhooks.",
    )

    class Meta:
        model = ApiKey
        fields = ("name", "user", "scopes", "models", "rate_limit", "expires_at")

    def clean(self):
        cleaned = super().clean()
        try:
            apikey_validate(**self.service_arguments())
        except ValidationFailed as exc:
            for item in exc.details:
                field = item["field"] if item["field"] in self.fields else None
                # A field that failed its own checks already says why; the service would repeat it.
                if field not in self.errors:
                    self.add_error(field, item["message"])
        return cleaned

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "user": data.get("user"),
            "name": data.get("name", ""),
            "scopes": data.get("scopes"),
            "models": [model.name for model in data.get("models", [])],
            "rate_limit": data.get("rate_limit", ""),
            "expires_at": data.get("expires_at"),
        }


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """API keys: created via the service, shown once, then read-only and revocable."""

    list_display = ("prefix", "name", "user", "scope_list", "expires_at", "revoked_at", "last_used_at")
    list_select_related = ("user",)
    search_fields = ("prefix", "name", "user__username", "user__email")
    actions = ["revoke_selected"]
    form = ApiKeyAddForm
    add_fields = ApiKeyAddForm.Meta.fields

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else DETAIL_FIELDS

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else DETAIL_FIELDS

    def get_changeform_initial_data(self, request):
        return {"user": request.user.pk, **super().get_changeform_initial_data(request)}

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and not request.user.is_superuser:
            # A key acts as its owner: minting one for someone else would be acting as them.
            kwargs["queryset"] = get_user_model()._default_manager.filter(pk=request.user.pk)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        # A key never changes after creation (except by revocation), so its page is view-only.
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        """Only additions get here, since a key's page is view-only."""
        key, raw_key = apikey_create(**form.service_arguments())
        # The service created the row; the admin carries on with `obj`, so point it there.
        obj.pk = key.pk
        obj.refresh_from_db()
        obj.raw_key = raw_key

    def save_related(self, request, form, formsets, change):
        """Nothing to do: the service set the key's models."""

    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "API key created",
            "api_key": obj,
            "raw_key": obj.raw_key,
            "changelist_url": reverse("admin:accounts_apikey_changelist"),
            "change_url": reverse("admin:accounts_apikey_change", args=[obj.pk]),
        }
        return TemplateResponse(request, "admin/accounts/apikey/created.html", context)

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke_selected(self, request, queryset):
        keys = [apikey_revoke(prefix=key.prefix) for key in queryset]
        self.message_user(request, f"Revoked {len(keys)} API key(s).", messages.SUCCESS)

    @admin.display(description="scopes")
    def scope_list(self, key):
        return ", ".join(key.scopes)

    @admin.display(description="models")
    def model_list(self, key):
        return ", ".join(model.name for model in key.models.all()) or "all models"

    @admin.display(description="rate limit")
    def rate_limit_display(self, key):
        return key.rate_limit or f"default ({key.effective_rate_limit})"


class ApiKeyInline(admin.TabularInline):
    """A user's API keys, read-only, on the user's admin page."""

    model = ApiKey
    fields = ("prefix", "name", "scope_list", "expires_at", "revoked_at", "last_used_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and not request.user.is_superuser:
            # A key acts as its owner: minting one for someone else would be acting as them.
            kwargs["queryset"] = get_user_model()._default_manager.filter(pk=request.user.pk)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="scopes")
    def scope_list(self, key):
        return ", ".join(key.scopes)


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin plus the user's API keys."""

    def get_inlines(self, request, obj):
        # Only on an existing user's page: a user being added has no keys yet.
        return [*super().get_inlines(request, obj), ApiKeyInline] if obj else super().get_inlines(request, obj)
