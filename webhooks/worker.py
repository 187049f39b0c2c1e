"""The in-process delivery worker: `make run`/`manage.py serve` deliver without Redis or Celery.

A daemon thread LISTENs on the change feed's channel and runs the very code the Celery
tasks run (`delivery.pump`), woken by each commit that recorded a change, and at least
every `INFINITY_WEBHOOK_SWEEP_SECONDS` for retries that come due; it prunes old
deliveries hourly. Several server processes may each run one: `SKIP LOCKED` keeps them
from sending one attempt twice.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connection

from datamodels.changes import CHANNEL
from infinity import background

from . import delivery

logger = logging.getLogger("webhooks.worker")
PRUNE_EVERY = 3600.0
IDLE_WAIT = 0.2

_thread: threading.Thread | None = None
_stop = threading.Event()


def start_in_process(*, force: bool = False) -> threading.Thread | None:
    """Start the worker thread once per process (not when Celery workers deliver, unless `force`)."""
    global _thread
    if (settings.REDIS_URL and not force) or (_thread is not None and _thread.is_alive()):
        return _thread
    _stop.clear()
    _thread = threading.Thread(target=_run, name="webhook-worker", daemon=True)
    _thread.start()
    return _thread


def stop(timeout: float = 10.0) -> None:
    _stop.set()
    if _thread is not None:
        _thread.join(timeout)


def _listener():
    listener = connection.get_new_connection(connection.get_connection_params())
    listener.autocommit = True
    listener.execute(f"LISTEN {CHANNEL}")
    return listener


def _run() -> None:
    background.lower_priority()
    listener, last_prune = None, 0.0
    sweep = settings.INFINITY["WEBHOOK_SWEEP_SECONDS"]
    while not _stop.is_set():
        try:
            listener = listener or _listener()
            sent = delivery.pump(linger=delivery.LINGER)
            if time.monotonic() - last_prune > PRUNE_EVERY:
                delivery.prune()
                last_prune = time.monotonic()
            wait = delivery.seconds_until_due(sweep)
            if not sent:  # what is due is in another worker's hands (locked): do not spin on it
                wait = max(wait, IDLE_WAIT)
            if wait > 0:
                for _ in listener.notifies(timeout=wait, stop_after=1):
                    pass
        except Exception:
            logger.exception("webhook worker step failed; trying again shortly")
            listener = _close(listener)
            _stop.wait(1.0)
        finally:
            close_old_connections()
    _close(listener)
    connection.close()


def _close(listener):
    if listener is not None:
        try:
            listener.close()
        except Exception:
            pass
    return None
