"""Definition services: create, change and delete data models and fields.

Each service validates, writes the definition, applies the DDL (`datamodels.ddl`)
and bumps the schema version, all in one transaction; invalid or lossy changes
raise `SchemaError` and change nothing. The schema-state row is locked first, so
concurrent schema changes run one after another.
"""

from __future__ import annotations

import copy
import re

from django.db import connection, transaction
from django.db.models import F

from infinity.exceptions import SchemaError

from . import changes, ddl
from .fieldtypes import REGISTRY, InvalidValue, field_type
from .models import DataModel, Field, SchemaState
from .permissions import permissions_delete, permissions_sync

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_NAME = 63
RESERVED_FIELD_NAMES = frozenset(
    {"id", "created_at", "updated_at", "page", "limit", "sort", "filter", "fields", "include", "cursor", "query",
     "threshold", "similarity"}
)
# PostgreSQL's reserved keywords, plus words our URLs use.
RESERVED_MODEL_NAMES = frozenset(
    """all analyse analyze and any array as asc asymmetric both case cast check collate column constraint create
    current_catalog current_date current_role current_time current_timestamp current_user default deferrable desc
    distinct do else end except false fetch for foreign from grant group having in initially intersect into lateral
    leading limit localtime localtimestamp not null offset on only or order placing primary references returning
    select session_user some symmetric table then to trailing true union unique user using variadic when where window
    with search schema""".split()
)
TEXT_SOURCES = frozenset({"text", "long_text", "email", "url", "select"})
# Options that define how values are stored: changing one converts the data.
STORAGE_ATTRS = ("type", "decimal_places", "related_model_id", "many", "dimensions", "choices")
INDEX_ATTRS = ("unique", "indexed")
# Checks of a field definition that other apps add (search: a computed vector's size must
# be its embedding backend's), so datamodels needs not import them: each takes a Field and
# returns messages.
FIELD_CHECKS: list = []


def validate_model_name(name: str) -> list[str]:
    if not isinstance(name, str) or not NAME_RE.match(name):
        return [f'model name "{name}" must start with a lowercase letter and use only a-z, 0-9 and _']
    if len(name) > MAX_NAME:
        return [f'model name "{name}" is longer than {MAX_NAME} characters']
    if name in RESERVED_MODEL_NAMES:
        return [f'model name "{name}" is a reserved word']
    return []


def _validate_label(label) -> list[str]:
    return ["label must be at most 200 characters"] if len(label or "") > 200 else []


def validate_field(field: Field, siblings: list[Field]) -> list[str]:
    """Every problem with one field definition; `siblings` are the model's other fields."""
    name = field.name
    if not isinstance(name, str) or not NAME_RE.match(name) or len(name) > MAX_NAME:
        return [f'field name "{name}" must start with a lowercase letter, use only a-z, 0-9 and _, '
                f"and be at most {MAX_NAME} characters"]
    if name in RESERVED_FIELD_NAMES:
        return [f'field name "{name}" is reserved']
    if field.type not in REGISTRY:
        return [f'{name}: unknown type "{field.type}" (one of: {", ".join(sorted(REGISTRY))})']
    kind = field_type(field.type)
    errors = [f"{name}: {message}" for message in kind.check_options(field)]
    if any(other.name == name for other in siblings):
        errors.append(f'{name}: the model already has a field named "{name}"')
    if field.unique and not kind.can_be_unique:
        errors.append(f"{name}: a {field.type} field cannot be unique")
    errors += _validate_lengths(field)
    errors += _validate_default(field, kind)
    errors += _validate_sources(field, siblings)
    return errors + [f"{name}: {message}" for check in FIELD_CHECKS for message in check(field)]


def _validate_lengths(field: Field) -> list[str]:
    """The definition columns' own limits, said in words rather than as a database error."""
    limits = {"help_text": 500, "regex": 500}
    return [f"{field.name}: {attr} must be at most {limit} characters"
            for attr, limit in limits.items() if len(getattr(field, attr) or "") > limit]


def _validate_default(field: Field, kind) -> list[str]:
    if field.default is None:
        return []
    if field.type in ("relation", "vector"):
        return [f"{field.name}: a {field.type} field cannot have a default"]
    if kind.check_options(field):
        return []
    try:
        kind.validate(field, field.default)
    except InvalidValue as exc:
        return [f"{field.name}: default is invalid: {exc}"]
    return []


