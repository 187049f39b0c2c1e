"""Schema files: every data model as one JSON document (SPEC §2), exported and applied.

`schema_export()` writes the definitions as `{"models": [...]}`, leaving out options
that hold their defaults; `dumps()` turns that into the canonical text, so
export → apply on an empty database → export gives the same bytes.

`schema_plan(document, prune=...)` validates a whole document (collecting every
problem, each prefixed with its place, e.g. `customers.email: unknown option "uniq"`)
and compares it with the database by model and field name; `schema_apply()` runs
that plan through `datamodels.services` in one transaction, all or nothing. A file
is declarative: an option it leaves out means the option's default, and applying
the same file twice finds nothing to do the second time.

Validation reports the shape of entries first (unknown keys, JSON types, options
the type ignores, unknown relation targets); each model's field-type checks (names,
types, option values, defaults, vector sources) follow once its entries are
well-formed, so they can see every sibling. New fields are appended after a model's
existing ones in file order; existing fields keep their positions.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field as dc_field

from django.db import DatabaseError, transaction
from django.db.models import Prefetch

from infinity.exceptions import SchemaError

from . import services
from .fieldtypes import REGISTRY, field_type
from .models import DataModel, Field, SchemaState

MODEL_KEYS = frozenset({"name", "label", "description", "fields"})
# Options every type accepts; the others are listed by each type (`FieldType.options`).
COMMON_OPTIONS = frozenset({"required", "unique", "indexed", "default", "help_text"})
# Relations and vectors are always indexed, so `indexed` means nothing for them.
ALWAYS_INDEXED = frozenset({"relation", "vector"})


def _is_bool(value) -> bool:
    return isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _is_natural(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_str(value) -> bool:
    return isinstance(value, str)


def _is_any(value) -> bool:
    return True


@dataclass(frozen=True)
class Option:
    """A field option of the schema file and the `Field` attribute that stores it."""

    attr: str
    default: object
    check: object
    expected: str


# In export order. `default` is any JSON value: its type is checked by the field type.
OPTIONS: dict[str, Option] = {
    "required": Option("required", False, _is_bool, "true or false"),
    "unique": Option("unique", False, _is_bool, "true or false"),
    "indexed": Option("indexed", False, _is_bool, "true or false"),
    "default": Option("default", None, _is_any, "any JSON value"),
    "min": Option("min_value", None, _is_number, "a finite number"),
    "max": Option("max_value", None, _is_number, "a finite number"),
    "regex": Option("regex", "", _is_str, "a string"),
    "help_text": Option("help_text", "", _is_str, "a string"),
    "max_length": Option("max_length", None, _is_count, "a positive integer"),
    "decimal_places": Option("decimal_places", None, _is_natural, "a non-negative integer"),
    "choices": Option("choices", [], _is_strings, "a list of strings"),
    "to": Option("related_model", None, _is_str, "a model name"),
    "many": Option("many", False, _is_bool, "true or false"),
    "dimensions": Option("dimensions", None, _is_count, "a positive integer"),
    "source_fields": Option("source_fields", [], _is_strings, "a list of field names"),
}


@dataclass
class Operation:
    """One change of a plan; `str()` gives its one-line description."""

    action: str  # create_model, update_model, add_field, change_field, remove_field, remove_model
    model: str
    field: str = ""
    position: int | None = None
    # File-level values to set: model label/description, or field options (`to` is a model name).
    values: dict = dc_field(default_factory=dict)
    description: str = ""

    def __str__(self) -> str:
        return self.description

    @property
    def place(self) -> str:
        return f"{self.model}.{self.field}" if self.field else self.model


# --- export -------------------------------------------------------------------


def schema_export() -> dict:
    """Every data model as a schema-file document, models by name, fields by position."""
    fields = Field.objects.select_related("related_model").order_by("position", "id")
    models = DataModel.objects.order_by("name").prefetch_related(Prefetch("fields", queryset=fields))
    return {"models": [_export_model(data_model) for data_model in models]}


def dumps(document: dict) -> str:
    """The canonical text of a schema document."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _export_model(data_model: DataModel) -> dict:
    out = {"name": data_model.name}
    if data_model.label:
        out["label"] = data_model.label
    if data_model.description:
        out["description"] = data_model.description
    out["fields"] = [_export_field(f) for f in data_model.fields.all()]
    return out


def _export_field(field: Field) -> dict:
    out = {"name": field.name, "type": field.type}
    for name, value in _stored_options(field).items():
        if not _same(value, OPTIONS[name].default):
            out[name] = value
    return out


