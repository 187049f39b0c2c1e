"""Record services: validate and write records of any data model.

The records API and the admin records browser both write through here, so a value
is checked the same way wherever it comes from. Every write is one transaction;
invalid input raises `ValidationFailed` (one detail per field) before anything is
written, and a unique clash raises `Conflict`.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field as dc_field

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from ulid import ULID

from infinity.exceptions import BadRequest, Conflict, ValidationFailed

from . import compiled
from .dynamic import ModelEntry
from .fieldtypes import InvalidValue, field_type

READ_ONLY = ("id", "created_at", "updated_at")
MAX_BULK = 1000


def new_record_id() -> str:
    return f"rec_{ULID()}"


@dataclass
class CleanRecord:
    """Validated values: columns for the row, and id lists for to-many relations."""

    columns: dict = dc_field(default_factory=dict)
    many: dict = dc_field(default_factory=dict)


def clean_record(entry: ModelEntry, data, *, partial: bool, index: int | None = None,
                 relations: bool = True) -> tuple[CleanRecord, list]:
    """Validate one body against the model; return the clean values and the error details
    (`relations=False`: related ids are not looked up, for callers that check them in bulk)."""
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object (or an array of objects to create several)")
    by_name = entry.by_name
    errors = [_detail(key, _unknown_message(key), index) for key in data if key not in by_name]
    clean = CleanRecord()
    columns, many = clean.columns, clean.many
    for name, field, validate, attname, required in _plan(entry):
        if validate is None:  # a vector computed from source_fields in the background (search)
            message = "Computed from source_fields: it cannot be set" if name in data else None
        elif name in data:
            value, message = _clean_value(data[name], validate, required)
            if message is None:
                if attname is None:
                    many[field] = value or []
                else:
                    columns[attname] = value
        elif partial:
            continue
        else:
            message = _clean_default(field, clean)
        if message:
            errors.append(_detail(name, message, index))
    if not errors and relations:
        errors += _check_relations(entry, clean, index)
    return clean, errors


def _plan(entry: ModelEntry) -> list[tuple]:
    """Per field, what `clean_record` needs, worked out once per model class (a record
    check is then a loop over tuples, not registry and attribute look-ups per value):
    (name, field, its type's `validator` or None for a computed vector, attname or None for
    to-many, required)."""
    plan = entry.derived.get("clean_plan")
    if plan is None:
        plan = entry.derived["clean_plan"] = [
            (f.name, f, None if f.type == "vector" and f.source_fields else field_type(f.type).validator(f),
             None if f.type == "relation" and f.many else field_type(f.type).attname(f), bool(f.required))
            for f in entry.fields]
    return plan


def _clean_value(value, validate, required: bool) -> tuple:
    """(the value to store, None) or (None, the message refusing it)."""
    if value.__class__ is str:  # the common case, without `_has_nul`'s walk
        if "\x00" in value:
            return None, "Must not contain NUL characters"
    elif _has_nul(value):
        return None, "Must not contain NUL characters"
    if value is None or (required and (value == "" or value == [])):
        return None, ("This field is required" if required else None)
    try:
        return validate(value), None
    except InvalidValue as exc:
        return None, str(exc)


def _unknown_message(key: str) -> str:
    return f"{key} is read-only" if key in READ_ONLY else "Unknown field"


def _detail(name: str, message: str, index: int | None) -> dict:
    detail = {"field": name, "message": message}
    if index is not None:
        detail["index"] = index
    return detail


def _store(field, value, clean: CleanRecord) -> None:
    if field.type == "relation" and field.many:
        clean.many[field] = value or []
    else:
        clean.columns[field_type(field.type).attname(field)] = value


def _has_nul(value) -> bool:
    """PostgreSQL's text and jsonb cannot hold U+0000: it would fail as a server error."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    return False


def _clean_default(field, clean: CleanRecord) -> str | None:
    if field.default is not None:
        _store(field, field_type(field.type).validate(field, field.default), clean)
        return None
    if field.required:
        return "This field is required"
    _store(field, None, clean)
    return None