def _validate_sources(field: Field, siblings: list[Field]) -> list[str]:
    if field.type != "vector" or not field.source_fields:
        return []
    if not isinstance(field.source_fields, list):
        return [f"{field.name}: source_fields must be a list of field names"]
    by_name = {other.name: other for other in siblings}
    bad = [s for s in field.source_fields if s not in by_name or by_name[s].type not in TEXT_SOURCES]
    if bad:
        return [f"{field.name}: source_fields must name text fields of this model (not: {', '.join(map(str, bad))})"]
    return []


def normalize_field(field: Field) -> Field:
    """Reset options that do not apply to the field's type, so definitions stay canonical."""
    if field.type not in REGISTRY:
        return field
    options = field_type(field.type).options
    resets = {"max_length": None, "regex": "", "min": None, "max": None, "decimal_places": None, "choices": [],
              "to": None, "many": False, "dimensions": None, "source_fields": []}
    attrs = {"min": "min_value", "max": "max_value", "to": "related_model"}
    for option, empty in resets.items():
        if option not in options:
            setattr(field, attrs.get(option, option), empty)
    if field.type in ("relation", "vector"):
        field.indexed = False
    return field


def _lock_schema() -> None:
    """Serialize schema changes on the one state row (recreated if a flush removed it)."""
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO datamodels_schemastate (id, version) VALUES (1, 1) ON CONFLICT (id) DO NOTHING")
    SchemaState.objects.select_for_update().get(pk=1)


def _bump_version() -> None:
    SchemaState.objects.filter(pk=1).update(version=F("version") + 1)


def _raise(errors: list[str]) -> None:
    if errors:
        raise SchemaError("; ".join(errors), details=[{"field": "schema", "message": e} for e in errors])


@transaction.atomic
def data_model_create(*, name: str, label: str = "", description: str = "", fields: list[dict] = ()) -> DataModel:
    """Create a data model, its table and its fields."""
    _lock_schema()
    _raise(validate_model_name(name) + _validate_label(label))
    if DataModel.objects.filter(name=name).exists():
        _raise([f'a model named "{name}" already exists'])
    data_model = DataModel.objects.create(name=name, label=label, description=description)
    ddl.create_table(data_model)
    permissions_sync(data_model=data_model)
    for attrs in fields:
        _field_create(data_model, attrs)
    changes.install(data_model)
    _bump_version()
    return data_model


@transaction.atomic
def data_model_update(*, data_model: DataModel, **attrs) -> DataModel:
    """Rename or relabel a data model: metadata only, the table keeps its id-based name."""
    _lock_schema()
    if "name" in attrs and attrs["name"] != data_model.name:
        _raise(validate_model_name(attrs["name"]))
        if DataModel.objects.filter(name=attrs["name"]).exclude(pk=data_model.pk).exists():
            _raise([f'a model named "{attrs["name"]}" already exists'])
    _raise(_validate_label(attrs.get("label", "")))
    old_name = DataModel.objects.filter(pk=data_model.pk).values_list("name", flat=True).first()
    for key, value in attrs.items():
        setattr(data_model, key, value)
    data_model.save()
    permissions_sync(data_model=data_model, old_name=old_name)
    _bump_version()
    return data_model


@transaction.atomic
def data_model_delete(*, data_model: DataModel) -> None:
    """Drop a data model and its table; refused while other models relate to it."""
    _lock_schema()
    incoming = Field.objects.filter(related_model=data_model).exclude(data_model=data_model).select_related("data_model")
    if incoming:
        names = ", ".join(f"{f.data_model.name}.{f.name}" for f in incoming)
        _raise([f'"{data_model.name}" cannot be deleted while these relations point to it: {names}'])
    for field in data_model.fields.filter(type="relation", many=True):
        ddl.drop_field(field)
    ddl.drop_table(data_model)
    changes.uninstall(data_model.pk)
    permissions_delete(data_model=data_model)
    data_model.fields.all().delete()
    data_model.delete()
    _bump_version()


@transaction.atomic
def field_create(*, data_model: DataModel, **attrs) -> Field:
    """Add a field: a column (or join table) appears in the same transaction."""
    _lock_schema()
    field = _field_create(data_model, attrs)
    changes.install(data_model)
    _bump_version()
    return field


def _field_create(data_model: DataModel, attrs: dict) -> Field:
    siblings = list(data_model.fields.all())
    attrs.setdefault("position", len(siblings))
    field = normalize_field(Field(data_model=data_model, **attrs))
    _raise(validate_field(field, siblings))
    field.save()
    ddl.add_field(field)
    return field


