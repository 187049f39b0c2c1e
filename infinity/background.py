"""Background work a server process starts beside serving requests, registered by apps.

Apps register a starter in their `AppConfig.ready` (webhooks: its in-process delivery
worker); `manage.py serve` calls `start_all()` once. Each starter decides itself whether
it has work to do in this process (with `REDIS_URL`, Celery workers deliver instead).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Callable

from django.conf import settings

logger = logging.getLogger("infinity.background")
_starters: dict[str, Callable[[], None]] = {}


def register(name: str, start: Callable[[], None]) -> None:
    _starters[name] = start


def names() -> list[str]:
    return list(_starters)


def start_all() -> None:
    for name, start in _starters.items():
        try:
            start()
        except Exception:  # one failing starter must not keep the server down
            logger.exception("background work %s did not start", name)


def lower_priority() -> None:
    """Run the calling thread, and the threads it starts, at `INFINITY_WORKER_NICE`: when the
    cores are busy, the operating system serves the API's requests first, and deliveries and
    embeddings catch up as soon as it has time (Linux keeps a nice value per thread)."""
    nice = settings.INFINITY["WORKER_NICE"]
    try:
        me = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, me, max(nice, os.getpriority(os.PRIO_PROCESS, me)))
    except (AttributeError, OSError):  # not on this platform: at the same priority as requests
        pass
