"""A short-lived, per-process cache of authenticated API keys (with their owners).

A request with a cached key skips the key lookup (and the owner's permission
queries, cached on the user object). Any change to keys, users, groups or
permissions made in this process clears the cache at once (signals, see
`accounts.apps`); a change made by another process is seen within
`INFINITY_KEY_CACHE_SECONDS` (default 5; 0 turns the cache off).
Entries are keyed by the SHA-256 of the raw key, so no raw secret is kept.
"""

from __future__ import annotations

import time

from django.conf import settings

MAX_ENTRIES = 10_000

_entries: dict[str, tuple[float, object]] = {}


def _ttl() -> float:
    return settings.INFINITY["KEY_CACHE_SECONDS"]


def get(digest: str):
    """The cached key for this hash, or None when absent or older than the TTL."""
    entry = _entries.get(digest)
    if entry is None:
        return None
    if time.monotonic() - entry[0] >= _ttl():
        _entries.pop(digest, None)
        return None
    return entry[1]


def put(digest: str, key) -> None:
    if _ttl() <= 0:
        return
    if len(_entries) >= MAX_ENTRIES:
        _entries.clear()
    _entries[digest] = (time.monotonic(), key)


def clear(*_args, **_kwargs) -> None:
    """Forget every cached key; connected to the signals of every change that could matter."""
    _entries.clear()
