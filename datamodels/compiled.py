"""SQL compiled once per generated model class: reads of a fixed shape, and inserts.

Building a queryset and compiling it costs more than running the query it makes on
the hot paths (a read by id, a first page, a create). A compiled statement keeps the
SQL and Django's value converters (JSON, decimals, vectors, timestamps), keyed by the
generated class, which a schema change replaces, so a stale shape is never reused.
"""

from __future__ import annotations

import orjson
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections
from django.db.models.sql import InsertQuery

from infinity import prefetch

from .dynamic import STAMP_GUARD, StaleSchema

NOT_NULL_VIOLATION = "23502"

MAX_CACHED = 1000  # mostly classes of older schema versions when it fills up

_cache: dict[tuple, object] = {}


def cached(key: tuple, build):
    """The compiled statement for `key` (which starts with the model class), built once."""
    compiled = _cache.get(key)
    if compiled is None:
        if len(_cache) > MAX_CACHED:
            _cache.clear()
        compiled = _cache[key] = build()
    return compiled


def _convert(row: list, converters, conn) -> list:
    for position, (functions, expression) in converters:
        for convert in functions:
            row[position] = convert(row[position], expression, conn)
    return row


class Select:
    """A `values()` queryset compiled once; `rows()` runs it (or takes its prefetched rows)."""

    def __init__(self, queryset):
        compiler = queryset.query.get_compiler(using=queryset.db)
        self.sql, self.params = compiler.as_sql()
        self.names = list(queryset.query.values_select)
        self.converters = list(compiler.get_converters([col for col, _, _ in compiler.select]).items())

    def rows(self, params=()) -> list[dict]:
        # Queued ahead (`selectors.prefetch_record`, `lists.prefetch_list`), the rows came
        # with an earlier round trip.
        rows = prefetch.read(self.sql, params)
        if not self.converters:
            return [dict(zip(self.names, row)) for row in rows]
        conn = connections[DEFAULT_DB_ALIAS]
        return [dict(zip(self.names, _convert(list(row), self.converters, conn))) for row in rows]


ROW = "p"  # the alias of the inner query's row in `JsonSelect`


class JsonSelect:
    """A `values()` queryset compiled once, whose records PostgreSQL writes as JSON: each
    row is the record's JSON text (an `orjson.Fragment`, embedded as is in the response)
    and the `extra` columns, typed, that cursors and ETags need."""

    def __init__(self, queryset, json_list: list[str], extra: list[str], order=()):
        inner = Select(queryset)
        self.params, self.names = inner.params, list(extra)
        columns = "".join(f', {ROW}."{name}"' for name in extra)
        # The inner query's ORDER BY does not bind the outer one: sort the page again (it is short).
        order_by = ", ".join(f'{ROW}."{name}" {"DESC" if desc else "ASC"}' for name, desc in order)
        self.sql = (f"SELECT row_to_json(j)::text{columns} FROM ({inner.sql}) {ROW} "
                    f"CROSS JOIN LATERAL (SELECT {', '.join(json_list)}) j" + (f" ORDER BY {order_by}" if order else ""))
        by_name = {inner.names[position]: converter for position, converter in inner.converters}
        self.converters = [(1 + index, by_name[name]) for index, name in enumerate(extra) if name in by_name]

    def rows(self, params=()) -> list[tuple[orjson.Fragment, dict]]:
        rows = prefetch.read(self.sql, params)
        conn = connections[DEFAULT_DB_ALIAS]
        result = []
        for row in rows:
            row = _convert(list(row), self.converters, conn) if self.converters else row
            result.append((orjson.Fragment(row[0]), dict(zip(self.names, row[1:]))))
        return result


class Insert:
    """`INSERT … RETURNING` every column of a generated class: one statement writes a
    row and reads back what was stored (the database's rounding included).

    Stamped, the record's id is `STAMP_GUARD`'s value: if a schema change committed
    since the class was built, the id is NULL, PostgreSQL refuses the row, and nothing
    is written; so a create checks the schema without a round trip of its own."""

    def __init__(self, model):
        self.fields = list(model._meta.local_concrete_fields)
        query = InsertQuery(model)
        query.insert_values(self.fields, [model()])  # plain values: the SQL holds placeholders only
        compiler = query.get_compiler(using=DEFAULT_DB_ALIAS)
        compiler.returning_fields = self.fields
        [(self.sql, _)] = compiler.as_sql()
        head, values, rest = self.sql.partition("VALUES (%s")
        if not values or not self.fields[0].primary_key:
            raise RuntimeError(f"An INSERT that does not start with the id: {self.sql}")
        self.stamped_sql = f"{head}VALUES ({STAMP_GUARD}{rest}"
        columns = [field.get_col(model._meta.db_table) for field in self.fields]
        self.converters = list(compiler.get_converters(columns).items())

    def insert(self, instance, stamp: tuple[int, int] | None = None) -> None:
        """Insert `instance` and set its attributes to the stored values; with the `stamp`
        of the schema the class comes from, only if it is still current (else `StaleSchema`)."""
        conn = connections[DEFAULT_DB_ALIAS]
        params = [field.get_db_prep_save(getattr(instance, field.attname), conn) for field in self.fields]
        sql = self.sql
        if stamp is not None:
            sql, params = self.stamped_sql, [params[0], *stamp, *params[1:]]
        with conn.cursor() as cursor:
            try:
                cursor.execute(sql, params)
            except IntegrityError as exc:
                if stamp is not None and _null_id(exc):
                    raise StaleSchema from None
                raise
            row = _convert(list(cursor.fetchone()), self.converters, conn)
        for field, value in zip(self.fields, row):
            setattr(instance, field.attname, value)
        instance._state.adding, instance._state.db = False, DEFAULT_DB_ALIAS


def _null_id(exc: IntegrityError) -> bool:
    """The guard refused the row (the id is never NULL otherwise: `records` gives one)."""
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == NOT_NULL_VIOLATION and cause.diag.column_name == "id"


def insert(instance, stamp: tuple[int, int] | None = None) -> None:
    """`instance.save(force_insert=True)` without the ORM's per-save work, refreshed from
    RETURNING; with a `stamp`, only while that schema is current (see `Insert`)."""
    model = type(instance)
    cached(("insert", model), lambda: Insert(model)).insert(instance, stamp)
