"""The records browser: list, search, filter, add, edit and delete any data model's records in the admin.

`RecordsBrowser(model_admin).urls()` is mounted by `DataModelAdmin.get_urls()` under
`<model id>/records/`. Views stay thin: every write goes through
`datamodels.records`, so a value typed here is checked exactly as the API checks
it, and its errors land on the form field they name. Access needs admin login and
the `datamodels.change_datamodel` permission (superusers have it).
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from infinity.exceptions import Conflict, ValidationFailed

from .dynamic import current_schema
from .fieldtypes import field_type
from .forms import RecordForm, record_values
from .models import DataModel
from .records import record_create, record_delete, record_update

PER_PAGE = 50
SEARCHABLE = frozenset({"text", "long_text", "email", "url", "select"})
FILTERABLE = frozenset({"select", "boolean"})
# Query parameters of the list; both are reserved words, so no field can be named like them.
SEARCH_PARAM, PAGE_PARAM = "query", "page"
PERMISSION = "datamodels.change_datamodel"
TEMPLATES = "admin/datamodels/records"


def search_records(entry, queryset, text: str):
    """Records with `text` in any text-like field (case-insensitive), or whose id it is."""
    condition = Q(pk=text)
    for field in entry.fields:
        if field.type in SEARCHABLE:
            condition |= Q(**{f"{field.column}__icontains": text})
    return queryset.filter(condition)


def filter_choices(field) -> list[tuple[str, str]]:
    if field.type == "boolean":
        return [("true", "yes"), ("false", "no")]
    return [(choice, choice) for choice in field.choices]


def filter_records(entry, queryset, params):
    """Apply `<field name>=<value>` filters of select and boolean fields (unknown values are ignored)."""
    for field in entry.fields:
        value = params.get(field.name, "")
        if field.type not in FILTERABLE or value not in dict(filter_choices(field)):
            continue
        queryset = queryset.filter(**{field.column: value == "true" if field.type == "boolean" else value})
    return queryset


def display_value(field, record) -> str:
    """A stored value as list-cell text."""
    if field.type == "relation" and field.many:
        return ", ".join(related.pk for related in getattr(record, field.column).all())
    if field.type == "relation":
        return getattr(record, f"{field.column}_id") or ""
    value = getattr(record, field.column)
    if value is None:
        return ""
    value = field_type(field.type).to_json(field, value)
    if field.type == "multi_select":
        return ", ".join(value)
    if field.type == "json":
        return json.dumps(value, ensure_ascii=False)
    if field.type == "boolean":
        return "yes" if value else "no"
    return str(value)


class RecordsBrowser:
    """The record views of one data-model admin."""

    def __init__(self, model_admin):
        self.model_admin = model_admin
        self.admin_site = model_admin.admin_site

    def urls(self) -> list:
        from .admin_transfer import transfer_urls  # Export and Import (it reads this module's search and filters)
        wrap = self.admin_site.admin_view
        return [
            *transfer_urls(self),  # before `<record_id>/`, which would take "export/" and "import/"
            path("<int:model_id>/records/", wrap(self.list_view), name="datamodels_datamodel_records"),
            path("<int:model_id>/records/add/", wrap(self.add_view), name="datamodels_datamodel_record_add"),
            path("<int:model_id>/records/<str:record_id>/", wrap(self.change_view),
                 name="datamodels_datamodel_record_change"),
            path("<int:model_id>/records/<str:record_id>/delete/", wrap(self.delete_view),
                 name="datamodels_datamodel_record_delete"),
        ]

    # --- helpers -------------------------------------------------------------------

    def _entry(self, request, model_id: int):
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        entry = current_schema().by_id.get(model_id)
        if entry is None:
            raise Http404("No such data model")
        return entry

    def _record(self, entry, record_id: str):
        # PostgreSQL text cannot hold NUL: such an id cannot exist (and would be a DataError).
        record = None if "\x00" in record_id else entry.model.objects.filter(pk=record_id).first()
        if record is None:
            raise Http404("No such record")
        return record

    def _render(self, request, template: str, entry, **context):
        context = {
            **self.admin_site.each_context(request),
            "opts": DataModel._meta,
            "data_model": entry.definition,
            "list_url": reverse("admin:datamodels_datamodel_records", args=[entry.definition.pk]),
            **context,
        }
        return TemplateResponse(request, f"{TEMPLATES}/{template}", context)

    @staticmethod
    def _url(name: str, entry, *args) -> str:
        return reverse(f"admin:datamodels_datamodel_{name}", args=[entry.definition.pk, *args])

    # --- views ---------------------------------------------------------------------

    def list_view(self, request, model_id: int):
        entry = self._entry(request, model_id)
        columns = [field for field in entry.fields if field.type != "vector"]
        records = entry.model.objects.order_by("-created_at", "-id")
        to_many = [field.column for field in columns if field.type == "relation" and field.many]
        records = filter_records(entry, records.prefetch_related(*to_many), request.GET)
        search = request.GET.get(SEARCH_PARAM, "").replace("\x00", "").strip()
        if search:
            records = search_records(entry, records, search)
        page = Paginator(records, PER_PAGE).get_page(request.GET.get(PAGE_PARAM))
        rows = [
            (record, self._url("record_change", entry, record.pk), [display_value(f, record) for f in columns])
            for record in page
        ]
        filters = [
            (field.name, filter_choices(field), request.GET.get(field.name, ""))
            for field in entry.fields if field.type in FILTERABLE
        ]
        return self._render(
            request, "list.html", entry, title=f"Records of {entry.name}", columns=columns, rows=rows, page=page,
            search=search, search_param=SEARCH_PARAM, page_param=PAGE_PARAM, filters=filters,
            add_url=self._url("record_add", entry),
        )

    def add_view(self, request, model_id: int):
        entry = self._entry(request, model_id)
        defaults = {f.name: f.default for f in entry.fields if f.default is not None}
        return self._form_view(request, entry, None, defaults)

    def change_view(self, request, model_id: int, record_id: str):
        entry = self._entry(request, model_id)
        record = self._record(entry, record_id)
        return self._form_view(request, entry, record, record_values(entry, record))

    def _form_view(self, request, entry, record, values: dict):
        data = request.POST if request.method == "POST" else None
        form = RecordForm(data, entry=entry, schema=current_schema(), values=values)
        if form.is_valid():
            saved = self._save(form, entry, record)
            if saved is not None:
                verb = "added" if record is None else "changed"
                messages.success(request, f"The record {saved.pk} was {verb}.")
                if "_continue" in request.POST:
                    return HttpResponseRedirect(self._url("record_change", entry, saved.pk))
                return HttpResponseRedirect(self._url("records", entry))
        return self._render(
            request, "form.html", entry, form=form, record=record,
            title=f"Change record {record.pk}" if record else f"Add a record to {entry.name}",
            delete_url=self._url("record_delete", entry, record.pk) if record else None,
        )

    @staticmethod
    def _save(form: RecordForm, entry, record):
        """Write through the record services; their errors go onto the form (and None is returned)."""
        try:
            if record is None:
                return record_create(entry=entry, data=form.to_data())
            return record_update(entry=entry, record=record, data=form.to_data(), partial=False)
        except (ValidationFailed, Conflict) as exc:
            form.add_service_errors(exc.details, exc.message)
            return None

    def delete_view(self, request, model_id: int, record_id: str):
        entry = self._entry(request, model_id)
        record = self._record(entry, record_id)
        if request.method == "POST":
            record_delete(entry=entry, record=record)
            messages.success(request, f"The record {record.pk} was deleted.")
            return HttpResponseRedirect(self._url("records", entry))
        return self._render(
            request, "delete.html", entry, record=record, title=f"Delete record {record.pk}",
            change_url=self._url("record_change", entry, record.pk),
        )
