"""Computed vector fields: the text a record's vector is made from, and its fingerprint.

A vector field with `source_fields` embeds its record's source fields joined by new
lines (empty ones left out). The text and its fingerprint are SQL expressions, so
PostgreSQL finds the records whose vector is missing or stale itself, and a vector
is stored only while its record still holds the text it was computed from (the
latest text wins). The fingerprint is the md5 of the backend's identity, the source
columns and the text: changing the backend or `source_fields` makes every vector of
the field stale; renaming a source field does not (columns are named by id).
"""

from __future__ import annotations

from datamodels.dynamic import ModelEntry, Schema
from datamodels.models import Field

from .backends import backend

SEPARATOR = "\n"


def is_computed(field) -> bool:
    return field.type == "vector" and bool(field.source_fields)


def computed_fields(entry: ModelEntry) -> list:
    return [f for f in entry.fields if is_computed(f)]


def source_columns(entry: ModelEntry, field) -> list[str]:
    return [entry.by_name[name].column for name in field.source_fields if name in entry.by_name]


def text_sql(entry: ModelEntry, field, row: str = "t") -> str:
    """The record's text: its non-empty source values, one per line ('' when none)."""
    parts = ", ".join(f"nullif({row}.\"{column}\"::text, '')" for column in source_columns(entry, field))
    return f"coalesce(concat_ws(E'\\n', {parts}), '')"


def fingerprint_prefix(entry: ModelEntry, field) -> str:
    """What the fingerprint hashes before the text: the backend and the source columns."""
    return f"{backend().identity}|{','.join(source_columns(entry, field))}|"


def fingerprint_sql(entry: ModelEntry, field, row: str = "t") -> str:
    """SQL for the fingerprint of the record's current text (`%s` takes `fingerprint_prefix`)."""
    return f"md5(%s || {text_sql(entry, field, row)})"


def find_field(schema: Schema, field_id: int) -> tuple[ModelEntry, Field] | tuple[None, None]:
    """The model entry and field of a vector field id, in this schema (None, None if gone)."""
    for entry in schema.by_id.values():
        for field in entry.fields:
            if field.pk == field_id:
                return entry, field
    return None, None


def check_vector_field(field) -> list[str]:
    """`datamodels.services.FIELD_CHECKS`: a computed vector must have its backend's size."""
    if not is_computed(field) or not field.dimensions:
        return []
    try:
        made = backend()
    except ValueError as exc:  # a misconfigured backend: say so where the field is saved
        return [str(exc)]
    if field.dimensions != made.dimensions:
        return [f"dimensions must be {made.dimensions}: the {made.name} embedding backend ({made.identity}) "
                "computes this field from its source_fields"]
    return []
