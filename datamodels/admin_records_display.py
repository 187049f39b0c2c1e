"""The records browser's list cells: each field's value shown short, read without N+1 queries.

`list_queryset` makes the change list's query lean: long text, JSON and vector
columns are not read whole but as a short preview computed by PostgreSQL (a
1,536-number vector stays in the database), to-one targets come joined (only the
columns their label needs) and to-many targets prefetched, one query per field.
`column_for(field, ...)` is the `list_display` callable of one field: a title,
the ordering behind its header (none for types that cannot sort) and the cell.
The record page shows every value whole.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import IntegerField, Prefetch, TextField
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from .admin_records_form import title_field
from .fieldtypes import field_type

PREVIEW = 80  # characters of a value shown in a list cell
BIG = ("long_text", "json", "vector")  # read as a preview, never whole, by the list
MANY_SHOWN = 5  # to-many targets named in a cell before "+N more"
CHANGE_URL = "admin:datamodels_datamodel_record_change"


def preview_name(field) -> str:
    return f"preview_{field.column}"


def dims_name(field) -> str:
    return f"dims_{field.column}"


def _target_columns(target) -> list[str]:
    """What a target's label needs: its id and title column."""
    title = title_field(target)
    return ["id", title.column] if title else ["id"]


def list_queryset(entry, schema, queryset):
    """The change list's queryset: previews of long values, relation targets loaded in bulk."""
    table = entry.definition.db_table
    big = [f for f in entry.fields if f.type in BIG]
    if big:
        queryset = queryset.defer(*(f.column for f in big))
        annotations = {}
        for field in big:
            column = f'"{table}"."{field.column}"'  # qualified: a self-relation joins the same table
            annotations[preview_name(field)] = RawSQL(f"left({column}::text, %s)", [PREVIEW + 1],
                                                      output_field=TextField())
            if field.type == "vector":
                annotations[dims_name(field)] = RawSQL(f"vector_dims({column})", [], output_field=IntegerField())
        queryset = queryset.annotate(**annotations)
    for field in entry.fields:
        if field.type != "relation":
            continue
        target = schema.by_id[field.related_model_id]
        if field.many:
            targets = target.model.objects.only(*_target_columns(target))
            queryset = queryset.prefetch_related(Prefetch(field.column, queryset=targets))
        else:
            queryset = queryset.select_related(field.column)
            queryset = queryset.defer(*(f"{field.column}__{f.column}" for f in target.fields
                                        if f.column not in _target_columns(target)))
    return queryset


def shorten(text: str) -> str:
    return Truncator(" ".join(text.split())).chars(PREVIEW)


def _target_link(target, record):
    url = reverse(CHANGE_URL, args=[target.definition.pk, record.pk])
    title = title_field(target)
    label = getattr(record, title.column) if title else None
    return format_html('<a href="{}" title="{}">{}</a>', url, record.pk, shorten(label) if label else record.pk)


def _cell(field, schema):
    """A function of a record giving the field's list cell."""
    column = field.column
    if field.type == "relation" and field.many:
        target = schema.by_id[field.related_model_id]

        def cell(record):
            related = list(getattr(record, column).all())
            shown = format_html_join(", ", "{}", ((_target_link(target, r),) for r in related[:MANY_SHOWN]))
            more = len(related) - MANY_SHOWN
            return format_html("{} +{} more", shown, more) if more > 0 else (shown or None)
        return cell
    if field.type == "relation":
        target = schema.by_id[field.related_model_id]
        return lambda record: _target_link(target, getattr(record, column)) if getattr(record, f"{column}_id") else None
    if field.type == "vector":
        return lambda record: _vector_cell(record, field)
    if field.type in BIG:
        return lambda record: _long_cell(getattr(record, preview_name(field)))
    if field.type == "boolean":
        return lambda record: getattr(record, column)
    if field.type == "multi_select":
        return lambda record: ", ".join(getattr(record, column) or []) or None
    kind = field_type(field.type)
    return lambda record: _long_cell(_text(kind.to_json(field, getattr(record, column))))


def _text(value):
    return None if value is None else str(value)


def _long_cell(text):
    return None if text is None else shorten(text)


def _vector_cell(record, field):
    preview = getattr(record, preview_name(field))
    if preview is None:
        return None
    dims = getattr(record, dims_name(field))
    if len(preview) > PREVIEW:
        preview = preview[:preview.rfind(",", 0, PREVIEW)] + ", …]"
    return f"{preview.replace(',', ', ')} ({dims} number{'s' if dims != 1 else ''})"


def _ordering(field, schema) -> str | None:
    if field.type == "relation":
        if field.many:
            return None
        title = title_field(schema.by_id[field.related_model_id])
        return f"{field.column}__{title.column}" if title else f"{field.column}_id"
    return field.column if field_type(field.type).can_sort else None


def column_for(field, schema):
    """The `list_display` callable of one field."""
    return admin.display(
        description=field.name, ordering=_ordering(field, schema), boolean=field.type == "boolean",
    )(_cell(field, schema))
