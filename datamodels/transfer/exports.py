"""Export: a model's records as CSV, JSON Lines or JSON, streamed in constant memory.

`export_plan` parses the list grammar (`filter`, `sort`, `fields`, as `datamodels.query`
reads it for lists) into one `COPY (SELECT …) TO STDOUT`; PostgreSQL writes every
value itself, with the same SQL the lists use to render records (`json_sql` of each
field type), so an exported value is the API's JSON value. `stream` yields the bytes
as PostgreSQL sends them: nothing holds more than one chunk, however large the table.

Values: in JSON Lines and JSON, each record is the API's object (vectors included, as
the API writes them when named in `fields`). In CSV, a column per key; text, dates,
datetimes and to-one relations as written, numbers and booleans as JSON writes them,
lists, JSON and vectors as JSON text; an empty cell is null.

Without `sort`, records come in id order (the primary key: no sort step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from django.db import connection

from ..dynamic import ModelEntry, Schema
from ..fieldtypes import field_type
from ..fieldtypes.scalars import datetime_json_sql
from ..query import apply_filters, order_columns, parse_fields, parse_filter, parse_sort
from ..rowcount import row_count
from ..selectors import SYSTEM

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson", "json": "application/json"}
# Text-valued types CSV writes as stored (no JSON round trip in SQL).
AS_STORED = frozenset({"text", "long_text", "email", "url", "select"})
# Types whose text output is their JSON text (bigint, float8 — decimals are rendered as
# float8 — and boolean use the same output functions `to_json` does): `::text` skips
# building a JSON value per cell just to unwrap it.
PLAIN_TEXT = frozenset({"integer", "number", "boolean"})
# JSON Lines through COPY's CSV mode with quote and delimiter bytes JSON never holds raw
# (control characters are escaped in JSON text): each line goes out exactly as written.
JSON_LINES = "(FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
CHUNK = 1 << 16


@dataclass
class ExportPlan:
    """One export: its COPY statement, parameters, and what the progress bar needs."""

    entry: ModelEntry
    fmt: str
    sql: str
    params: list
    filtered: bool

    def total(self) -> int | None:
        """The number of records, when known without a scan (unfiltered: the trigger-kept count)."""
        return None if self.filtered else row_count(self.entry.definition.pk)


def export_plan(entry: ModelEntry, schema: Schema, params, fmt: str) -> ExportPlan:
    """Parse `filter`/`sort`/`fields` (400 naming the parameter on a bad one) into the export's COPY."""
    sort = parse_sort(entry, params.getlist("sort")) if params.getlist("sort") else [("id", False)]
    filters = [parse_filter(entry, schema, raw) for raw in params.getlist("filter")]
    fields = parse_fields(entry, params.get("fields"))
    queryset = apply_filters(entry.model.objects.all(), filters) if filters else None
    return plan_for(entry, fmt, sort=sort, fields=fields, queryset=queryset)


def plan_for(entry: ModelEntry, fmt: str, *, sort: list[tuple[str, bool]], fields: list[str] | None = None,
             queryset=None) -> ExportPlan:
    """The export of the records `queryset` selects (all when None), in the order of `sort`
    (`(column, descending)` pairs, as `datamodels.query` parses them)."""
    table = f'"{entry.definition.db_table}"'
    where, where_params = "", []
    if queryset is not None:
        ids_sql, where_params = queryset.order_by().values("pk").query.sql_with_params()
        where = f" WHERE {table}.id IN ({ids_sql})"
    order = ", ".join(f'{table}."{col}" {"DESC" if desc else "ASC"}' for col, desc in order_columns(sort))
    keys = [key for key in SYSTEM if fields is None or key in fields]
    shown = [f for f in entry.fields if fields is None or f.name in fields]
    if fmt == "csv":
        items = [*(_system_json(table, key) for key in keys), *(_field_csv(f, table) for f in shown)]
        select = f"SELECT {', '.join(items)} FROM {table}{where} ORDER BY {order}"
        sql = f"COPY ({select}) TO STDOUT (FORMAT csv, HEADER)"
    else:
        items = [*(_system_json(table, key) for key in keys), *(f'{_field_json(f, table)} AS "{f.name}"' for f in shown)]
        select = (f"SELECT row_to_json(j)::text FROM {table} CROSS JOIN LATERAL (SELECT {', '.join(items)}) j"
                  f"{where} ORDER BY {order}")
        sql = f"COPY ({select}) TO STDOUT {JSON_LINES}"
    return ExportPlan(entry, fmt, sql, list(where_params), queryset is not None)


def _system_json(table: str, key: str) -> str:
    column = f'{table}."{key}"'
    return f'{column} AS "{key}"' if key == "id" else f'{datetime_json_sql(column)} AS "{key}"'


def _field_json(field, table: str) -> str:
    """The field's value as the API writes it (vectors: float4 components widened, as `to_json` does)."""
    if field.type == "vector":
        return f'{table}."{field.column}"::real[]::float8[]'
    return field_type(field.type).json_sql(field, table)


def _field_csv(field, table: str) -> str:
    value = _field_json(field, table)
    if field.type in AS_STORED or field.type == "datetime" or (field.type == "relation" and not field.many):
        cell = value  # text already
    elif field.type == "json" or field.type in PLAIN_TEXT:
        cell = f"({value})::text"
    else:
        cell = f"to_json({value}) #>> '{{}}'"
    return f'{cell} AS "{field.name}"'


def stream(plan: ExportPlan, *, on_rows: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """The export's bytes in chunks of about 64 KiB, straight from PostgreSQL's COPY.

    `on_rows(n)` is told how many records each chunk carried (for progress bars).
    """
    chunks = _copy_out(plan)
    if plan.fmt == "json":
        chunks = _json_array(chunks)
    buffer, rows = [], 0
    size = 0
    for chunk, count in chunks:
        buffer.append(chunk)
        size += len(chunk)
        rows += count
        if size >= CHUNK:
            yield b"".join(buffer)
            if on_rows is not None:
                on_rows(rows)
            buffer, size, rows = [], 0, 0
    if buffer:
        yield b"".join(buffer)
    if on_rows is not None and rows:
        on_rows(rows)


def _copy_out(plan: ExportPlan) -> Iterator[tuple[bytes, int]]:
    """(bytes, records) pairs: PostgreSQL sends one message per row (and one for a CSV header)."""
    header = plan.fmt == "csv"
    with connection.cursor() as cursor, cursor.copy(plan.sql, plan.params or None) as copy:
        for data in copy:
            yield bytes(data), 0 if header else 1
            header = False


def _json_array(chunks: Iterator[tuple[bytes, int]]) -> Iterator[tuple[bytes, int]]:
    """JSON Lines → one JSON array (`[`, records separated by `,` and a newline, `]`)."""
    yield b"[\n", 0
    first = True
    for chunk, count in chunks:
        line = chunk.rstrip(b"\n")
        yield (line if first else b",\n" + line), count
        first = False
    yield b"\n]\n" if not first else b"]\n", 0


def filename(entry: ModelEntry, fmt: str, now) -> str:
    """The download's name, e.g. `customers-20260104-153000.csv`."""
    return f"{entry.name}-{now.strftime('%Y%m%d-%H%M%S')}.{fmt}"