def _stored_options(field: Field) -> dict:
    """A stored field's options in schema-file terms."""
    values = {name: getattr(field, option.attr) for name, option in OPTIONS.items()}
    values["to"] = field.related_model.name if field.related_model_id else None
    for name in ("min", "max"):
        # Stored as floats; `5` reads better than `5.0` (and compares equal).
        if isinstance(values[name], float) and values[name].is_integer():
            values[name] = int(values[name])
    return values


def _same(a, b) -> bool:
    """JSON equality: 1 equals 1.0, but true does not equal 1."""
    return json.dumps(_canonical(a), sort_keys=True) == json.dumps(_canonical(b), sort_keys=True)


def _canonical(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    return value


# --- validation ---------------------------------------------------------------


@dataclass
class Current:
    """The database's definitions, read once per plan."""

    models: dict[str, DataModel]
    fields: dict[str, dict[str, Field]]

    @classmethod
    def load(cls) -> Current:
        fields = Field.objects.select_related("related_model").order_by("position", "id")
        models = {m.name: m for m in DataModel.objects.prefetch_related(Prefetch("fields", queryset=fields))}
        return cls(models, {name: {f.name: f for f in m.fields.all()} for name, m in models.items()})


def validate_document(document, current: Current, *, prune: bool) -> list[str]:
    """Every problem of a schema document, each naming its place; empty when it is valid."""
    if not isinstance(document, dict) or not isinstance(document.get("models"), list):
        return ['the schema file must be a JSON object of the form {"models": [...]}']
    problems = [f'unknown top-level key "{key}"' for key in document if key != "models"]
    file_names = [m.get("name") for m in document["models"] if isinstance(m, dict) and isinstance(m.get("name"), str)]
    targets = set(file_names) if prune else set(file_names) | set(current.models)
    seen = set()
    for index, model in enumerate(document["models"]):
        name = model.get("name") if isinstance(model, dict) else None
        if not isinstance(name, str):
            name = f"models[{index}]"
        elif name in seen:
            problems.append(f"{name}: model declared more than once")
            continue
        seen.add(name)
        problems += _model_problems(model, name, current, targets, prune=prune)
    return problems


def _model_problems(model, place: str, current: Current, targets: set, *, prune: bool) -> list[str]:
    if not isinstance(model, dict):
        return [f"{place}: must be an object"]
    problems = [f'{place}: unknown key "{key}"' for key in model if key not in MODEL_KEYS]
    if "name" not in model:
        problems.append(f'{place}: "name" is required')
    elif not isinstance(model["name"], str):
        problems.append(f'{place}: "name" must be a string')
    else:
        problems += services.validate_model_name(model["name"])
    problems += [f'{place}: "{key}" must be a string' for key in ("label", "description")
                 if not isinstance(model.get(key, ""), str)]
    if not isinstance(model.get("fields", []), list):
        return [*problems, f'{place}: "fields" must be a list']
    specs, shape_problems = _field_specs(model.get("fields", []), place, targets)
    problems += shape_problems
    if not shape_problems:
        problems += _definition_problems(specs, place, current.fields.get(place, {}), current, prune=prune)
    return problems


def _field_specs(fields: list, model: str, targets: set) -> tuple[list[dict], list[str]]:
    """The well-formed field entries with their defaults filled in, and the problems of the others."""
    specs, problems, seen = [], [], set()
    for index, entry in enumerate(fields):
        name = entry.get("name") if isinstance(entry, dict) else None
        place = f"{model}.{name}" if isinstance(name, str) else f"{model}.fields[{index}]"
        if place in seen:
            problems.append(f"{place}: field declared more than once")
            continue
        seen.add(place)
        entry_problems = _field_shape_problems(entry, place, targets)
        problems += entry_problems
        if not entry_problems:
            specs.append(_spec(entry))
    return specs, problems


def _spec(entry: dict) -> dict:
    """A field entry with every option it leaves out set to its default."""
    return {**{name: option.default for name, option in OPTIONS.items()}, **entry}


def _field_shape_problems(entry, place: str, targets: set) -> list[str]:
    if not isinstance(entry, dict):
        return [f"{place}: must be an object"]
    problems = [f'{place}: "{key}" is required' for key in ("name", "type") if key not in entry]
    problems += [f'{place}: "{key}" must be a string' for key in ("name", "type")
                 if key in entry and not isinstance(entry[key], str)]
    kind = entry.get("type")
    allowed = _applicable(kind) if isinstance(kind, str) and kind in REGISTRY else None
    for key, value in entry.items():
        if key in ("name", "type"):
            continue
        if key not in OPTIONS:
            problems.append(f'{place}: unknown option "{key}"')
        elif not (OPTIONS[key].check(value) or (value is None and OPTIONS[key].default is None)):
            problems.append(f'{place}: "{key}" must be {OPTIONS[key].expected}')
        # Spelling out a default is harmless; setting an option the type ignores is a mistake.
        elif allowed is not None and key not in allowed and not _same(value, OPTIONS[key].default):
            problems.append(f'{place}: option "{key}" does not apply to {kind} fields')
    if kind == "relation" and isinstance(entry.get("to"), str) and entry["to"] not in targets:
        problems.append(f'{place}: relation to unknown model "{entry["to"]}"')
    return problems


def _definition_problems(specs: list[dict], model: str, stored: dict, current: Current, *, prune: bool) -> list[str]:
    """The field types' own checks (names, types, options, defaults, sources), as the services make them."""
    drafts = [_draft(spec, current) for spec in specs]
    declared = {draft.name for draft in drafts}
    # Without --prune, fields the file leaves out stay, and can be vector sources.
    kept = [] if prune else [f for name, f in stored.items() if name not in declared]
    problems = []
    for draft in drafts:
        siblings = [other for other in drafts if other is not draft] + kept
        problems += [_locate(model, draft.name, message) for message in services.validate_field(draft, siblings)]
    return problems


def _draft(spec: dict, current: Current) -> Field:
    """An unsaved `Field` holding a file entry, for validation only."""
    attrs = {OPTIONS[n].attr: v for n, v in spec.items() if n in OPTIONS and n != "to"}
    draft = Field(name=spec["name"], type=spec["type"], **attrs)
    if spec["to"] is not None:
        # A model created by the same file has no id yet; any id satisfies the checks.
        target = current.models.get(spec["to"])
        draft.related_model_id = target.pk if target else 0
    return draft


def _locate(model: str, field: str, message: str) -> str:
    """`model.field: message`, without repeating the field name the services put first."""
    prefix = f"{field}: "
    return f"{model}.{field}: {message.removeprefix(prefix)}"


# --- plan ---------------------------------------------------------------------


def schema_plan(document, *, prune: bool) -> list[Operation]:
    """The operations that make the database match `document`, in the order they run.

    Raises `SchemaError` listing every problem of the document. New models come
    first without their fields, then every new field, so relations may point to a
    model declared later in the file; then changes; with `prune`, removals last.
    """
    current = Current.load()
    problems = validate_document(document, current, prune=prune)
    if problems:
        raise SchemaError("; ".join(problems), details=[{"field": "schema", "message": p} for p in problems])
    models = document["models"]
    plan = [Operation("create_model", m["name"], values=_model_values(m), description=f"+ model {m['name']}")
            for m in models if m["name"] not in current.models]
    for model in models:
        plan += _field_additions(model, current.fields.get(model["name"], {}))
    for model in models:
        plan += _model_changes(model, current.models.get(model["name"]))
        plan += _field_changes(model, current.fields.get(model["name"], {}))
    if prune:
        for model in models:
            plan += _field_removals(model, current.fields.get(model["name"], {}))
        declared = {m["name"] for m in models}
        plan += [Operation("remove_model", name, description=f"- model {name}")
                 for name in sorted(current.models) if name not in declared]
    return plan


def _model_values(model: dict) -> dict:
    return {"label": model.get("label", ""), "description": model.get("description", "")}


def _model_changes(model: dict, stored: DataModel | None) -> list[Operation]:
    if stored is None:
        return []
    wanted = _model_values(model)
    diffs = {key: value for key, value in wanted.items() if value != getattr(stored, key)}
    if not diffs:
        return []
    shown = ", ".join(f"{key} {_show(key, getattr(stored, key))} -> {_show(key, v)}" for key, v in diffs.items())
    return [Operation("update_model", model["name"], values=diffs, description=f"~ model {model['name']}: {shown}")]


def _field_additions(model: dict, stored: dict[str, Field]) -> list[Operation]:
    """New fields after the existing ones, in file order; vectors added after their sources."""
    new = [_spec(entry) for entry in model.get("fields", []) if entry["name"] not in stored]
    base = max((f.position for f in stored.values()), default=-1) + 1
    ordered = sorted(enumerate(new), key=lambda pair: pair[1]["type"] == "vector")
    return [_addition(model["name"], spec, base + index) for index, spec in ordered]


def _addition(model: str, spec: dict, position: int) -> Operation:
    values = {n: spec[n] for n in OPTIONS if not _same(spec[n], OPTIONS[n].default)}
    values["type"] = spec["type"]
    kind = spec["type"]
    if kind == "relation":
        kind += f" to {spec['to']}"
    elif kind == "vector":
        kind += f"({spec['dimensions']})"
    flags = [flag for flag in ("required", "unique", "indexed", "many") if spec[flag]]
    return Operation("add_field", model, spec["name"], position=position, values=values,
                     description=f"+ field {model}.{spec['name']} ({', '.join([kind, *flags])})")


def _field_changes(model: dict, stored: dict[str, Field]) -> list[Operation]:
    operations = []
    for entry in model.get("fields", []):
        if entry["name"] not in stored:
            continue
        spec, field = _spec(entry), stored[entry["name"]]
        before = {"type": field.type, **_stored_options(field)}
        # Options the new type lacks are reset by the services; they are not changes to show.
        relevant = ["type", *(n for n in OPTIONS if n in _applicable(spec["type"]))]
        diffs = {n: spec[n] for n in relevant if not _same(spec[n], before[n])}
        if diffs:
            shown = ", ".join(f"{n} {_show(n, before[n])} -> {_show(n, v)}" for n, v in diffs.items())
            operations.append(Operation("change_field", model["name"], entry["name"], values=diffs,
                                        description=f"~ field {model['name']}.{entry['name']}: {shown}"))
    return operations


def _applicable(kind: str) -> frozenset[str]:
    options = COMMON_OPTIONS | field_type(kind).options
    return options - {"indexed"} if kind in ALWAYS_INDEXED else options


def _field_removals(model: dict, stored: dict[str, Field]) -> list[Operation]:
    declared = {entry["name"] for entry in model.get("fields", [])}
    # Vector fields go first: a field cannot be removed while a vector embeds it.
    doomed = sorted((f for name, f in stored.items() if name not in declared), key=lambda f: f.type != "vector")
    return [Operation("remove_field", model["name"], f.name, description=f"- field {model['name']}.{f.name}")
            for f in doomed]


def _show(name: str, value) -> str:
    if name in ("type", "to") and isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


# --- apply --------------------------------------------------------------------


def schema_apply(document, *, prune: bool = False, dry_run: bool = False, force: bool = False) -> list[Operation]:
    """Make the database match `document` in one transaction, and return the plan.

    Any failure undoes every operation and raises `SchemaError` naming the model or
    field concerned. `force` lets lossy retypes through; `dry_run` runs the whole
    plan (so it reports the same errors) and then rolls it back.
    """
    with transaction.atomic():
        # Plan and apply under the schema lock, so no concurrent change slips in between.
        SchemaState.objects.select_for_update().get(pk=1)
        plan = schema_plan(document, prune=prune)
        doomed = {op.model for op in plan if op.action == "remove_model"}
        for operation in plan:
            _execute(operation, force=force, doomed=doomed)
        if dry_run:
            transaction.set_rollback(True)
    return plan


def _execute(op: Operation, *, force: bool, doomed: set[str]) -> None:
    try:
        ACTIONS[op.action](op, force=force, doomed=doomed)
    except SchemaError as exc:
        message = _locate(op.model, op.field, exc.message) if op.field else f"{op.model}: {exc.message}"
        raise SchemaError(message, details=exc.details) from exc
    except DatabaseError as exc:
        # The services should have refused this first; still, say where it failed, in one line.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SchemaError(f"{op.place}: the database refused the change: {reason}") from exc


def _field_attrs(values: dict) -> dict:
    """File-level option values → keyword arguments of the field services."""
    attrs = {}
    for name, value in values.items():
        if name == "to":
            attrs["related_model"] = DataModel.objects.get(name=value) if value is not None else None
        else:
            attrs[OPTIONS[name].attr if name in OPTIONS else name] = value
    return attrs


def _stored_field(op: Operation) -> Field:
    return Field.objects.select_related("data_model").get(data_model__name=op.model, name=op.field)


def _create_model(op: Operation, **_) -> None:
    services.data_model_create(name=op.model, **op.values)


def _update_model(op: Operation, **_) -> None:
    services.data_model_update(data_model=DataModel.objects.get(name=op.model), **op.values)


def _add_field(op: Operation, **_) -> None:
    data_model = DataModel.objects.get(name=op.model)
    services.field_create(data_model=data_model, name=op.field, position=op.position, **_field_attrs(op.values))


def _change_field(op: Operation, *, force: bool, **_) -> None:
    services.field_update(field=_stored_field(op), force=force, **_field_attrs(op.values))


def _remove_field(op: Operation, **_) -> None:
    services.field_delete(field=_stored_field(op))


def _remove_model(op: Operation, *, doomed: set[str], **_) -> None:
    data_model = DataModel.objects.get(name=op.model)
    # Relations from other models being removed would block the delete; they go anyway.
    incoming = Field.objects.filter(related_model=data_model, data_model__name__in=doomed)
    for relation in incoming.exclude(data_model=data_model).select_related("data_model"):
        services.field_delete(field=relation)
    services.data_model_delete(data_model=data_model)


ACTIONS = {
    "create_model": _create_model,
    "update_model": _update_model,
    "add_field": _add_field,
    "change_field": _change_field,
    "remove_field": _remove_field,
    "remove_model": _remove_model,
}
