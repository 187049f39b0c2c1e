"""Background work a server process starts beside serving requests, registered by apps.

Apps register a starter in their `AppConfig.ready` (webhooks: its in-process delivery
worker); `manage.py serve` calls `start_all()` once. Each starter decides itself whether
it has work to do in this process (with `REDIS_URL`, Celery workers deliver instead).
"""

from __future__ import annotations

import logging
from typing import Callable

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
