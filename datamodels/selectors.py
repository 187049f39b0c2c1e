"""Record reads: lists and single records as JSON-ready dicts.

Rows come from `QuerySet.values()` (no model instances); to-many ids and every
`include` level cost one query each, whatever the page size, so a list request
runs a small fixed number of queries.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from django.db import connection

from infinity.exceptions import NotFound

from .dynamic import ModelEntry, Schema
from .fieldtypes import field_type
from .fieldtypes.scalars import format_datetime
from .query import ListQuery, apply_cursor, apply_filters, apply_order, encode_cursor, order_columns
from .rowcount import filtered_count, row_count

SYSTEM = ("id", "created_at", "updated_at")
DEFERRED_JOIN_OFFSET = 1000


@dataclass
class Page:
    """One page of a list: rendered records and the pagination object."""

    data: list[dict]
    pagination: dict


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

    def columns(self, extra=()) -> list[str]:
        return list(dict.fromkeys([*SYSTEM, *(f.column for f in self.single), *extra]))

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
    renderer = RecordRenderer(entry, schema, include=include)
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


class _Compiled:
    """A `values()` queryset compiled once: its SQL and Django's value converters (JSON,
    decimals, vectors), so a request that repeats its shape builds no queryset."""

    def __init__(self, queryset):
        compiler = queryset.query.get_compiler(using=queryset.db)
        self.sql, self.params = compiler.as_sql()
        self.names = list(queryset.query.values_select)
        self.converters = list(compiler.get_converters([col for col, _, _ in compiler.select]).items())

    def rows(self, params=()) -> list[dict]:
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        result = []
        for row in map(list, rows):
            for position, (converters, expression) in self.converters:
                for convert in converters:
                    row[position] = convert(row[position], expression, connection)
            result.append(dict(zip(self.names, row)))
        return result


_compiled: dict[tuple, _Compiled] = {}


def _compiled_query(key: tuple, build) -> _Compiled:
    """The compiled form of `build()`, per model class (a schema change makes a new class)."""
    query = _compiled.get(key)
    if query is None:
        if len(_compiled) > 1000:  # mostly classes of older schema versions
            _compiled.clear()
        query = _compiled[key] = _Compiled(build())
    return query


def _rows_by_id(entry: ModelEntry, columns: list[str], record_id: str) -> list[dict]:
    if not _comparable(record_id):
        return []
    query = _compiled_query(("id", entry.model, tuple(columns)),
                            lambda: entry.model.objects.filter(pk="").values(*columns))
    return query.rows([record_id])


def _unfiltered_page(entry: ModelEntry, query: ListQuery, offset: int, columns: list[str]) -> list[dict]:
    """A page without filters: its SQL depends on the model, fields, sort and position only."""
    compiled = _compiled_query(
        ("page", entry.model, tuple(columns), tuple(query.sort), offset, query.limit),
        lambda: _page(entry, query, apply_order(entry.model.objects.all(), query.sort), offset).values(*columns),
    )
    return compiled.rows(compiled.params)


def record_get(entry: ModelEntry, schema: Schema, record_id: str, *, fields=None, include=None) -> tuple[dict, str]:
    """One record as JSON with its ETag, or NotFound (a malformed id is simply not found)."""
    renderer = RecordRenderer(entry, schema, fields, include)
    rows = _rows_by_id(entry, renderer.columns(), record_id)
    if not rows:
        raise NotFound("Record not found")
    return renderer.render(rows)[0], etag_for(rows[0]["id"], rows[0]["updated_at"])


def _page(entry: ModelEntry, query: ListQuery, ordered, offset: int):
    """The page's rows; a deep page finds its ids first (an index-only scan skips the
    offset without reading the skipped rows), then reads just those rows."""
    if offset < DEFERRED_JOIN_OFFSET:
        return ordered[offset: offset + query.limit]
    ids = ordered.values("pk")[offset: offset + query.limit]
    return apply_order(entry.model.objects.filter(pk__in=ids), query.sort)


def _total(entry: ModelEntry, schema: Schema, query: ListQuery, filtered, offset: int, rows: list) -> int:
    """The exact number of matching records, without a count(*) scan where possible."""
    if len(rows) < query.limit and (rows or offset == 0):
        return offset + len(rows)  # a short page tells it
    if not query.filters:
        return row_count(entry.definition.pk)  # kept by triggers, exact
    if _own_columns_only(entry, query.filters):
        signature = (schema.version, entry.definition.pk, *((f.lookup, f.op, repr(f.value)) for f in query.filters))
        return filtered_count(entry.definition.pk, signature, filtered)
    return filtered.count()


def _own_columns_only(entry: ModelEntry, filters) -> bool:
    """Filters that read only the model's own table (no relation, no join table)."""
    relations = {f.column for f in entry.fields if f.type == "relation"}
    return all("__" not in f.lookup and f.lookup not in relations and not f.many for f in filters)


def record_list(entry: ModelEntry, schema: Schema, query: ListQuery) -> Page:
    """A page by number (with exact total) or after a cursor (without)."""
    renderer = RecordRenderer(entry, schema, query.fields, query.include)
    filtered = apply_filters(entry.model.objects.all(), query.filters)
    sort_columns = [col for col, _ in order_columns(query.sort)]
    if query.cursor is not None:
        ordered = apply_cursor(apply_order(filtered, query.sort), query.sort, query.cursor)
        rows = list(ordered.values(*renderer.columns(sort_columns))[: query.limit + 1])
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        pagination = {"limit": query.limit}
    else:
        offset = (query.page - 1) * query.limit
        columns = renderer.columns(sort_columns)
        if query.filters:
            rows = list(_page(entry, query, apply_order(filtered, query.sort), offset).values(*columns))
        else:
            rows = _unfiltered_page(entry, query, offset, columns)
        total = _total(entry, schema, query, filtered, offset, rows)
        more = offset + len(rows) < total
        pages = math.ceil(total / query.limit) if total else 0
        pagination = {"page": query.page, "limit": query.limit, "total": total, "pages": pages}
    pagination["next_cursor"] = encode_cursor(query.sort, rows[-1]) if more and rows else None
    return Page(renderer.render(rows), pagination)
