"""Celery tasks of webhook delivery: thin wrappers of `webhooks.delivery`.

With `REDIS_URL`, `celery -A infinity worker --beat` runs them: beat sweeps every
`INFINITY_WEBHOOK_SWEEP_SECONDS` and prunes hourly, and each worker's listener thread
(started when the worker is ready) queues a `pump` as soon as a commit recorded changes.
"""

from __future__ import annotations

import logging
import threading

from celery import shared_task
from celery.signals import worker_ready, worker_shutdown

from . import delivery

logger = logging.getLogger("webhooks.tasks")
_stop = threading.Event()


@shared_task(name="webhooks.pump", ignore_result=True)
def pump() -> int:
    return delivery.pump(linger=delivery.LINGER)


@shared_task(name="webhooks.prune", ignore_result=True)
def prune() -> int:
    return delivery.prune()


def _listen() -> None:
    """Queue a `pump` whenever changes were committed (at most one per wake-up)."""
    from django.conf import settings

    from .worker import _close, _listener

    listener = None
    while not _stop.is_set():
        try:
            listener = listener or _listener()
            woke = False
            for _ in listener.notifies(timeout=settings.INFINITY["WEBHOOK_SWEEP_SECONDS"], stop_after=1):
                woke = True
            if woke:
                for _ in listener.notifies(timeout=0.02):  # drain what came meanwhile: one pump does it all
                    pass
                pump.delay()
        except Exception:
            logger.exception("webhook listener failed; the sweeper still delivers")
            listener = _close(listener)
            _stop.wait(1.0)
    _close(listener)


@worker_ready.connect
def _start_listener(**_):
    threading.Thread(target=_listen, name="webhook-listener", daemon=True).start()


@worker_shutdown.connect
def _stop_listener(**_):
    _stop.set()
