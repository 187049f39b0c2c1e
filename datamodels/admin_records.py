"""The records browser: list, sort, search, filter, add, edit and delete any data model's records in the admin.

`RecordsBrowser(model_admin).urls()` is mounted by `DataModelAdmin.get_urls()` under
`<model id>/records/`. Each view is Django admin's own, run by a `RecordAdmin` (a
`ModelAdmin` made per generated model class, cached with it, never registered
in an admin site): the change list (`ChangeList`: sortable headers, pagination,
search, `list_filter`), the `delete_selected` action with its confirmation, the
delete view and the autocomplete view behind the relation pickers. Only the add
and change forms are ours (`RecordForm`), because every write goes through
`datamodels.records`: a value typed here is checked exactly as the API checks it,
and its errors land on the form field they name. Access needs admin login and the
`datamodels.change_datamodel` permission (superusers have it).

Extra buttons (export, import, ...) go in the change list's `records_object_tools`
block, or are registered in `TOOLS` (see `list.html`).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin import actions as admin_actions
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.options import ShowFacets
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.views.main import ChangeList
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponseBadRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property

from infinity.exceptions import Conflict, ValidationFailed

from .admin_records_display import column_for, list_queryset
from .admin_records_filters import filter_parameters, filters_for
from .admin_records_form import RecordForm, record_label, record_values, relation_form_field, title_field
from .dynamic import current_schema
from .models import DataModel
from .records import record_create, record_delete, record_update
from .rowcount import filtered_count, row_count

PERMISSION = "datamodels.change_datamodel"
TEMPLATES = "admin/datamodels/records"
SEARCHABLE = frozenset({"text", "long_text", "email", "url", "select"})
# Buttons other modules add to the change list's object tools: functions of (request, entry)
# returning [(label, url)] (e.g. `datamodels.admin_transfer`'s export and import).
TOOLS: list = []


def url(name: str, entry, *args) -> str:
    return reverse(f"admin:datamodels_datamodel_{name}", args=[entry.definition.pk, *args])


class KnownCountPaginator(Paginator):
    """A paginator told its count (kept by triggers or cached), so it never runs `count(*)` itself."""

    def __init__(self, *args, count: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.known_count = count

    @cached_property
    def count(self):
        return self.known_count


class RecordChangeList(ChangeList):
    """Django's change list over one data model's records: links to our URLs, totals without scans."""

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        return list_queryset(self.model_admin.entry, self.model_admin.schema, queryset)

    def url_for_result(self, result):
        return url("record_change", self.model_admin.entry, result.pk)

    def get_results(self, request):
        """Django's paging, with totals from the trigger-kept row count (no `count(*)` of the table)."""
        entry = self.model_admin.entry
        total = row_count(entry.definition.pk)
        request.records_count = self._filtered_count(entry) if (self.has_active_filters or self.query) else total
        super().get_results(request)
        self.full_result_count, self.show_full_result_count, self.show_admin_actions = total, True, bool(total)

    def _filtered_count(self, entry) -> int:
        if any(f.type == "relation" and f.many and f.name + "__exact" in self.params for f in entry.fields):
            return self.queryset.count()  # reads a join table, whose changes the cached count cannot see
        signature = ("admin", self.model_admin.schema.version, entry.definition.pk, self.query.strip(),
                     *sorted((k, v) for k, v in self.params.items() if k not in ("o", "all")))
        return filtered_count(entry.definition.pk, signature, self.queryset.order_by())


@admin.action(permissions=["delete"], description="Delete selected records")
def delete_selected(modeladmin, request, queryset):
    """Django's bulk delete (confirmation page, then `delete_queryset`), on our pages."""
    response = admin_actions.delete_selected(modeladmin, request, queryset)
    if response is not None:
        count = len(queryset)
        response.context_data.update(modeladmin.page_context(), count=count,
                                     title=f"Delete {count} record{'s' if count != 1 else ''}")
    return response


