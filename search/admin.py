"""The admin's embedding overview: per computed vector field, how many records wait for a
vector (never computed, or stale) and the field's last embedding error.

Read-only: vectors are computed by the background worker and by
`manage.py embeddings backfill`; a definition is edited on its data model's page.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from datamodels.dynamic import current_schema

from . import services, sources
from .models import ComputedVectorField, VectorFieldStatus


@admin.register(ComputedVectorField)
class ComputedVectorFieldAdmin(admin.ModelAdmin):
    """Embedding progress and health per vector field with source_fields."""

    list_display = ("field_name", "model_link", "sources", "waiting", "last_error", "last_error_at", "last_success_at")
    list_select_related = ("data_model",)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(type="vector").exclude(source_fields=[]).order_by(
            "data_model__name", "position")

    def changelist_view(self, request, extra_context=None):
        # One schema and one status read for the page, not one per row.
        self._schema = current_schema()
        self._statuses = {s.field_id: s for s in VectorFieldStatus.objects.all()}
        return super().changelist_view(request, extra_context)

    @admin.display(description="field")
    def field_name(self, obj):
        return obj.name

    @admin.display(description="data model", ordering="data_model__name")
    def model_link(self, obj):
        url = reverse("admin:datamodels_datamodel_change", args=[obj.data_model_id])
        return format_html('<a href="{}">{}</a>', url, obj.data_model.name)

    @admin.display(description="source fields")
    def sources(self, obj):
        return ", ".join(obj.source_fields)

    @admin.display(description="records waiting for a vector")
    def waiting(self, obj):
        entry = self._schema.by_id.get(obj.data_model_id)
        field = entry and next((f for f in sources.computed_fields(entry) if f.pk == obj.pk), None)
        return services.pending_count(entry, field) if field else "—"

    @admin.display(description="last embedding error")
    def last_error(self, obj):
        status = self._statuses.get(obj.pk)
        return status.last_error if status and status.last_error else "—"

    @admin.display(description="error at")
    def last_error_at(self, obj):
        status = self._statuses.get(obj.pk)
        return status.last_error_at if status else None

    @admin.display(description="last success")
    def last_success_at(self, obj):
        status = self._statuses.get(obj.pk)
        return status.last_success_at if status else None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("datamodels.view_datamodel")
