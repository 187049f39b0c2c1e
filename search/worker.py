"""The embedding worker: a loop that keeps computed vectors up to date with the change feed.

It drains the feed (`search.feed.drain`), then sleeps until PostgreSQL notifies the
`infinity_changes` channel (the feed's triggers do, at commit) or `POLL_SECONDS` pass,
whichever is first. After a failure (the backend is down, the database restarted) it
waits 1, 2, 4 … up to `MAX_PAUSE` seconds before trying again; the changes wait in the
feed meanwhile. `start()` runs it in a daemon thread: of the server process without Redis
(`manage.py serve`, through `infinity.background`), of each `celery -A infinity worker`
with Redis (`search.tasks`); `manage.py embeddings work` runs it in the foreground.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import connection

from datamodels.changes import CHANNEL
from infinity import background

from . import feed

logger = logging.getLogger("search.worker")
POLL_SECONDS = 2.0  # a notification missed (e.g. while reconnecting) costs at most this
MAX_PAUSE = 60.0
LINGER = 0.1

_thread: threading.Thread | None = None


def run(stop: threading.Event, *, poll: float = POLL_SECONDS) -> None:
    """Drain the feed whenever there is work, until `stop` is set."""
    background.lower_priority()
    failures = 0
    while not stop.is_set():
        try:
            outcome = feed.drain()
        except Exception:  # the database went away, a bug: log it, pause, start again
            logger.exception("the embedding worker failed; it will retry")
            outcome = feed.Outcome(error="error")
            connection.close()
        if outcome.error:
            failures += 1
            stop.wait(min(MAX_PAUSE, 2.0 ** (failures - 1)))
            continue
        failures = 0
        # After a batch, look again shortly: a change committed while it was taken may not
        # have notified (the feed wakes a consumer only when nothing of it waits).
        _wait_for_changes(stop, LINGER if outcome.changes else poll)
    connection.close()


def _wait_for_changes(stop: threading.Event, poll: float) -> None:
    """Block until a change for search is committed (a NOTIFY), `poll` seconds, or `stop`."""
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {CHANNEL}")
        for _ in connection.connection.notifies(timeout=poll, stop_after=1):
            pass  # any consumer's work wakes the drain: checking for ours costs one indexed query
    except Exception:  # a broken connection: the next drain reconnects
        connection.close()
        stop.wait(poll)


def start(*, force: bool = False) -> threading.Thread | None:
    """Start the worker thread of this process (once); with Redis only in Celery workers (`force`)."""
    global _thread
    if (settings.REDIS_URL and not force) or (_thread is not None and _thread.is_alive()):
        return None
    stop = threading.Event()
    _thread = threading.Thread(target=run, args=(stop,), name="search-embeddings", daemon=True)
    _thread.stop = stop
    _thread.start()
    return _thread
