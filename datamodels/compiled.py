"""SQL compiled once per generated model class: reads of a fixed shape, and inserts.

Building a queryset and compiling it costs more than running the query it makes on
the hot paths (a read by id, a first page, a create). A compiled statement keeps the
SQL and Django's value converters (JSON, decimals, vectors, timestamps), keyed by the
generated class, which a schema change replaces, so a stale shape is never reused.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models.sql import InsertQuery

from infinity import prefetch

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


def _convert(row: list, converters) -> list:
    for position, (functions, expression) in converters:
        for convert in functions:
            row[position] = convert(row[position], expression, connection)
    return row


class Select:
    """A `values()` queryset compiled once; `rows()` runs it (or takes its prefetched rows)."""

    def __init__(self, queryset):
        compiler = queryset.query.get_compiler(using=queryset.db)
        self.sql, self.params = compiler.as_sql()
        self.names = list(queryset.query.values_select)
        self.converters = list(compiler.get_converters([col for col, _, _ in compiler.select]).items())

    def rows(self, params=()) -> list[dict]:
        # Queued by `selectors.prefetch_reads`, the rows came with an earlier round trip.
        return [dict(zip(self.names, _convert(list(row), self.converters))) for row in prefetch.read(self.sql, params)]


class Insert:
    """`INSERT … RETURNING` every column of a generated class: one statement writes a
    row and reads back what was stored (the database's rounding included)."""

    def __init__(self, model):
        self.fields = list(model._meta.local_concrete_fields)
        query = InsertQuery(model)
        query.insert_values(self.fields, [model()])  # plain values: the SQL holds placeholders only
        compiler = query.get_compiler(using=DEFAULT_DB_ALIAS)
        compiler.returning_fields = self.fields
        [(self.sql, _)] = compiler.as_sql()
        columns = [field.get_col(model._meta.db_table) for field in self.fields]
        self.converters = list(compiler.get_converters(columns).items())

    def insert(self, instance) -> None:
        """Insert `instance` and set its attributes to the stored values."""
        params = [field.get_db_prep_save(getattr(instance, field.attname), connection) for field in self.fields]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            row = _convert(list(cursor.fetchone()), self.converters)
        for field, value in zip(self.fields, row):
            setattr(instance, field.attname, value)
        instance._state.adding, instance._state.db = False, DEFAULT_DB_ALIAS


def insert(instance) -> None:
    """`instance.save(force_insert=True)` without the ORM's per-save work, refreshed from RETURNING."""
    model = type(instance)
    cached(("insert", model), lambda: Insert(model)).insert(instance)