@transaction.atomic
def field_update(*, field: Field, force: bool = False, **attrs) -> Field:
    """Change a field. Renames and option changes are metadata; a retype converts the data.

    Values that would not survive a retype (or a change of relation target or vector
    size) make the change refused, with their count, unless `force` is given, in
    which case they become empty.
    """
    _lock_schema()
    old = Field.objects.select_related("data_model").get(pk=field.pk)
    new = copy.copy(old)
    for key, value in attrs.items():
        setattr(new, key, value)
    normalize_field(new)
    siblings = list(old.data_model.fields.exclude(pk=old.pk))
    _raise(validate_field(new, siblings))
    _check_source_type(old, new, siblings)
    _check_rename(old, new, siblings)
    _apply_field_change(old, new, force)
    new.save()
    changes.install(old.data_model)
    _bump_version()
    return new


def _check_source_type(old: Field, new: Field, siblings: list[Field]) -> None:
    """A source of a computed vector stays a text field, as when the vector was defined
    (its text and full-text index read it as text)."""
    users = [other.name for other in siblings if other.type == "vector" and old.name in other.source_fields]
    if users and new.type not in TEXT_SOURCES:
        _raise([f'"{old.name}" is a source of vector field(s) {", ".join(users)}: it must stay a text field '
                f"({', '.join(sorted(TEXT_SOURCES))}); remove it there first"])


def _check_rename(old: Field, new: Field, siblings: list[Field]) -> None:
    """Keep vector fields' source_fields pointing at a renamed field."""
    if old.name == new.name:
        return
    for other in siblings:
        if other.type == "vector" and old.name in other.source_fields:
            other.source_fields = [new.name if s == old.name else s for s in other.source_fields]
            other.save(update_fields=["source_fields"])


def storage_changed(old: Field, new: Field) -> bool:
    return any(getattr(old, attr) != getattr(new, attr) for attr in STORAGE_ATTRS)


def field_change_problem(old: Field, new: Field) -> str | None:
    """Why a change would lose data (a message), or None when it is safe."""
    if storage_changed(old, new):
        bad = ddl.count_unconvertible(old, new)
        if bad:
            what = "convert" if ddl.is_convertible(old, new) else "carry over"
            return (f'changing "{old.name}" from {describe(old)} to {describe(new)} would lose {bad} value(s) '
                    f"that do not {what}; fix or clear them first, or force the change")
    if new.unique and not old.unique and not storage_changed(old, new):
        dupes = ddl.count_duplicates(old)
        if dupes:
            return f'"{old.name}" cannot be unique: {dupes} value(s) occur more than once'
    return None


def describe(field: Field) -> str:
    if field.type == "relation":
        return f"relation to model #{field.related_model_id}{' (many)' if field.many else ''}"
    if field.type == "vector":
        return f"vector({field.dimensions})"
    return field.type


def _apply_field_change(old: Field, new: Field, force: bool) -> None:
    problem = field_change_problem(old, new)
    if problem and not (force and storage_changed(old, new)):
        _raise([problem])
    if storage_changed(old, new):
        ddl.drop_constraints(old)
        if ddl.is_convertible(old, new):
            ddl.convert_field(old, new)
            _refuse_duplicates(old, new)
            ddl.add_constraints(new)
        else:
            ddl.drop_field(old)
            ddl.add_field(new)
    elif any(getattr(old, attr) != getattr(new, attr) for attr in INDEX_ATTRS):
        ddl.drop_constraints(old)
        ddl.add_constraints(new)
    elif old.source_fields != new.source_fields:
        ddl.replace_text_index(old, new)  # the full-text index of the sources, not the HNSW index


def _refuse_duplicates(old: Field, new: Field) -> None:
    """A retype can make distinct values equal ("1" and "01" as integers): check once converted."""
    dupes = ddl.count_duplicates(new) if new.unique else 0
    if dupes:
        _raise([f'"{old.name}" cannot be unique: {dupes} value(s) would occur more than once as {describe(new)}'])


@transaction.atomic
def field_delete(*, field: Field) -> None:
    """Drop a field and its data; refused while a vector field embeds it."""
    _lock_schema()
    users = [f.name for f in field.data_model.fields.filter(type="vector") if field.name in f.source_fields]
    if users:
        _raise([f'"{field.name}" is a source of vector field(s) {", ".join(users)}; remove it there first'])
    data_model = field.data_model
    ddl.drop_field(field)
    field.delete()
    changes.install(data_model)
    _bump_version()
