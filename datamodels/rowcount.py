"""Exact row counts of data-model tables without `count(*)` scans.

Statement-level triggers on every `dm_<id>` table (created with the table) add the
number of rows each INSERT, COPY or DELETE statement added or removed to one of
`SLOTS` counter rows per model in `datamodels_rowcount`, chosen by the database
session, so concurrent writers on different connections never wait for each other;
a TRUNCATE sets them to zero. The count is the sum of the slots, read in one snapshot, so it
is exact under concurrent writers and rollbacks, and the table stays a few rows.

Every write statement (UPDATE included) also adds 1 to its slot's `changes`. Committed
writes become visible in commit order, so the sum of `changes` names the table's
content: `filtered_count` keeps exact filtered totals per process until it moves.
"""

from __future__ import annotations

from django.db import connection

from infinity import prefetch

TABLE = "datamodels_rowcount"
SLOTS = 16

FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION infinity_count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE n bigint := 0;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT count(*) INTO n FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT -count(*) INTO n FROM old_rows;
    ELSIF TG_OP = 'TRUNCATE' THEN
        -- Counts to zero, but `changes` only ever grows: a state never comes back.
        UPDATE {TABLE} SET delta = 0, changes = changes + 1 WHERE data_model_id = TG_ARGV[0]::integer;
        RETURN NULL;
    END IF;
    INSERT INTO {TABLE} AS c (data_model_id, slot, delta, changes)
        VALUES (TG_ARGV[0]::integer, mod(pg_backend_pid(), {SLOTS}), n, 1)
        ON CONFLICT (data_model_id, slot) DO UPDATE SET delta = c.delta + EXCLUDED.delta, changes = c.changes + 1;
    RETURN NULL;
END
$$
"""


def _each_statement(model_id: int) -> str:
    return f"FOR EACH STATEMENT EXECUTE FUNCTION infinity_count_rows('{int(model_id)}')"


def trigger_statements(model_id: int, table: str) -> list[str]:
    """The triggers that keep `table`'s count; run once, right after the table is created."""
    run = _each_statement(model_id)
    return [
        f'CREATE TRIGGER "{table}_count_insert" AFTER INSERT ON "{table}" REFERENCING NEW TABLE AS new_rows {run}',
        f'CREATE TRIGGER "{table}_count_delete" AFTER DELETE ON "{table}" REFERENCING OLD TABLE AS old_rows {run}',
        f'CREATE TRIGGER "{table}_count_truncate" AFTER TRUNCATE ON "{table}" {run}',
        update_trigger_statement(model_id, table),
    ]


def update_trigger_statement(model_id: int, table: str) -> str:
    return f'CREATE TRIGGER "{table}_count_update" AFTER UPDATE ON "{table}" {_each_statement(model_id)}'


def forget_statement(model_id: int) -> str:
    return f"DELETE FROM {TABLE} WHERE data_model_id = {int(model_id)}"


_STATE = f"SELECT coalesce(sum(delta), 0), coalesce(sum(changes), 0) FROM {TABLE} WHERE data_model_id = %s"
MAX_CACHED_COUNTS = 1000
_counts: dict[tuple, tuple[tuple, int]] = {}


def state_read(model_id: int) -> tuple[str, tuple]:
    """The read of a model's count and change state, as (sql, params), to queue ahead."""
    return _STATE, (model_id,)


def row_count(model_id: int) -> int:
    """The exact number of rows in the model's table, as this transaction sees it."""
    return int(prefetch.read(_STATE, (model_id,))[0][0])


def filtered_count(model_id: int, signature: tuple, queryset) -> int:
    """`queryset.count()`, remembered until the table changes.

    `signature` must identify the filter completely (schema version included), and the
    filter may read only this table's own columns. On a miss, the count and the table's
    state are read in one statement, so they belong to the same snapshot.
    """
    state = prefetch.read(_STATE, (model_id,))[0]
    cached = _counts.get(signature)
    if cached is not None and cached[0] == state:
        return cached[1]
    with connection.cursor() as cursor:
        matched, params = queryset.values("pk").query.sql_with_params()
        cursor.execute(f"SELECT (SELECT count(*) FROM ({matched}) matched), s.* FROM ({_STATE}) s",
                       [*params, model_id])
        count, *state = cursor.fetchone()
    if len(_counts) >= MAX_CACHED_COUNTS:
        _counts.clear()
    _counts[signature] = (tuple(state), count)
    return count
