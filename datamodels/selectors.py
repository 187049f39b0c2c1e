"""Record reads: single records, and the renderer that turns rows into JSON-ready dicts.

Rows come from `QuerySet.values()` or compiled statements (no model instances);
to-many ids and every `include` level cost one query each, whatever the page size,
so a list request (see `lists`) runs a small fixed number of queries.
"""

from __future__ import annotations

import hashlib

from infinity import prefetch
from infinity.exceptions import NotFound

from . import compiled
from .dynamic import ModelEntry, Schema
from .fieldtypes import field_type
from .fieldtypes.scalars import datetime_json_sql, format_datetime

SYSTEM = ("id", "created_at", "updated_at")


def etag_for(record_id: str, updated_at) -> str:
    """A strong validator that changes with every write (updated_at moves on each)."""
    digest = hashlib.sha256(f"{record_id}|{updated_at.isoformat()}".encode()).hexdigest()[:32]
    return f'"{digest}"'


def _shown_fields(entry: ModelEntry, fields: list[str] | None, include: dict) -> list:
    if fields is None:
        return [f for f in entry.fields if f.type != "vector" or f.name in include]
    wanted = set(fields) | set(include)
    return [f for f in entry.fields if f.name in wanted]


class RecordRenderer:
    """Renders rows of one model, with `fields` and nested `include`, into JSON dicts."""

    def __init__(self, entry: ModelEntry, schema: Schema, fields=None, include=None):
        self.entry, self.schema = entry, schema
        self.include = include or {}
        self.system = [c for c in SYSTEM if fields is None or c in fields]
        self.shown = _shown_fields(entry, fields, self.include)
        self.single = [f for f in self.shown if not (f.type == "relation" and f.many)]
        self.many = [f for f in self.shown if f.type == "relation" and f.many]
        self.converters = [(f.name, f.column, field_type(f.type).to_json, f) for f in self.single]
        self._columns = [*SYSTEM, *(f.column for f in self.single)]
        self.sql_json = self._sql_json()

    def _sql_json(self, row: str = compiled.ROW) -> list[str] | None:
        """The select list of a `row_to_json` that writes records exactly as `render` does,
        from the row aliased `row`; None when a field needs Python or relations are expanded."""
        if self.include:
            return None
        items = [f'{row}."id" AS "id"' if key == "id" else f'{datetime_json_sql(row + "." + key)} AS "{key}"'
                 for key in self.system]
        for field in [*self.single, *self.many]:
            sql = field_type(field.type).json_sql(field, row)
            if sql is None:
                return None
            items.append(f'{sql} AS "{field.name}"')
        return items

    @classmethod
    def of(cls, entry: ModelEntry, schema: Schema, fields=None, include=None) -> RecordRenderer:
        """A renderer; the one for every field and no include is made once per model class."""
        if fields is not None or include:
            return cls(entry, schema, fields, include)
        renderer = entry.derived.get("renderer")
        if renderer is None:
            renderer = entry.derived["renderer"] = cls(entry, schema)
        return renderer

    def columns(self, extra=()) -> list[str]:
        if not extra:
            return self._columns
        return list(dict.fromkeys([*self._columns, *extra]))

    def render(self, rows: list[dict]) -> list[dict]:
        ids = [row["id"] for row in rows]
        many_ids = {f.name: self._many_ids(f, ids) for f in self.many}
        out = [self._render_row(row, many_ids) for row in rows]
        for name, subtree in self.include.items():
            self._expand(name, subtree, out)
        return out

    def _render_row(self, row: dict, many_ids: dict) -> dict:
        item = {}
        for key in self.system:
            value = row[key]
            item[key] = value if key == "id" else format_datetime(value)
        for name, column, to_json, field in self.converters:
            value = row[column]
            item[name] = None if value is None else to_json(field, value)
        for name, by_source in many_ids.items():
            item[name] = by_source.get(row["id"], [])
        return item

    def _many_ids(self, field, ids: list[str]) -> dict[str, list[str]]:
        through = self.entry.model._meta.get_field(field.column).remote_field.through
        result: dict[str, list[str]] = {}
        pairs = through.objects.filter(source_id__in=ids).order_by("id").values_list("source_id", "target_id")
        for source, target in pairs:
            result.setdefault(source, []).append(target)
        return result

    def _expand(self, name: str, subtree: dict, items: list[dict]) -> None:
        field = self.entry.by_name[name]
        target = self.schema.by_id[field.related_model_id]
        wanted = set()
        for item in items:
            value = item.get(name)
            wanted.update(value if isinstance(value, list) else [value] if value else [])
        found = records_by_ids(target, self.schema, wanted, include=subtree) if wanted else {}
        for item in items:
            value = item.get(name)
            if isinstance(value, list):
                item[name] = [found[i] for i in value if i in found]
            elif value is not None:
                item[name] = found.get(value)


def records_by_ids(entry: ModelEntry, schema: Schema, ids, *, include=None) -> dict[str, dict]:
    renderer = RecordRenderer.of(entry, schema, include=include)
    rows = entry.model.objects.filter(pk__in=list(ids)).values(*renderer.columns())
    return {item["id"]: item for item in renderer.render(list(rows))}


def _comparable(record_id: str) -> bool:
    """PostgreSQL cannot compare text holding NUL: such an id matches no record."""
    return "\x00" not in record_id


def record_queryset(entry: ModelEntry, record_id: str):
    """The one record with this id (none for an id that cannot be compared)."""
    if not _comparable(record_id):
        return entry.model.objects.none()
    return entry.model.objects.filter(pk=record_id)


def _by_id_query(entry: ModelEntry, renderer: RecordRenderer) -> compiled.Select:
    """The compiled read of one record by id. Python renders it: for one row, PostgreSQL's
    JSON costs the database more than it saves here (pages are another matter, see `lists`)."""
    columns = renderer.columns()
    return compiled.cached(("id", entry.model, tuple(columns)),
                           lambda: compiled.Select(entry.model.objects.filter(pk="").values(*columns)))


def prefetch_record(entry: ModelEntry, schema: Schema, record_id: str, params) -> None:
    """Queue the read `record_get` will make for a plain GET by id (no `fields` or
    `include`), from a schema that may be stale: reads are matched by their exact SQL."""
    if _comparable(record_id) and "fields" not in params and "include" not in params:
        prefetch.queue(_by_id_query(entry, RecordRenderer.of(entry, schema)).sql, [record_id])


def records_written(entry: ModelEntry, schema: Schema, instances: list) -> list[dict]:
    """Records just written, as JSON, from their instances (which hold the stored values):
    no read back, except for to-many ids."""
    renderer = RecordRenderer.of(entry, schema)
    attnames = [(name, entry.model._meta.get_field(name).attname) for name in renderer.columns()]
    return renderer.render([{name: getattr(obj, attname) for name, attname in attnames} for obj in instances])


def record_get(entry: ModelEntry, schema: Schema, record_id: str, *, fields=None, include=None) -> tuple[dict, str]:
    """One record as JSON with its ETag, or NotFound (a malformed id is simply not found)."""
    renderer = RecordRenderer.of(entry, schema, fields, include)
    rows = _by_id_query(entry, renderer).rows([record_id]) if _comparable(record_id) else []
    if not rows:
        raise NotFound("Record not found")
    return renderer.render(rows)[0], etag_for(rows[0]["id"], rows[0]["updated_at"])
