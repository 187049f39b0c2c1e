"""Atomic counter caches for rate limits: PostgreSQL when there is no Redis, else Redis.

django-ratelimit counts with `cache.add` and `cache.incr`. Django's DatabaseCache
implements `incr` as a read then a write of a pickled value, so concurrent requests
lose counts; `CounterCache` keeps plain integers in an UNLOGGED table and increments
them atomically, so every process shares exact counters. Both backends add
`incr_many`, which adds to several windows' counters in a single round trip.
"""

import random

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.cache.backends.redis import RedisCache
from django.db import connection

from infinity import prefetch

TABLE = "accounts_counter"
_NOW_PLUS = "now() + make_interval(secs => %s)"
SWEEP_CHANCE = 0.01


class CounterCache(BaseCache):
    """Integer-only cache backend with atomic add/incr, shared through PostgreSQL."""

    def __init__(self, location, params):
        super().__init__(params)

    def _timeout(self, timeout):
        """Seconds from now until the counter expires. (`get_backend_timeout` is absolute
        unix time, which as an interval kept every counter for decades.)"""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        return 10 * 365 * 86400 if timeout is None else max(timeout, 0)

    def _query(self, sql, params):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone() if cursor.description else None

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        # Expired counters are swept now and then, not on every add; inside the same
        # statement, so a request makes as many queries whether it sweeps or not.
        sweep, params = ("", [])
        if random.random() < SWEEP_CHANCE:
            sweep, params = (f"WITH swept AS (DELETE FROM {TABLE} WHERE expires < now() AND key <> %s) ", [key])
        row = self._query(
            f"{sweep}INSERT INTO {TABLE} (key, value, expires) VALUES (%s, %s, {_NOW_PLUS}) "
            f"ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires = EXCLUDED.expires "
            f"WHERE {TABLE}.expires < now() RETURNING 1",
            [*params, key, int(value), self._timeout(timeout)],
        )
        return row is not None

    def incr_many(self, items: list[tuple[str, int, int]]) -> list[int]:
        """Add `amount` to each `(key, timeout, amount)` (created at `amount` with its timeout
        when absent or expired); the new values."""
        keys = [self.make_and_validate_key(key) for key, _, _ in items]
        rows = ", ".join([f"(%s, %s::bigint, {_NOW_PLUS})"] * len(items))
        params = [value for key, (_, timeout, amount) in zip(keys, items)
                  for value in (key, amount, self._timeout(timeout))]
        fresh = f"{TABLE}.expires >= now()"
        # The request's first statement: the reads it queued (schema stamp, its record) ride along.
        values = dict(prefetch.run(
            f"INSERT INTO {TABLE} (key, value, expires) VALUES {rows} ON CONFLICT (key) DO UPDATE SET "
            f"value = CASE WHEN {fresh} THEN {TABLE}.value + EXCLUDED.value ELSE EXCLUDED.value END, "
            f"expires = CASE WHEN {fresh} THEN {TABLE}.expires ELSE EXCLUDED.expires END "
            "RETURNING key, value",
            params,
        ))
        return [values[key] for key in keys]

    def get(self, key, default=None, version=None):
        key = self.make_and_validate_key(key, version=version)
        row = self._query(f"SELECT value FROM {TABLE} WHERE key = %s AND expires >= now()", [key])
        return default if row is None else row[0]

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        self._query(
            f"INSERT INTO {TABLE} (key, value, expires) VALUES (%s, %s, {_NOW_PLUS}) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires = EXCLUDED.expires",
            [key, int(value), self._timeout(timeout)],
        )

    def incr(self, key, delta=1, version=None):
        key = self.make_and_validate_key(key, version=version)
        row = self._query(
            f"UPDATE {TABLE} SET value = value + %s WHERE key = %s AND expires >= now() RETURNING value",
            [delta, key],
        )
        if row is None:
            raise ValueError(f"Key '{key}' not found")
        return row[0]

    def delete(self, key, version=None):
        key = self.make_and_validate_key(key, version=version)
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {TABLE} WHERE key = %s", [key])
            return cursor.rowcount > 0

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        row = self._query(
            f"UPDATE {TABLE} SET expires = {_NOW_PLUS} WHERE key = %s RETURNING 1", [self._timeout(timeout), key]
        )
        return row is not None

    def clear(self):
        self._query(f"DELETE FROM {TABLE}", [])


class RedisCounterCache(RedisCache):
    """Django's Redis cache with `incr_many`: INCRBY and EXPIRE NX for every key in one pipeline."""

    def incr_many(self, items: list[tuple[str, int, int]]) -> list[int]:
        keys = [self.make_and_validate_key(key) for key, _, _ in items]
        pipeline = self._cache.get_client(keys[0], write=True).pipeline(transaction=False)
        for key, (_, timeout, amount) in zip(keys, items):
            pipeline.incr(key, amount)
            pipeline.expire(key, self.get_backend_timeout(timeout), nx=True)
        return pipeline.execute()[0::2]
