"""Exact row counts of data-model tables without `count(*)` scans.

Statement-level triggers on every `dm_<id>` table (created with the table) append the
number of rows each INSERT, COPY or DELETE statement added or removed to
`datamodels_rowcount` (an UPDATE appends 0); a TRUNCATE clears them. The count is their
sum, read in one snapshot, so it is exact under concurrent writers and rollbacks. Reads
fold the deltas into one row once they pile up, so the sum stays a handful of rows.

The visible delta rows also say whether a table changed at all: any committed write
adds one, a fold replaces many by one with a new id, so (sum, rows, highest id) never
repeats for a different content. `filtered_count` uses that to keep exact filtered
totals per process until the table changes.
"""

from __future__ import annotations

from django.db import connection

TABLE = "datamodels_rowcount"
COMPACT_AFTER = 64

FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION infinity_count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT count(*) INTO n FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT -count(*) INTO n FROM old_rows;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO {TABLE} (data_model_id, delta) VALUES (TG_ARGV[0]::integer, 0);
        RETURN NULL;
    ELSE
        DELETE FROM {TABLE} WHERE data_model_id = TG_ARGV[0]::integer;
        RETURN NULL;
    END IF;
    IF n <> 0 THEN
        INSERT INTO {TABLE} (data_model_id, delta) VALUES (TG_ARGV[0]::integer, n);
    END IF;
    RETURN NULL;
END
$$
"""


def trigger_statements(model_id: int, table: str) -> list[str]:
    """The triggers that keep `table`'s count; run once, right after the table is created."""
    run = f"FOR EACH STATEMENT EXECUTE FUNCTION infinity_count_rows('{int(model_id)}')"
    return [
        f'CREATE TRIGGER "{table}_count_insert" AFTER INSERT ON "{table}" REFERENCING NEW TABLE AS new_rows {run}',
        f'CREATE TRIGGER "{table}_count_delete" AFTER DELETE ON "{table}" REFERENCING OLD TABLE AS old_rows {run}',
        f'CREATE TRIGGER "{table}_count_truncate" AFTER TRUNCATE ON "{table}" {run}',
        update_trigger_statement(model_id, table),
    ]


def update_trigger_statement(model_id: int, table: str) -> str:
    run = f"FOR EACH STATEMENT EXECUTE FUNCTION infinity_count_rows('{int(model_id)}')"
    return f'CREATE TRIGGER "{table}_count_update" AFTER UPDATE ON "{table}" {run}'


def seed_statement(model_id: int, table: str) -> str:
    """Start the count of a table that already holds rows (for tables made before the triggers)."""
    return (
        f"WITH gone AS (DELETE FROM {TABLE} WHERE data_model_id = {int(model_id)}) "
        f'INSERT INTO {TABLE} (data_model_id, delta) SELECT {int(model_id)}, count(*) FROM "{table}"'
    )


def forget_statement(model_id: int) -> str:
    return f"DELETE FROM {TABLE} WHERE data_model_id = {int(model_id)}"


_STATE = f"SELECT coalesce(sum(delta), 0), count(*), coalesce(max(id), 0) FROM {TABLE} WHERE data_model_id = %s"
MAX_CACHED_COUNTS = 1000
_counts: dict[tuple, tuple[tuple, int]] = {}


def row_count(model_id: int) -> int:
    """The exact number of rows in the model's table, as this transaction sees it."""
    with connection.cursor() as cursor:
        cursor.execute(_STATE, [model_id])
        total, pieces, _ = cursor.fetchone()
        if pieces > COMPACT_AFTER:
            _compact(cursor, model_id)
    return int(total)


def filtered_count(model_id: int, signature: tuple, queryset) -> int:
    """`queryset.count()`, remembered until the table changes.

    `signature` must identify the filter completely (schema version included), and the
    filter may read only this table's own columns. On a miss, the count and the table's
    state are read in one statement, so they belong to the same snapshot.
    """
    with connection.cursor() as cursor:
        cursor.execute(_STATE, [model_id])
        state = cursor.fetchone()
        cached = _counts.get(signature)
        if cached is not None and cached[0] == state:
            return cached[1]
        matched, params = queryset.values("pk").query.sql_with_params()
        cursor.execute(f"SELECT (SELECT count(*) FROM ({matched}) matched), s.* FROM ({_STATE}) s",
                       [*params, model_id])
        count, *state = cursor.fetchone()
    if len(_counts) >= MAX_CACHED_COUNTS:
        _counts.clear()
    _counts[signature] = (tuple(state), count)
    return count


def _compact(cursor, model_id: int) -> None:
    # Rows a concurrent compaction already took are skipped, rows of uncommitted writers
    # are not seen: either way the sum moves from the deleted rows into the new one intact.
    cursor.execute(
        f"WITH gone AS (DELETE FROM {TABLE} WHERE data_model_id = %s RETURNING delta) "
        f"INSERT INTO {TABLE} (data_model_id, delta) SELECT %s, sum(delta) FROM gone HAVING count(*) > 0",
        [model_id, model_id],
    )
