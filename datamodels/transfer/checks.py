"""What an import can only check on the whole file, and its write: SQL over the staging table.

Each check is one query that returns the first problems by line and how many there
are in all: ids and unique values repeated inside the file or already in the table,
and relations to records that exist neither in the table nor (for a model relating
to itself) in the file. `write` then moves the staged rows into the model's table with
`INSERT … SELECT` and, for upserts, `UPDATE … FROM`: plain statements, so every
trigger on the table fires.
"""

from __future__ import annotations

from typing import Iterator

from django.db import connection

from .formats import RowProblem

LIMIT = 100


def _fetch(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _run(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def match_existing(staging, upsert_on: str) -> None:
    """Rows whose `upsert_on` value is already in the table update that record: they take its id."""
    entry = staging.entry
    column = "id" if upsert_on == "id" else entry.by_name[upsert_on].column
    _run(f'UPDATE "{staging.table}" s SET target_id = t.id, id = t.id FROM "{entry.definition.db_table}" t '
         f'WHERE t."{column}" = s."{column}"')


def problems(staging) -> Iterator[tuple[list[RowProblem], int]]:
    """(first problems, how many in all) of every whole-file check."""
    _run(f'ANALYZE "{staging.table}"')
    stage, table = f'"{staging.table}"', f'"{staging.entry.definition.db_table}"'
    yield _repeats(stage, "id", "id", "This id (or the record it matches) is also on line ")
    yield _query(f"SELECT s.line, 'id', 'A record with this id already exists (import with --upsert-on id to "
                 f"update it)' FROM {stage} s JOIN {table} t ON t.id = s.id WHERE s.target_id IS NULL")
    for field in staging.entry.fields:
        if field.unique and not (field.type == "relation" and field.many):
            yield _repeats(stage, field.column, field.name, "Must be unique: this value is also on line ")
            yield _query(f"SELECT s.line, %s, 'Must be unique: this value is already used' FROM {stage} s "
                         f'JOIN {table} t ON t."{field.column}" = s."{field.column}" AND t.id <> s.id', [field.name])
        if field.type == "relation":
            yield _dangling(staging, field)


def _query(select: str, params=()) -> tuple[list[RowProblem], int]:
    rows = _fetch(f"SELECT p.*, count(*) OVER () FROM ({select}) p(line, field, message) ORDER BY line LIMIT {LIMIT}",
                  params)
    return [RowProblem(line, name, message) for line, name, message, _ in rows], (rows[0][3] if rows else 0)


def _repeats(stage: str, column: str, name: str, message: str) -> tuple[list[RowProblem], int]:
    """Rows whose value in `column` an earlier row of the file already has."""
    return _query(
        f'WITH repeated AS (SELECT "{column}" AS value, min(line) AS first FROM {stage} WHERE "{column}" IS NOT NULL '
        f'GROUP BY "{column}" HAVING count(*) > 1) '
        f"SELECT s.line, %s, %s || r.first FROM {stage} s JOIN repeated r "
        f'ON s."{column}" = r.value WHERE s.line > r.first', [name, message])


def _exists(staging, field, ref: str) -> str:
    """SQL: the record `ref` names exists in the target table, or (self-relation) in the file."""
    sql = f'EXISTS (SELECT 1 FROM "dm_{field.related_model_id}" t WHERE t.id = {ref})'
    if field.related_model_id == staging.entry.definition.pk:
        sql += f' OR EXISTS (SELECT 1 FROM "{staging.table}" f WHERE f.id = {ref})'
    return sql


def _dangling(staging, field) -> tuple[list[RowProblem], int]:
    stage = f'"{staging.table}"'
    if not field.many:
        ref = f's."{field.column}"'
        return _query(f"SELECT s.line, %s, 'No such record: ' || {ref} FROM {stage} s "
                      f"WHERE {ref} IS NOT NULL AND NOT ({_exists(staging, field, ref)})", [field.name])
    return _query(
        f"SELECT s.line, %s, 'No such record: ' || string_agg(x.target, ', ' ORDER BY x.n) FROM {stage} s "
        f'CROSS JOIN LATERAL unnest(s."m_{field.pk}") WITH ORDINALITY x(target, n) '
        f"WHERE NOT ({_exists(staging, field, 'x.target')}) GROUP BY s.line", [field.name])


def planned(staging) -> tuple[int, int]:
    """(records to create, records to update)."""
    return tuple(_fetch(f'SELECT count(*) FILTER (WHERE target_id IS NULL), count(*) FILTER (WHERE target_id IS NOT '
                        f'NULL) FROM "{staging.table}"')[0])


def write(staging, present: list, now) -> None:
    """Insert the new records, update the matched ones (the fields the file names), then link to-many ids.

    Inserts come first: an updated record may relate to a new one.
    """
    stage, table = f'"{staging.table}"', f'"{staging.entry.definition.db_table}"'
    columns = ", ".join(["id", "created_at", "updated_at", *(f'"{f.column}"' for f in staging.single)])
    _run(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage} WHERE target_id IS NULL")
    updates = any(planned(staging)[1:])
    if updates:
        sets = ", ".join([*(f'"{f.column}" = s."{f.column}"' for f in staging.single if f in present),
                          "updated_at = %s"])
        _run(f"UPDATE {table} t SET {sets} FROM {stage} s WHERE s.target_id IS NOT NULL AND t.id = s.target_id",
             [now])
    for field in staging.many:
        replaced = updates and field in present
        if replaced:
            _run(f'DELETE FROM "{field.join_table}" WHERE source_id IN '
                 f"(SELECT target_id FROM {stage} WHERE target_id IS NOT NULL)")
        _run(f'INSERT INTO "{field.join_table}" (source_id, target_id) SELECT s.id, x.target FROM {stage} s '
             f'CROSS JOIN LATERAL unnest(s."m_{field.pk}") WITH ORDINALITY x(target, n) '
             f"WHERE s.target_id IS NULL{' OR TRUE' if replaced else ''} ORDER BY s.line, x.n")
