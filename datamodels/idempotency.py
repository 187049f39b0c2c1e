"""Idempotent creates: a retried POST with the same `Idempotency-Key` gets the first response.

Keys are scoped to the caller and the model and kept 24 hours. The stored response
is written in the same transaction as the records it describes, so a key is never
recorded for a create that did not happen.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.utils import timezone

from infinity.exceptions import Conflict, ValidationFailed
from infinity.renderers import dumps

from .models import IdempotencyKey

TTL = datetime.timedelta(hours=24)
MAX_KEY = 255


def fingerprint(data) -> str:
    return hashlib.sha256(dumps(data, sort_keys=True)).hexdigest()


def idempotent(*, caller: str, scope: str, key: str, data, action: Callable[[], tuple[int, dict]]):
    """Run `action` once per key; returns (status, body, replayed)."""
    if not key or len(key) > MAX_KEY:
        raise ValidationFailed(details=[{"field": "Idempotency-Key", "message": f"Must be 1 to {MAX_KEY} characters"}])
    digest = fingerprint(data)
    stored = _stored(caller, scope, key)
    if stored is not None:
        return _replay(stored, digest)
    try:
        with transaction.atomic():
            IdempotencyKey.objects.filter(caller=caller, scope=scope, key=key).delete()  # an expired one
            status, body = action()
            IdempotencyKey.objects.create(
                caller=caller, scope=scope, key=key, fingerprint=digest, status=status,
                body=dumps(body).decode(),
            )
    except IntegrityError:
        # A concurrent request with the same key won; answer as it did.
        stored = _stored(caller, scope, key)
        if stored is None:
            raise
        return _replay(stored, digest)
    return status, body, False


def _stored(caller: str, scope: str, key: str):
    since = timezone.now() - TTL
    return IdempotencyKey.objects.filter(caller=caller, scope=scope, key=key, created_at__gte=since).first()


def _replay(stored: IdempotencyKey, digest: str):
    if stored.fingerprint != digest:
        raise Conflict("This Idempotency-Key was already used with a different body")
    # The stdlib, not orjson: orjson reads integers beyond 64 bits as floats.
    return stored.status, json.loads(stored.body), True


def prune_expired() -> int:
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - TTL).delete()
    return deleted
