"""The admin as the "Settings page" for API keys, and each user's keys on the user page.

Keys are created through `apikey_create`, so the admin enforces the same rules as the
command and the API. The raw key is rendered once, in the response to the add form,
never put in a message, the session or a log; afterwards a key is read-only apart from
revocation (the "revoke" action, or a key's confirm-then-revoke page) or deletion.
A user's page lists their keys, each with a revoke link, and links to the add form
pre-filled with that user.
"""

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

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
    "revoke_link",
)


def user_change_url(user_id) -> str:
    opts = get_user_model()._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[user_id])


def revoke_link(key, *, back: str | None = None) -> str:
    """A link to the key's revoke page (which asks to confirm), or "revoked"."""
    if key.revoked_at is not None:
        return "revoked"
    url = reverse("admin:accounts_apikey_revoke", args=[key.pk])
    if back:
        url = f"{url}?{urlencode({'next': back})}"
    return format_html('<a href="{}" class="deletelink">Revoke</a>', url)


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
            "owner_url": user_change_url(obj.user_id) if self._may_view_users(request) else None,
        }
        return TemplateResponse(request, "admin/accounts/apikey/created.html", context)

    def _may_view_users(self, request) -> bool:
        return self.admin_site.get_model_admin(get_user_model()).has_view_or_change_permission(request)

    def get_urls(self):
        revoke = path(
            "<path:object_id>/revoke/",
            self.admin_site.admin_view(self.revoke_view),
            name="accounts_apikey_revoke",
        )
        return [revoke, *super().get_urls()]

    def revoke_view(self, request, object_id):
        """GET asks to confirm; POST revokes, then returns to `next` (e.g. the owner's page)."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        key = self.get_object(request, unquote(object_id))
        if key is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        next_url = request.POST.get("next") or request.GET.get("next") or ""
        safe = url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=request.is_secure())
        next_url = next_url if safe else reverse("admin:accounts_apikey_change", args=[key.pk])
        if request.method == "POST":
            apikey_revoke(prefix=key.prefix)
            self.log_change(request, key, "Revoked.")
            self.message_user(request, f"Revoked API key {key.prefix}.", messages.SUCCESS)
            return HttpResponseRedirect(next_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Revoke API key",
            "api_key": key,
            "next_url": next_url,
        }
        return TemplateResponse(request, "admin/accounts/apikey/revoke.html", context)

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

    @admin.display(description="revoke")
    def revoke_link(self, key):
        return revoke_link(key)


class ApiKeyInline(admin.TabularInline):
    """A user's API keys on the user's admin page: read-only, each with a revoke link."""

    model = ApiKey
    fields = ("prefix", "name", "scope_list", "expires_at", "revoked_at", "last_used_at", "revoke")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # keys are made by the add form (linked above), which shows the raw key once

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="scopes")
    def scope_list(self, key):
        return ", ".join(key.scopes)

    @admin.display(description="revoke")
    def revoke(self, key):
        return revoke_link(key, back=user_change_url(key.user_id))


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin plus the user's API keys and a link to add one for them."""

    change_form_template = "admin/accounts/user/change_form.html"

    def get_inlines(self, request, obj):
        # Only on an existing user's page: a user being added has no keys yet.
        return [*super().get_inlines(request, obj), ApiKeyInline] if obj else super().get_inlines(request, obj)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["add_api_key_url"] = self.add_api_key_url(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def add_api_key_url(self, request, user) -> str | None:
        """The key add form pre-filled with `user`, when the viewer may make keys for them."""
        allowed = self.admin_site.get_model_admin(ApiKey).has_add_permission(request)
        # The add form offers non-superusers only themselves as owner (see ApiKeyAdmin).
        if not allowed or not user.is_active or not (request.user.is_superuser or user.pk == request.user.pk):
            return None
        return f"{reverse('admin:accounts_apikey_add')}?{urlencode({'user': user.pk})}"