class RecordAdmin(admin.ModelAdmin):
    """The admin of one generated model class: its records under the data model's URLs."""

    list_per_page = 50
    list_max_show_all = 200
    show_facets = ShowFacets.NEVER  # a count per filter choice is a scan per choice
    actions = [delete_selected]
    change_list_template = f"{TEMPLATES}/list.html"
    delete_confirmation_template = f"{TEMPLATES}/delete.html"
    delete_selected_confirmation_template = f"{TEMPLATES}/delete_selected.html"
    show_full_result_count = False  # Django's would count(*) the table; `RecordChangeList` knows the total

    def __init__(self, entry, schema, admin_site):
        self.entry, self.schema = entry, schema
        opts = entry.model._meta
        # Generated classes are ours alone; the admin's messages and pages name them like this.
        opts.verbose_name, opts.verbose_name_plural = "record", "records"
        super().__init__(entry.model, admin_site)
        self.list_display = ["id", "created_at"]
        for field in entry.fields:
            # `cell_`: no ModelAdmin attribute starts so (a field named `facets` must not replace `show_facets`).
            setattr(self, f"cell_{field.name}", column_for(field, schema))
            self.list_display.append(f"cell_{field.name}")
        self.relation_fields = {f.name: relation_form_field(f, entry, schema, admin_site)
                                for f in entry.fields if f.type == "relation"}
        self.list_filter = filters_for(entry, lambda field: self.relation_fields[field.name])
        self.filter_params = filter_parameters(entry)
        searchable = [f for f in entry.fields if f.type in SEARCHABLE]
        self.text_columns = [f.column for f in searchable]
        self.search_help_text = ("Every word in " + ", ".join(f.name for f in searchable) + ", or a record id"
                                 if searchable else "A record id")

    # --- permissions: the ones the model builder's records link checks -------------

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(PERMISSION)

    has_add_permission = has_change_permission = has_delete_permission = has_view_permission

    def has_module_permission(self, request):
        return False

    # --- the change list ----------------------------------------------------------

    def get_queryset(self, request):
        return self.entry.model.objects.order_by("-created_at", "-id")

    def get_ordering(self, request):
        return ("-created_at", "-id")

    def get_changelist(self, request, **kwargs):
        return RecordChangeList

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        count = getattr(request, "records_count", None)  # set by `RecordChangeList.get_results`
        if count is None:
            return super().get_paginator(request, queryset, per_page, orphans, allow_empty_first_page)
        return KnownCountPaginator(queryset, per_page, orphans, allow_empty_first_page, count=count)

    def lookup_allowed(self, lookup, value, request=None):
        # Only our filters' parameters filter the list (the filters read them): raw column
        # lookups (`f_12__regex=…`) are refused with 400, as Django refuses lookups it does not allow.
        return lookup in self.filter_params

    def get_search_fields(self, request):
        return self.text_columns or ["id"]

    def get_search_results(self, request, queryset, search_term):
        """Text fields contain every word (Django's search), or the term is a record id."""
        term = search_term.replace("\x00", "").strip()
        if not term:
            return queryset, False
        by_id = queryset.filter(pk=term)
        if not self.text_columns:
            return by_id, False
        matched, duplicates = super().get_search_results(request, queryset, term)
        return matched | by_id, duplicates

    @property
    def media(self):
        pickers = [form_field.widget.media for form_field in self.relation_fields.values()]
        return super().media + pickers[0] if pickers else super().media

    def page_context(self, **extra) -> dict:
        entry = self.entry
        return {"data_model": entry.definition, "list_url": url("records", entry),
                "datamodel_opts": DataModel._meta, **extra}

    def changelist_view(self, request, extra_context=None):
        if any("\x00" in pk for pk in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)):
            return HttpResponseBadRequest("Record ids cannot contain NUL characters")
        tools = [tool for make in TOOLS for tool in make(request, self.entry)]
        context = self.page_context(title=f"Records of {self.entry.name}", add_url=url("record_add", self.entry),
                                    record_tools=tools)
        return super().changelist_view(request, {**context, **(extra_context or {})})

    # --- deleting: Django's views, our services ------------------------------------

    def get_object(self, request, object_id, from_field=None):
        # PostgreSQL text cannot hold NUL: such an id cannot exist (and would be a DataError).
        record = None if "\x00" in object_id else self.get_queryset(request).filter(pk=object_id).first()
        if record is None:
            raise Http404("No such record")
        return record

    def get_deleted_objects(self, objs, request):
        """What a delete removes: the records themselves (relations to them are cleared, not deleted)."""
        records = list(objs)
        shown = [record_label(self.entry, r) for r in records[:20]]
        if len(records) > 20:
            shown.append(f"… and {len(records) - 20} more")
        return shown, {"records": len(records)}, set(), []

    def delete_model(self, request, obj):
        record_delete(entry=self.entry, record=obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for record in queryset:
                record_delete(entry=self.entry, record=record)

    def delete_view(self, request, object_id, extra_context=None):
        context = self.page_context(change_url=url("record_change", self.entry, object_id))
        return super().delete_view(request, object_id, {**context, **(extra_context or {})})

    def response_delete(self, request, obj_display, obj_id):
        self.message_user(request, f"The record {obj_id} was deleted.", messages.SUCCESS)
        return HttpResponseRedirect(url("records", self.entry))

    # --- history: on the data model (generated classes have no content type) -------

    def _log(self, request, message: str) -> None:
        LogEntry.objects.create(
            user_id=request.user.pk, content_type=ContentType.objects.get_for_model(DataModel),
            object_id=str(self.entry.definition.pk), object_repr=str(self.entry.definition)[:200],
            action_flag=CHANGE, change_message=message,
        )

    def log_deletions(self, request, queryset):
        ids = [record.pk for record in queryset]
        self._log(request, f"Deleted record{'s' if len(ids) != 1 else ''} {', '.join(ids[:20])}"
                           + (f" and {len(ids) - 20} more" if len(ids) > 20 else ""))

    # --- adding and changing: our form, the record services -----------------------

    def add_view(self, request, form_url="", extra_context=None):
        defaults = {f.name: f.default for f in self.entry.fields if f.default is not None}
        return self._form_view(request, None, defaults)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        record = self.get_object(request, object_id)
        return self._form_view(request, record, record_values(self.entry, record))

    def _form_view(self, request, record, values: dict):
        entry = self.entry
        data = request.POST if request.method == "POST" else None
        form = RecordForm(data, entry=entry, schema=self.schema, admin_site=self.admin_site, values=values)
        if form.is_valid():
            saved = self._save(form, record)
            if saved is not None:
                verb = "added" if record is None else "changed"
                self._log(request, f"{verb.capitalize()} record {saved.pk}")
                messages.success(request, f"The record {saved.pk} was {verb}.")
                if "_continue" in request.POST:
                    return HttpResponseRedirect(url("record_change", entry, saved.pk))
                if "_addanother" in request.POST:
                    return HttpResponseRedirect(url("record_add", entry))
                return HttpResponseRedirect(url("records", entry))
        context = self.page_context(
            form=form, record=record, media=self.media + form.media,
            title=f"Change record {record.pk}" if record else f"Add a record to {entry.name}",
            delete_url=url("record_delete", entry, record.pk) if record else None,
        )
        return TemplateResponse(request, f"{TEMPLATES}/form.html", {**self.admin_site.each_context(request),
                                                                      "opts": DataModel._meta, **context})

    def _save(self, form: RecordForm, record):
        """Write through the record services; their errors go onto the form (and None is returned)."""
        try:
            if record is None:
                return record_create(entry=self.entry, data=form.to_data())
            return record_update(entry=self.entry, record=record, data=form.to_data(), partial=False)
        except (ValidationFailed, Conflict) as exc:
            form.add_service_errors(exc.details, exc.message)
            return None


class RecordAutocompleteView(AutocompleteJsonView):
    """The admin's autocomplete JSON, over a relation field's target records (searched as the list is)."""

    browser = None

    def process_request(self, request):
        source = self.browser.record_admin(request, self.kwargs["model_id"])
        name = request.GET.get("field_name", "")
        field = next((f for f in source.entry.fields if f.type == "relation" and f.column == name), None)
        if field is None:
            raise PermissionDenied
        target = self.browser.admin_of(source.schema, source.schema.by_id[field.related_model_id])
        return request.GET.get("term", ""), target, source.model._meta.get_field(field.column), "id"

    def get_queryset(self):
        title = title_field(self.model_admin.entry)
        return super().get_queryset().only("id", *([title.column] if title else []))

    def serialize_result(self, obj, to_field_name):
        return {"id": obj.pk, "text": record_label(self.model_admin.entry, obj)}


class RecordsBrowser:
    """The record URLs of the data-model admin, each run by the model's `RecordAdmin`."""

    def __init__(self, model_admin):
        self.admin_site = model_admin.admin_site
        self._admins: dict[int, RecordAdmin] = {}

    def urls(self) -> list:
        from .admin_transfer import transfer_urls  # Export and Import (they add their buttons to TOOLS)
        wrap = self.admin_site.admin_view
        autocomplete = RecordAutocompleteView.as_view(admin_site=self.admin_site, browser=self)
        return [
            *transfer_urls(self),  # before `<record_id>/`, which would take "export/" and "import/"
            path("<int:model_id>/records/", wrap(self.list_view), name="datamodels_datamodel_records"),
            path("<int:model_id>/records/add/", wrap(self.add_view), name="datamodels_datamodel_record_add"),
            path("<int:model_id>/records/autocomplete/", wrap(autocomplete),
                 name="datamodels_datamodel_records_autocomplete"),
            path("<int:model_id>/records/<str:record_id>/", wrap(self.change_view),
                 name="datamodels_datamodel_record_change"),
            path("<int:model_id>/records/<str:record_id>/delete/", wrap(self.delete_view),
                 name="datamodels_datamodel_record_delete"),
        ]

    def record_admin(self, request, model_id: int) -> RecordAdmin:
        """The admin of a data model's records, for a user who may browse them."""
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        schema = current_schema()
        entry = schema.by_id.get(model_id)
        if entry is None:
            raise Http404("No such data model")
        return self.admin_of(schema, entry)

    def admin_of(self, schema, entry) -> RecordAdmin:
        """One `RecordAdmin` per generated class: made again only when the schema changed."""
        record_admin = self._admins.get(entry.definition.pk)
        if record_admin is None or record_admin.entry is not entry:
            record_admin = RecordAdmin(entry, schema, self.admin_site)
            self._admins[entry.definition.pk] = record_admin
        return record_admin

    def list_view(self, request, model_id: int):
        return self.record_admin(request, model_id).changelist_view(request)

    def add_view(self, request, model_id: int):
        return self.record_admin(request, model_id).add_view(request)

    def change_view(self, request, model_id: int, record_id: str):
        return self.record_admin(request, model_id).change_view(request, record_id)

    def delete_view(self, request, model_id: int, record_id: str):
        return self.record_admin(request, model_id).delete_view(request, record_id)