def _check_relations(entry: ModelEntry, clean: CleanRecord, index) -> list:
    """Every related id must exist: one query per relation field, not per id."""
    errors = []
    for field in entry.fields:
        if field.type != "relation":
            continue
        ids = clean.many.get(field) if field.many else clean.columns.get(field_type(field.type).attname(field))
        ids = [ids] if isinstance(ids, str) else list(ids or [])
        if not ids:
            continue
        # The generated class knows its targets: no schema lookup (a query) per record.
        target = entry.model._meta.get_field(field.column).related_model
        found = set(target.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = [i for i in ids if i not in found]
        if missing:
            errors.append(_detail(field.name, f"No such record: {', '.join(missing)}", index))
    return errors


def _raise_if(errors: list) -> None:
    if errors:
        raise ValidationFailed("Invalid field value", details=errors)


def record_create(*, entry: ModelEntry, data: dict, stamp: tuple[int, int] | None = None):
    """Create one record; `created_at` and `updated_at` are the same instant.

    `stamp` is that of the schema `entry` comes from: the INSERT checks it is still
    current, and raises `StaleSchema` having written nothing if it is not.
    """
    clean, errors = clean_record(entry, data, partial=False)
    _raise_if(errors)
    with _unique_guard(entry), _atomic_unless_one_statement(clean):
        return _insert(entry, clean, timezone.now(), stamp)


def _atomic_unless_one_statement(clean: CleanRecord):
    """A transaction (or savepoint) around a write, except a lone INSERT in autocommit,
    which is atomic already and saves the BEGIN and COMMIT round trips."""
    if clean.many or connection.in_atomic_block:
        return transaction.atomic()
    return nullcontext()


def records_create_bulk(*, entry: ModelEntry, items: list, stamp: tuple[int, int] | None = None) -> list:
    """Create every record of `items` in one transaction, or none (`stamp`: as in `record_create`)."""
    if not items or len(items) > MAX_BULK:
        raise ValidationFailed(
            "Invalid bulk request", details=[{"field": "body", "message": f"Send between 1 and {MAX_BULK} records"}]
        )
    cleaned, errors = [], []
    for index, data in enumerate(items):
        clean, item_errors = clean_record(entry, data, partial=False, index=index)
        cleaned.append(clean)
        errors += item_errors
    _raise_if(errors)
    now = timezone.now()
    with transaction.atomic():
        created = []
        for index, clean in enumerate(cleaned):
            with _unique_guard(entry, index=index), transaction.atomic():
                created.append(_insert(entry, clean, now, stamp))
        return created


def _insert(entry: ModelEntry, clean: CleanRecord, now, stamp=None):
    record = entry.model(id=new_record_id(), created_at=now, updated_at=now, **clean.columns)
    compiled.insert(record, stamp)  # the instance then holds what was stored
    _write_many(record, clean, replace=False)
    return record


def _write_many(record, clean: CleanRecord, *, replace: bool) -> None:
    for field, ids in clean.many.items():
        through = getattr(type(record), field.column).through
        if replace:
            through.objects.filter(source_id=record.pk).delete()
        through.objects.bulk_create([through(source_id=record.pk, target_id=i) for i in ids])


def record_update(*, entry: ModelEntry, record, data: dict, partial: bool):
    """PUT (`partial=False`: omitted optional fields reset to their default) or PATCH."""
    clean, errors = clean_record(entry, data, partial=partial)
    _raise_if(errors)
    for column, value in clean.columns.items():
        setattr(record, column, value)
    record.updated_at = timezone.now()
    with _unique_guard(entry), transaction.atomic():
        record.save(force_update=True)
        _write_many(record, clean, replace=True)
    return record


def record_delete(*, entry: ModelEntry, record) -> None:
    """Delete one record; PostgreSQL clears relations to it (SET NULL / CASCADE on join rows)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{entry.definition.db_table}" WHERE id = %s', [record.pk])


class _unique_guard:
    """Turns a unique-index violation into `Conflict` naming the field (and bulk item)."""

    def __init__(self, entry: ModelEntry, index: int | None = None):
        self.entry, self.index = entry, index

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None or not issubclass(exc_type, IntegrityError):
            return False
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", "") or ""
        by_column = {f.column: f.name for f in self.entry.fields}
        for column, name in by_column.items():
            if constraint.endswith(f"_{column}_uniq"):
                detail = _detail(name, "Must be unique: this value is already used", self.index)
                raise Conflict("A record with this value already exists", details=[detail]) from None
        if constraint.endswith("_fk"):
            raise ValidationFailed("Invalid field value", details=[{"field": "relation", "message": "No such record"}])
        return False
