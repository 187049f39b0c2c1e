"""The list query grammar: `filter`, `sort`, `fields`, `include`, `page`/`limit`, `cursor`.

`parse_list_query` turns query-string values into a `ListQuery` (or raises
`ValidationFailed`/`BadRequest` naming the parameter); `apply_filters`,
`apply_order` and `apply_cursor` turn it into SQL through the generated model
class, so PostgreSQL does the filtering, ordering and counting on real indexes.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from decimal import Decimal
from dataclasses import dataclass, field as dc_field

import orjson
from django.core import signing
from django.db.models import Q

from infinity.exceptions import BadRequest, ValidationFailed

from .dynamic import ModelEntry, Schema
from .fieldtypes import COMPARISONS, CONTAINS, EQ, GT, GTE, LT, LTE, NE, InvalidValue, field_type
from .fieldtypes.scalars import format_datetime, parse_datetime

DEFAULT_LIMIT, MAX_LIMIT, MAX_INCLUDE_DEPTH = 50, 100, 3
SYSTEM_COLUMNS = ("id", "created_at", "updated_at")
# Longest first, so `>=` is not read as `>` followed by "=value".
OPERATORS = ((">=", GTE), ("<=", LTE), ("!=", NE), (">", GT), ("<", LT), ("~", CONTAINS))
LOOKUPS = {EQ: "exact", GT: "gt", GTE: "gte", LT: "lt", LTE: "lte", CONTAINS: "icontains"}


@dataclass
class Filter:
    """One parsed `filter=path<op>value`."""

    lookup: str  # the ORM path, e.g. "f_12__f_3"
    op: str
    value: object
    many: bool = False  # the path crosses a to-many relation or targets a list
    list_value: bool = False


@dataclass
class ListQuery:
    """Everything a list request asks for, validated against the model."""

    page: int = 1
    limit: int = DEFAULT_LIMIT
    sort: list[tuple[str, bool]] = dc_field(default_factory=list)  # (column, descending)
    filters: list[Filter] = dc_field(default_factory=list)
    fields: list[str] | None = None
    include: dict = dc_field(default_factory=dict)  # nested: {"company": {"owner": {}}}
    cursor: list | None = None


def _invalid(param: str, message: str):
    return ValidationFailed("Invalid query parameter", details=[{"field": param, "message": message}])


# The last page number a list takes: page × limit stays far inside PostgreSQL's bigint OFFSET.
MAX_PAGE = 10**15


def parse_int(params, name: str, default: int, low: int, high: int | None) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(name, "Must be a whole number") from None
    if value < low or (high is not None and value > high):
        raise _invalid(name, f"Must be between {low} and {high}" if high else f"Must be at least {low}")
    return value


def parse_list_query(entry: ModelEntry, schema: Schema, params) -> ListQuery:
    query = ListQuery(
        page=parse_int(params, "page", 1, 1, MAX_PAGE),
        limit=parse_int(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        sort=parse_sort(entry, params.getlist("sort")),
        filters=[parse_filter(entry, schema, raw) for raw in params.getlist("filter")],
        fields=parse_fields(entry, params.get("fields")),
        include=parse_include(entry, schema, params.get("include")),
    )
    if params.get("cursor"):
        query.cursor = decode_cursor(params["cursor"], query.sort)
    return query


def parse_sort(entry: ModelEntry, values: list[str]) -> list[tuple[str, bool]]:
    sort = []
    for raw in values:
        for part in filter(None, raw.split(",")):
            name, _, direction = part.partition(":")
            if direction not in ("", "asc", "desc"):
                raise _invalid("sort", f'Direction of "{name}" must be asc or desc')
            sort.append((_sort_column(entry, name), direction == "desc"))
    return sort or [("created_at", True)]


def _sort_column(entry: ModelEntry, name: str) -> str:
    if name in SYSTEM_COLUMNS:
        return name
    field = entry.by_name.get(name)
    if field is None:
        raise _invalid("sort", f'Unknown field "{name}"')
    if not field_type(field.type).can_sort or (field.type == "relation" and field.many):
        raise _invalid("sort", f'Cannot sort by the {field.type} field "{name}"')
    return field.column


def parse_filter(entry: ModelEntry, schema: Schema, raw: str) -> Filter:
    path, sep, rest = raw.partition(":")
    if "\x00" in raw:  # PostgreSQL cannot even compare such a value
        raise _invalid("filter", f'"{raw}" must not contain NUL characters')
    if not sep:
        raise _invalid("filter", f'"{raw}" must look like field:value or field:>value')
    op, text = EQ, rest
    for symbol, name in OPERATORS:
        if rest.startswith(symbol):
            op, text = name, rest[len(symbol):]
            break
    lookup, field, many = _resolve_path(entry, schema, path, raw)
    if text == "null" and op in (EQ, NE):
        return Filter(lookup, op, None, many)
    return _typed_filter(lookup, field, op, text, many, raw)


def _typed_filter(lookup: str, field, op: str, text: str, many: bool, raw: str) -> Filter:
    if field is None:  # id / created_at / updated_at
        is_id = lookup.rsplit("__", 1)[-1] == "id"
        if op not in ({EQ, NE} if is_id else COMPARISONS):
            raise _invalid("filter", f'Operator not allowed in "{raw}"')
        return Filter(lookup, op, text if is_id else _parse_system_datetime(text, raw), many)
    kind = field_type(field.type)
    if op not in kind.operators:
        raise _invalid("filter", f'Operator not allowed for the {field.type} field in "{raw}"')
    try:
        value = kind.parse_filter(field, text) if op != CONTAINS else text
    except InvalidValue as exc:
        raise _invalid("filter", f'"{raw}": {exc}') from None
    return Filter(lookup, op, value, many or field.type == "multi_select", field.type == "multi_select")


def _parse_system_datetime(text: str, raw: str):
    try:
        return parse_datetime(text)
    except InvalidValue as exc:
        raise _invalid("filter", f'"{raw}": {exc}') from None


def _resolve_path(entry: ModelEntry, schema: Schema, path: str, raw: str):
    """`company.name` → ("f_5__f_2", <Field name>, crosses_many)."""
    parts, lookups, many, current, field = path.split("."), [], False, entry, None
    if len(parts) > MAX_INCLUDE_DEPTH + 1:
        raise _invalid("filter", f'"{raw}" goes deeper than {MAX_INCLUDE_DEPTH} relations')
    for position, name in enumerate(parts):
        last = position == len(parts) - 1
        if name in SYSTEM_COLUMNS and last:
            return "__".join(lookups + [name]), None, many
        field = current.by_name.get(name)
        if field is None:
            raise _invalid("filter", f'Unknown field "{name}" in "{raw}"')
        lookups.append(field.column)
        if not last:
            if field.type != "relation":
                raise _invalid("filter", f'"{name}" is not a relation in "{raw}"')
            many = many or field.many
            current = schema.by_id[field.related_model_id]
    return "__".join(lookups), field, many or (field.type == "relation" and field.many)


def apply_filters(queryset, filters: list[Filter]):
    distinct = False
    for item in filters:
        if item.value is None:
            condition = Q(**{f"{item.lookup}__isnull": True})
        elif item.list_value:
            condition = Q(**{f"{item.lookup}__contains": [item.value]})
        else:
            condition = Q(**{f"{item.lookup}__{LOOKUPS.get(item.op, 'exact')}": item.value})
        queryset = queryset.exclude(condition) if item.op == NE else queryset.filter(condition)
        distinct = distinct or (item.many and not item.list_value)
    return queryset.distinct() if distinct else queryset


def order_columns(sort: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """The sort keys plus `id`, which follows the direction of the last key."""
    return [*sort, ("id", sort[-1][1])] if sort[-1][0] != "id" else list(sort)


def apply_order(queryset, sort: list[tuple[str, bool]]):
    return queryset.order_by(*(f"-{col}" if desc else col for col, desc in order_columns(sort)))


def parse_fields(entry: ModelEntry, raw: str | None) -> list[str] | None:
    if raw is None or raw == "":
        return None
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [n for n in names if n not in SYSTEM_COLUMNS and n not in entry.by_name]
    if unknown:
        raise _invalid("fields", f"Unknown field(s): {', '.join(unknown)}")
    return list(dict.fromkeys(names))


def parse_include(entry: ModelEntry, schema: Schema, raw: str | None) -> dict:
    tree: dict = {}
    for path in filter(None, (raw or "").split(",")):
        parts = path.strip().split(".")
        if len(parts) > MAX_INCLUDE_DEPTH:
            raise _invalid("include", f'"{path}" is deeper than {MAX_INCLUDE_DEPTH} levels')
        current, node = entry, tree
        for name in parts:
            field = current.by_name.get(name)
            if field is None or field.type != "relation":
                raise _invalid("include", f'"{name}" is not a relation of {current.name}')
            node = node.setdefault(name, {})
            current = schema.by_id[field.related_model_id]
    return tree


# --- keyset cursors -------------------------------------------------------------
# Cursors are signed: their values go into SQL comparisons, so only values this
# server wrote (of the right type for each column) may come back.

def _signer() -> signing.Signer:
    return signing.Signer(salt="datamodels.cursor", sep=".")


def encode_cursor(sort: list[tuple[str, bool]], row: dict) -> str:
    values = [_cursor_value(row[col]) for col, _ in order_columns(sort)]
    payload = orjson.dumps({"s": [f"{c}:{int(d)}" for c, d in sort], "v": values})
    return _signer().sign(base64.urlsafe_b64encode(payload).decode().rstrip("="))


def _cursor_value(value):
    if isinstance(value, datetime.datetime):
        return {"t": format_datetime(value)}
    if isinstance(value, datetime.date):
        return {"t": value.isoformat()}
    if isinstance(value, Decimal):
        return {"d": str(value)}
    return value


def decode_cursor(raw: str, sort: list[tuple[str, bool]]) -> list:
    try:
        text = _signer().unsign(raw)
        payload = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        ok = payload["s"] == [f"{c}:{int(d)}" for c, d in sort] and len(payload["v"]) == len(order_columns(sort))
    except (signing.BadSignature, ValueError, TypeError, KeyError, binascii.Error):
        ok = False
    if not ok:
        raise BadRequest("Malformed cursor: pass next_cursor unchanged, with the same sort")
    return [_decode_value(v) for v in payload["v"]]


def _decode_value(value):
    if isinstance(value, dict) and "t" in value:
        text = value["t"]
        return parse_datetime(text) if "T" in text else datetime.date.fromisoformat(text)
    if isinstance(value, dict) and "d" in value:
        return Decimal(value["d"])
    return value


def apply_cursor(queryset, sort: list[tuple[str, bool]], values: list):
    """Rows strictly after `values` in the order of `sort` (NULLS LAST asc, FIRST desc)."""
    where, params = cursor_condition(queryset.model._meta.db_table, sort, values)
    return queryset.extra(where=[where], params=params)


def cursor_condition(table: str, sort: list[tuple[str, bool]], values: list) -> tuple[str, list]:
    """The SQL condition of `apply_cursor` and its parameters; the SQL depends only on the
    sort and on which values are NULL, so a page's compiled form serves every cursor."""
    keys = order_columns(sort)
    if len({desc for _, desc in keys}) == 1 and all(col in SYSTEM_COLUMNS for col, _ in keys):
        # One direction over NOT NULL columns: a row comparison that walks the index.
        columns = ", ".join(f'"{table}"."{col}"' for col, _ in keys)
        marks = ", ".join(["%s"] * len(keys))
        return f"({columns}) {'<' if keys[0][1] else '>'} ({marks})", list(values)
    clauses, params = [], []
    for index, (col, desc) in enumerate(keys):
        parts = []
        for prior, (pcol, _) in enumerate(keys[:index]):
            sql, args = _equal(table, pcol, values[prior])
            parts.append(sql)
            params += args
        sql, args = _after(table, col, desc, values[index])
        parts.append(sql)
        params += args
        clauses.append("(" + " AND ".join(parts) + ")")
    return "(" + " OR ".join(clauses) + ")", params


def _equal(table: str, col: str, value):
    if value is None:
        return f'"{table}"."{col}" IS NULL', []
    return f'"{table}"."{col}" = %s', [value]


def _after(table: str, col: str, desc: bool, value):
    ref = f'"{table}"."{col}"'
    if value is None:  # NULLs sort last ascending (nothing after), first descending
        return ("FALSE", []) if not desc else (f"{ref} IS NOT NULL", [])
    if desc:
        return f"{ref} < %s", [value]
    return f"({ref} > %s OR {ref} IS NULL)", [value]
