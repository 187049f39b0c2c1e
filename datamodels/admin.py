"""The model builder: data models and their fields in the admin, saved through the services.

Definitions are never saved with `Model.save()` here: the data-model form and the
fields formset validate the whole change first (errors show on the offending row),
then `save_model`/`save_formset` call `datamodels.services`, inside the admin's
transaction, so a `SchemaError` raised while saving (a concurrent change) rolls the
whole save back and is shown on the re-rendered form. Each data model also gets a
records browser (`datamodels.admin_records`) under `<id>/records/`.
"""

from django.contrib import admin, messages
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from infinity.exceptions import SchemaError

from .admin_records import RecordsBrowser
from .fieldtypes import REGISTRY
from .forms import DataModelForm, FieldForm, FieldInlineFormSet
from .models import DataModel, Field
from .rowcount import row_count
from .services import data_model_create, data_model_delete, data_model_update


# The collapsed groups of type-specific options: (title, class naming the group, form fields).
OPTION_GROUPS = (
    ("Text and number options", "options-text-number",
     (("max_length", "regex"), ("min_value", "max_value", "decimal_places"))),
    ("Choices (select, multi select)", "options-choices", ("choices",)),
    ("Relation", "options-relation", (("related_model", "many"),)),
    ("Vector", "options-vector", (("dimensions", "source_fields"),)),
)
# `FieldType.options` names options as the API does; these are the form fields editing them.
OPTION_FORM_FIELDS = {"min": "min_value", "max": "max_value", "to": "related_model"}


def _flat(fields) -> set[str]:
    return {name for line in fields for name in ((line,) if isinstance(line, str) else line)}


def option_groups_by_type() -> dict[str, list[str]]:
    """Each field type's option groups (their classes): the page opens them when the type is picked."""
    groups = {}
    for name, kind in REGISTRY.items():
        options = {OPTION_FORM_FIELDS.get(option, option) for option in kind.options}
        groups[name] = [css for _, css, fields in OPTION_GROUPS if options & _flat(fields)]
    return groups


class FieldInline(admin.StackedInline):
    """A data model's fields: the common options open, type-specific ones in collapsed groups."""

    model = Field
    fk_name = "data_model"
    form = FieldForm
    formset = FieldInlineFormSet
    extra = 1
    fieldsets = (
        (None, {"fields": (("name", "type"), ("required", "unique", "indexed"), "default", "help_text", "force")}),
        *((title, {"classes": ("collapse", css), "fields": fields}) for title, css, fields in OPTION_GROUPS),
    )

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "related_model":
            # A plain list of models: the admin's add/change/delete buttons next to it would
            # open another model's pages (its delete page, even) from inside this row.
            formfield.widget = formfield.widget.widget
        return formfield

    # Fields are part of a model's definition: whoever may define models may edit them.
    def _may_define(self, request) -> bool:
        return request.user.has_perm("datamodels.add_datamodel") or request.user.has_perm("datamodels.change_datamodel")

    def has_add_permission(self, request, obj=None):
        return self._may_define(request)

    def has_change_permission(self, request, obj=None):
        return self._may_define(request)

    def has_delete_permission(self, request, obj=None):
        return self._may_define(request)

    def has_view_permission(self, request, obj=None):
        return self._may_define(request) or request.user.has_perm("datamodels.view_datamodel")


def counted(number: int, noun: str) -> str:
    """`3 records`, `1 record`, `no records`."""
    return f"{number or 'no'} {noun}{'' if number == 1 else 's'}"


@admin.register(DataModel)
class DataModelAdmin(admin.ModelAdmin):
    """Data models: definitions edited with their fields, tables changed by the services."""

    form = DataModelForm
    inlines = [FieldInline]
    list_display = ("name", "label", "field_count", "table_name", "records_link")
    search_fields = ("name", "label")
    readonly_fields = ("table_name",)
    fields = ("name", "label", "description", "table_name")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(field_count=Count("fields"))

    @admin.display(description="fields", ordering="field_count")
    def field_count(self, obj):
        return obj.field_count

    @admin.display(description="table")
    def table_name(self, obj):
        return obj.db_table if obj.pk else "-"

    @admin.display(description="records")
    def records_link(self, obj):
        return format_html('<a href="{}">Records</a>', reverse("admin:datamodels_datamodel_records", args=[obj.pk]))

    def get_urls(self):
        # Ours first: the admin's catch-all `<path:object_id>/` would take them otherwise.
        return RecordsBrowser(self).urls() + super().get_urls()

    def get_actions(self, request):
        # Bulk delete would bypass the per-model refusal messages; delete models one by one.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    # --- saving through the services ---------------------------------------------

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.schema_error = getattr(request, "schema_error", None)
        return form

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except SchemaError as exc:
            # The admin's transaction has rolled everything back; show the same input again
            # with the message (the form refuses to validate while `schema_error` is set).
            request.schema_error = exc.message
            return super().changeform_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, *args, **kwargs):
        context["field_option_groups"] = option_groups_by_type()
        return super().render_change_form(request, context, *args, **kwargs)

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in ("name", "label", "description")}
        if not change:
            created = data_model_create(**values)
            # The service created the row; the admin carries on with `obj` (the formset's parent).
            obj.pk = created.pk
            obj._state.adding = False
        elif form.has_changed():
            # `obj` already holds the new values; the service compares with the stored row.
            data_model_update(data_model=DataModel.objects.get(pk=obj.pk), **values)
        obj.refresh_from_db()

    def save_formset(self, request, form, formset, change):
        formset.apply(data_model=form.instance)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except SchemaError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("admin:datamodels_datamodel_change", args=[object_id]))

    def get_deleted_objects(self, objs, request):
        """What a delete drops, counted; relations from other models protect it (the page says so)."""
        summary, records, fields = [], 0, 0
        for obj in objs:
            count, field_count = row_count(obj.pk), obj.fields.count()
            records, fields = records + count, fields + field_count
            summary.append(f"{obj.name}: table {obj.db_table}, its {counted(field_count, 'field')} "
                           f"and {counted(count, 'record')}")
        incoming = Field.objects.filter(related_model__in=objs).exclude(data_model__in=objs)
        protected = [f"{field.data_model.name}.{field.name}" for field in incoming.select_related("data_model")]
        totals = {self.opts.verbose_name_plural: len(objs), "fields": fields, "records": records}
        return summary, totals, set(), protected

    def delete_model(self, request, obj):
        data_model_delete(data_model=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            data_model_delete(data_model=obj)
