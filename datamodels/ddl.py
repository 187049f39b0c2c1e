"""SQL for user tables: the only code that issues DDL on `dm_<id>` tables.

Callers (`datamodels.services`) wrap these in one transaction with the definition
change, so a failure leaves nothing half-applied (PostgreSQL DDL is transactional).
Identifiers come from ids, never from user-typed names.

Which changes rewrite a table: a retype between different column types (e.g.
text → integer) rewrites it; renames, adding a field (even with a default), changing
options, and converting among text-like types (text, long_text, email, url, select)
do not.

A vector field with `source_fields` also gets a full-text index (GIN) over its source
columns, for the keyword side of hybrid search: `text_document_sql` builds the one
expression that index holds and that queries must repeat for PostgreSQL to use it.
"""

from __future__ import annotations

from django.db import connection

from . import rowcount
from .fieldtypes import field_type


# No stemming or stop words: product codes and any language match as typed.
TEXT_SEARCH_CONFIG = "simple"


def text_document_sql(columns: list[str], table: str | None = None) -> str:
    """The full-text document of source columns: `to_tsvector` over their values joined by
    spaces (an empty one adds no word). Every part is IMMUTABLE, as an index expression must
    be, and a query spelling it the same way (qualified by `table` or not) uses the index."""
    prefix = f'"{table}".' if table else ""
    text = " || ' ' || ".join(f"coalesce({prefix}\"{column}\", '')" for column in columns) or "''"
    return f"to_tsvector('{TEXT_SEARCH_CONFIG}'::regconfig, {text})"


def source_columns(field) -> list[str]:
    """The columns of a vector field's `source_fields`, in their order (as stored now)."""
    by_name = {other.name: other.column for other in field.data_model.fields.all()}
    return [by_name[name] for name in field.source_fields if name in by_name]


def _run(*statements: str) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _scalar(sql: str):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def _has_trigram() -> bool:
    """Trigram indexes (for `:~` on text) need pg_trgm, installed by migration where available."""
    return bool(_scalar("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'"))


def create_table(data_model) -> None:
    table = data_model.db_table
    _run(
        f'CREATE TABLE "{table}" (id varchar(30) PRIMARY KEY, '
        "created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())",
        f'CREATE INDEX "{table}_created_idx" ON "{table}" (created_at, id)',
        f'CREATE INDEX "{table}_updated_idx" ON "{table}" (updated_at, id)',
        *rowcount.trigger_statements(data_model.pk, table),
    )


def drop_table(data_model) -> None:
    _run(f'DROP TABLE IF EXISTS "{data_model.db_table}" CASCADE', rowcount.forget_statement(data_model.pk))


def add_field(field) -> None:
    """Add a column (or join table) with its constraints and indexes.

    A default fills existing rows without a rewrite (PostgreSQL 11+ stores it in
    the catalog); the column default is then dropped, as defaults live in the app.
    """
    table = field.data_model.db_table
    if field.type == "relation" and field.many:
        _create_join_table(field)
        return
    kind = field_type(field.type)
    column = f'ALTER TABLE "{table}" ADD COLUMN "{field.column}" {kind.sql_type(field)}'
    if field.default is not None:
        value = kind.validate(field, field.default)
        _run(
            f"{column} DEFAULT {kind.sql_value(field, value)}",
            f'ALTER TABLE "{table}" ALTER COLUMN "{field.column}" DROP DEFAULT',
        )
    else:
        _run(column)
    add_constraints(field)


def _create_join_table(field) -> None:
    source, target = field.data_model.db_table, f"dm_{field.related_model_id}"
    join = field.join_table
    _run(
        f'CREATE TABLE "{join}" (id bigserial PRIMARY KEY, '
        f'source_id varchar(30) NOT NULL REFERENCES "{source}"(id) ON DELETE CASCADE, '
        f'target_id varchar(30) NOT NULL REFERENCES "{target}"(id) ON DELETE CASCADE, '
        "UNIQUE (source_id, target_id))",
        f'CREATE INDEX "{join}_target_idx" ON "{join}" (target_id)',
    )


def add_constraints(field) -> None:
    """Foreign key, unique and search indexes of a field, as its definition says."""
    table, col = field.data_model.db_table, field.column
    statements = []
    if field.type == "relation":
        if field.many:
            return
        statements += [
            f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_{col}_fk" FOREIGN KEY ("{col}") '
            f'REFERENCES "dm_{field.related_model_id}"(id) ON DELETE SET NULL',
            f'CREATE INDEX "{table}_{col}_idx" ON "{table}" ("{col}", id)',
        ]
    elif field.type == "vector":
        statements.append(f'CREATE INDEX "{table}_{col}_hnsw" ON "{table}" USING hnsw ("{col}" vector_cosine_ops)')
        statements += _text_index_statements(field)
    elif field.indexed:
        statements += [sql for sql in field_type(field.type).index_sql(field, table)
                       if "gin_trgm_ops" not in sql or _has_trigram()]
    if field.unique:
        statements.append(f'CREATE UNIQUE INDEX "{table}_{col}_uniq" ON "{table}" ("{col}")')
    _run(*statements)


