"""Reads that ride along: statements a request sends to PostgreSQL in one round trip.

A request knows early some reads it will make (the schema stamp, the record or page it
asks for), while its first statement (the rate-limit count) must run before anything is
decided. `queue(sql, params)` puts a read aside; the next `read()` or `run()` on the
connection sends every queued read in the same simple-query message after its own
statement, and keeps their rows; `read()` of a kept read hands its rows over without
a round trip. Each round trip saved is a context switch less for the database and
the server process.

Queued reads must be plain SELECTs that the request would make anyway, before any
write of its own: they may run for a request that is then refused (their rows are
dropped unseen). If one fails (a table a stale schema still names), the batch is
undone and the statement that carried it runs alone. Everything is forgotten at the
start and at the end of every request, so rows never outlive their request.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from psycopg.pq import ExecStatus

_ATTR = "_infinity_prefetch"
SAVEPOINT = "infinity_prefetch"
TUPLES_OK = ExecStatus.TUPLES_OK


class _State:
    """The queued reads of one connection, and the rows of those that ran."""

    __slots__ = ("queued", "fetched")

    def __init__(self):
        self.queued: dict[tuple, tuple[str, list]] = {}
        self.fetched: dict[tuple, list[tuple]] = {}


def _state(conn) -> _State:
    state = getattr(conn, _ATTR, None)
    if state is None:
        state = _State()
        setattr(conn, _ATTR, state)
    return state


def _key(sql: str, params) -> tuple | None:
    """What identifies a read; None for one with a list among its values (never queued)."""
    key = (sql, *params)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def queue(sql: str, params=()) -> None:
    """Send this read with the next statement of the request (it is a no-op until then)."""
    state, key = _state(connections[DEFAULT_DB_ALIAS]), _key(sql, params)
    if key is not None and key not in state.fetched:
        state.queued[key] = (sql, list(params))


def forget(sql: str, params=()) -> None:
    """Drop this read, queued or kept: the next `read()` of it asks the database."""
    state, key = _state(connections[DEFAULT_DB_ALIAS]), _key(sql, params)
    state.queued.pop(key, None)
    state.fetched.pop(key, None)


def read(sql: str, params=()) -> list[tuple]:
    """The rows of a SELECT: kept from an earlier round trip, else read now."""
    conn = connections[DEFAULT_DB_ALIAS]  # once: every `connection.x` looks the thread's one up
    state, key = _state(conn), _key(sql, params)
    if key is not None:
        rows = state.fetched.pop(key, None)
        if rows is not None:
            return rows
        state.queued.pop(key, None)
    return _run(conn, state, sql, params)


def run(sql: str, params=()) -> list[tuple]:
    """Run one statement now, with every queued read in the same round trip; its rows."""
    conn = connections[DEFAULT_DB_ALIAS]
    return _run(conn, _state(conn), sql, params)


def _run(conn, state: _State, sql: str, params) -> list[tuple]:
    queued, state.queued = state.queued, {}
    with conn.cursor() as cursor:
        if queued and _run_batch(conn, cursor, sql, list(params), queued.values()):
            raw = cursor.cursor
            rows = _rows(raw)
            for key in queued:
                raw.nextset()
                state.fetched[key] = _rows(raw)
            return rows
        cursor.execute(sql, params)
        return _rows(cursor.cursor)


def _run_batch(conn, cursor, sql: str, params: list, queued) -> bool:
    """Send `sql` and the queued reads as one message, the cursor left on `sql`'s result;
    False when the batch failed and was undone."""
    statements, values = [sql], params
    for read_sql, read_params in queued:
        statements.append(read_sql)
        values += read_params
    # Inside a transaction a failed statement would doom it: the batch gets a savepoint
    # of its own, in the same message, so it costs no round trip either.
    guarded = conn.in_atomic_block
    if guarded:
        statements = [f"SAVEPOINT {SAVEPOINT}", *statements, f"RELEASE SAVEPOINT {SAVEPOINT}"]
    try:
        cursor.execute(";\n".join(statements), values)
    except DatabaseError:
        if guarded:
            cursor.execute(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}")
        return False  # outside a transaction, the failed message was one and is rolled back
    if guarded:
        cursor.cursor.nextset()  # past the SAVEPOINT
    return True


def _rows(cursor) -> list[tuple]:
    """The rows of the psycopg cursor's current result (none for a command without)."""
    # The result's status, not `cursor.description`, which builds column objects each time.
    result = cursor.pgresult
    return cursor.fetchall() if result is not None and result.status == TUPLES_OK else []


def reset(**_kwargs) -> None:
    """Forget queued and kept reads (connected to request_started and request_finished)."""
    state = getattr(connections[DEFAULT_DB_ALIAS], _ATTR, None)
    if state is not None:
        state.queued.clear()
        state.fetched.clear()
