"""Fixtures for schema-engine tests: create models through the services, inspect the catalog."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.utils import timezone

from datamodels import services
from datamodels.dynamic import current_schema
from datamodels.fieldtypes import field_type
from datamodels.models import DataModel, Field, SchemaState


def fetch(sql: str, params=()) -> list[tuple]:
    """Every row of a query on the test connection."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def column_type(table: str, column: str) -> str | None:
    """The column's type as PostgreSQL prints it (`text`, `numeric(38,2)`, `vector(3)`), None if absent."""
    rows = fetch(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = to_regclass(%s) AND attname = %s AND NOT attisdropped",
        [table, column],
    )
    return rows[0][0] if rows else None


def table_exists(table: str) -> bool:
    return fetch("SELECT to_regclass(%s) IS NOT NULL", [table])[0][0]


def index_defs(table: str) -> dict[str, str]:
    """Index name → definition, leaving out the three every user table has."""
    rows = fetch("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
    base = {f"{table}_pkey", f"{table}_created_idx", f"{table}_updated_idx"}
    return {name: definition for name, definition in rows if name not in base}


def constraint_defs(table: str, kind: str) -> list[str]:
    """`pg_get_constraintdef` of the table's constraints of one kind (`f` foreign key, `u` unique)."""
    rows = fetch(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = %s "
        "ORDER BY conname",
        [table, kind],
    )
    return [row[0] for row in rows]


def filenode(table: str) -> int:
    """The table's file on disk: it changes exactly when PostgreSQL rewrites the table."""
    return fetch("SELECT pg_relation_filenode(%s)", [table])[0][0]


def column_values(field) -> list:
    """The raw stored values of a field's column, in insertion (id) order."""
    return [row[0] for row in fetch(f'SELECT "{field.column}" FROM "{field.data_model.db_table}" ORDER BY id')]


def schema_version() -> int:
    return SchemaState.objects.get(pk=1).version


_ids = itertools.count(1)


def new_id() -> str:
    """A record id of the real length that sorts in creation order (real ULIDs only sort by millisecond)."""
    return f"rec_{next(_ids):026d}"


def entry_of(name: str):
    """The current generated-model entry of a data model."""
    return current_schema().get(name)


def insert(name: str, values: dict) -> str:
    """Insert one record given JSON values by field name, validated by each field's type; returns its id."""
    entry = entry_of(name)
    record_id = new_id()
    columns, many = {}, {}
    for field_name, value in values.items():
        field = entry.by_name[field_name]
        stored = None if value is None else field_type(field.type).validate(field, value)
        if field.type == "relation" and field.many:
            many[field] = stored or []
        elif field.type == "relation":
            columns[f"{field.column}_id"] = stored
        else:
            columns[field.column] = stored
    now = timezone.now()
    record = entry.model.objects.create(id=record_id, created_at=now, updated_at=now, **columns)
    for field, ids in many.items():
        getattr(record, field.column).set(ids)
    return record_id


def read(name: str, record_id: str, field_name: str):
    """A field's value of one record, read through the generated class and converted to JSON."""
    entry = entry_of(name)
    field = entry.by_name[field_name]
    record = entry.model.objects.get(pk=record_id)
    if field.type == "relation" and field.many:
        return sorted(getattr(record, field.column).values_list("id", flat=True))
    if field.type == "relation":
        return getattr(record, f"{field.column}_id")
    return field_type(field.type).to_json(field, getattr(record, field.column))


def read_all(name: str, field_name: str) -> list:
    entry = entry_of(name)
    ids = entry.model.objects.order_by("id").values_list("id", flat=True)
    return [read(name, record_id, field_name) for record_id in ids]


@pytest.fixture
def make_model(db):
    """Create a data model through the services: `make_model("things", [{"name": ..., "type": ...}])`."""

    def make(name: str = "things", fields: list[dict] = ()):
        return services.data_model_create(name=name, fields=[dict(f) for f in fields])

    return make


@pytest.fixture
def things(make_model):
    """A model `things` with one text field `title` and three records."""
    data_model = make_model("things", [{"name": "title", "type": "text"}])
    for title in ("alpha", "beta", "gamma"):
        insert("things", {"title": title})
    return data_model


@pytest.fixture(scope="module")
def _schema_state_after_flush(django_db_blocker):
    """Put back the schema-state row that flushing a transactional test's tables removes.

    Its migration inserts the row once; later tests (in this module or any other)
    need it, and a function fixture cannot run after pytest-django's flush.
    """
    yield
    with django_db_blocker.unblock():
        SchemaState.objects.get_or_create(pk=1, defaults={"version": 1})


@pytest.fixture
def committed_schema(transactional_db, _schema_state_after_flush):
    """For tests whose changes are committed: a schema-state row, and no user tables left behind."""
    SchemaState.objects.get_or_create(pk=1, defaults={"version": 1})
    yield
    tables = [f.join_table for f in Field.objects.filter(type="relation", many=True)]
    tables += [d.db_table for d in DataModel.objects.all()]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