def _text_index_statements(field) -> list[str]:
    """The full-text index of a vector field's source columns (none without sources)."""
    columns = source_columns(field) if field.type == "vector" and field.source_fields else []
    if not columns:
        return []
    table = field.data_model.db_table
    return [f'CREATE INDEX "{table}_{field.column}_fts" ON "{table}" USING gin (({text_document_sql(columns)}))']


def replace_text_index(old, new) -> None:
    """A vector field's sources changed: its full-text index follows (the HNSW index stays)."""
    _run(f'DROP INDEX IF EXISTS "{old.data_model.db_table}_{old.column}_fts"', *_text_index_statements(new))


def drop_constraints(field) -> None:
    table, col = field.data_model.db_table, field.column
    _run(
        f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{table}_{col}_fk"',
        *(f'DROP INDEX IF EXISTS "{table}_{col}_{suffix}"' for suffix in ("idx", "trgm", "hnsw", "fts", "uniq")),
    )


def drop_field(field) -> None:
    if field.type == "relation" and field.many:
        _run(f'DROP TABLE IF EXISTS "{field.join_table}"')
    else:
        table = field.data_model.db_table
        # A vector's full-text index is over other columns: dropping its own would leave it.
        _run(f'DROP INDEX IF EXISTS "{table}_{field.column}_fts"',
             f'ALTER TABLE "{table}" DROP COLUMN IF EXISTS "{field.column}"')


def count_values(field) -> int:
    """How many records hold a value in this field."""
    if field.type == "relation" and field.many:
        return _scalar(f'SELECT count(DISTINCT source_id) FROM "{field.join_table}"')
    return _scalar(f'SELECT count(*) FROM "{field.data_model.db_table}" WHERE "{field.column}" IS NOT NULL')


def count_unconvertible(old, new) -> int:
    """How many stored values of `old` would not fit `new`'s type."""
    if not is_convertible(old, new):
        return count_values(old)
    source, target = field_type(old.type), field_type(new.type)
    text = source.sql_to_text(old, f'"{old.column}"')
    return _scalar(
        f'SELECT count(*) FROM "{old.data_model.db_table}" '
        f'WHERE "{old.column}" IS NOT NULL AND NOT coalesce({target.sql_fits(new, text)}, FALSE)'
    )


def count_duplicates(field) -> int:
    """How many distinct values occur more than once (which block a unique index)."""
    return _scalar(
        f'SELECT count(*) FROM (SELECT 1 FROM "{field.data_model.db_table}" WHERE "{field.column}" IS NOT NULL '
        f'GROUP BY "{field.column}" HAVING count(*) > 1) d'
    )


def is_convertible(old, new) -> bool:
    """Whether data can be carried from `old` to `new` in place (else the column is recreated)."""
    source, target = field_type(old.type), field_type(new.type)
    if old.type == "relation" and new.type == "relation":
        return old.related_model_id == new.related_model_id and old.many == new.many
    if old.type == "vector" and new.type == "vector":
        return old.dimensions == new.dimensions
    return source.convertible and target.convertible


def convert_field(old, new) -> None:
    """Change the column of `old` to `new`'s type; values that do not fit become NULL."""
    source, target = field_type(old.type), field_type(new.type)
    table, col = old.data_model.db_table, f'"{old.column}"'
    text = source.sql_to_text(old, col)
    fits = target.sql_fits(new, text)
    if source.sql_type(old) == target.sql_type(new):
        if fits != "TRUE":
            _run(f'UPDATE "{table}" SET {col} = NULL WHERE {col} IS NOT NULL AND NOT coalesce({fits}, FALSE)')
        return
    value = target.sql_from_text(new, text)
    if new.type == "json" and old.type != "datetime":
        # Numbers, booleans and lists stay numbers, booleans and arrays, not their text;
        # datetimes go through their text, which has the API's `Z` form.
        value = f"to_jsonb({col})"
    _run(
        f'ALTER TABLE "{table}" ALTER COLUMN {col} TYPE {target.sql_type(new)} USING '
        f"CASE WHEN {col} IS NOT NULL AND coalesce({fits}, FALSE) THEN {value} END"
    )
