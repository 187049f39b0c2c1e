"""The delivery engine, the same code under Celery and in the in-process worker.

`pump` does all the work in bounded steps:
1. `fan_out` takes this app's changes from the change feed and writes one `Delivery`
   per interested webhook, in the transaction that takes them (a crash loses neither),
   after making the first attempt of a batch of them;
2. `send_due` locks due deliveries with `FOR UPDATE SKIP LOCKED` (no two workers ever
   send one attempt at once; a killed worker's locks go with its connection), sends them
   concurrently, and records each attempt, the next retry or the final state.
Because the tables are the truth, a broker that is down, a full queue or a dead worker
only delays deliveries: any later `pump` (the sweeper runs one every few seconds) sends
what is due.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import time
from concurrent.futures import ThreadPoolExecutor

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from ulid import ULID

from datamodels import changes
from datamodels.fieldtypes.scalars import format_datetime
from datamodels.models import DataModel

from . import sender, signing
from .models import Delivery, DeliveryAttempt, Webhook
from .services import CONSUMER, webhook_disable

FAN_OUT_BATCH = 500
LINGER = (0.01, 0.02, 0.04, 0.08, 0.16)  # seconds: the background loops' last looks after their last batch
JITTER = 0.2
MAX_RETRY_AFTER = 24 * 3600.0

_pool: ThreadPoolExecutor | None = None


def retry_schedule() -> list[float]:
    return [float(s) for s in str(settings.INFINITY["WEBHOOK_RETRY_SCHEDULE"]).split(",") if s.strip()]


def _pool_of() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=max(1, settings.INFINITY["WEBHOOK_CONCURRENCY"]),
                                   thread_name_prefix="webhook-send")
    return _pool


# --- 1. changes -> deliveries -------------------------------------------------------

def _wants(webhook: Webhook, change) -> bool:
    if change.event not in webhook.events:
        return False
    if webhook.model_ids and change.data_model_id not in webhook.model_ids:
        return False
    if change.event == "record.updated" and webhook.fields:
        return bool(set(webhook.fields) & set(change.changed))
    return True


def payload(change, model_name: str) -> bytes:
    """The body sent: the record's JSON embedded as the API wrote it."""
    body = {"event": change.event, "model": model_name, "timestamp": format_datetime(change.created_at),
            "data": orjson.Fragment(change.data)}
    if change.event == "record.updated":
        body["previous"] = change.previous or {}
    return orjson.dumps(body)


def fan_out(limit: int = FAN_OUT_BATCH) -> tuple[int, int]:
    """Turn up to `limit` committed changes into deliveries, in the transaction that takes them,
    and make the first attempt of the first `WEBHOOK_CONCURRENCY × 4` of them at once (the rest
    wait for `send_due`); returns how many changes were taken and attempts made.

    A first attempt made here writes each delivery once, in its state after that attempt:
    no second pass locks and updates it. Should the worker die after sending and before
    committing, the changes go back to the feed and are sent again under the same delivery
    ids (`delivery_id_for`), so receivers that deduplicate by id see one event.
    """
    with transaction.atomic():
        taken = changes.changes_claim(consumer=CONSUMER, limit=limit)
        if not taken:
            return 0, 0
        # FOR KEY SHARE: a webhook being deleted is waited for and then left out, so no
        # delivery is ever written for a webhook that is gone.
        hooks = list(Webhook.objects.raw(f"SELECT * FROM {Webhook._meta.db_table} WHERE active FOR KEY SHARE"))
        names = dict(DataModel.objects.filter(pk__in={c.data_model_id for c in taken}).values_list("pk", "name"))
        now = timezone.now()
        rows = [Delivery(id=delivery_id_for(change, hook), webhook=hook, event=change.event,
                         model=names[change.data_model_id], record_id=change.record_id,
                         body=payload(change, names[change.data_model_id]).decode(), next_attempt_at=now)
                for change in taken if change.data_model_id in names
                for hook in hooks if _wants(hook, change)]
        first = rows[:settings.INFINITY["WEBHOOK_CONCURRENCY"] * 4]
        attempts = _attempt(first, now) if first else []
        copy_rows(Delivery, rows)
        copy_rows(DeliveryAttempt, attempts)
    return len(taken), len(attempts)


def delivery_id_for(change, webhook: Webhook) -> str:
    """A delivery's id, the same however often its change is taken: the change's time and a
    hash of the change's and the webhook's ids, as a ULID."""
    stamp = int(change.created_at.timestamp() * 1000).to_bytes(6, "big")
    return f"dlv_{ULID.from_bytes(stamp + hashlib.sha256(f'{change.id}:{webhook.pk}'.encode()).digest()[:10])}"


def copy_rows(model, rows: list) -> None:
    """Insert model instances with COPY: Django's bulk_create sends each column as an array
    that psycopg quotes value by value in Python, the worker's largest cost per delivery."""
    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key or f.has_default()]
    for row in rows:
        for field in fields:
            field.pre_save(row, add=True)  # auto_now_add and the like
    columns = ", ".join(f'"{f.column}"' for f in fields)
    with connection.cursor() as cursor, cursor.copy(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([getattr(row, f.attname) for f in fields])


# --- 2. sending ---------------------------------------------------------------------

def headers_for(webhook: Webhook, delivery: Delivery, now: dt.datetime) -> dict:
    timestamp = int(now.timestamp())
    keys = [webhook.secret]
    if webhook.previous_secret and webhook.previous_secret_until and webhook.previous_secret_until > now:
        keys.append(webhook.previous_secret)
    body = delivery.body.encode()
    return {
        "Content-Type": "application/json",
        "User-Agent": sender.user_agent(),
        "X-Infinity-Event": delivery.event,
        "X-Infinity-Delivery": delivery.pk,
        "X-Infinity-Signature": signing.infinity_signature(keys, timestamp, body),
        "webhook-id": delivery.pk,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.standard_signature(keys, delivery.pk, timestamp, body),
    }


def _sendable():
    """Pending deliveries of active webhooks (an inactive one's wait until it is switched back on), and pings."""
    return Delivery.objects.filter(status=Delivery.PENDING).filter(Q(webhook__active=True) | Q(event="ping"))


def _due(limit: int) -> list[Delivery]:
    return list(
        _sendable().select_for_update(skip_locked=True, of=("self",)).select_related("webhook")
        .filter(next_attempt_at__lte=timezone.now()).order_by("next_attempt_at")[:limit]
    )


def send_due(limit: int | None = None) -> int:
    """Send the deliveries due now (at most `limit`), concurrently; returns how many were tried."""
    limit = limit or settings.INFINITY["WEBHOOK_CONCURRENCY"] * 4
    with transaction.atomic():
        due = _due(limit)
        if not due:
            return 0
        attempts = _attempt(due, timezone.now())
        # Two statements for the whole batch, whatever its size.
        copy_rows(DeliveryAttempt, attempts)
        _save_states(due)
    return len(due)


def _attempt(deliveries: list[Delivery], now: dt.datetime) -> list[DeliveryAttempt]:
    """Send `deliveries` concurrently and apply each outcome to it (the caller saves them);
    returns the attempts' log rows. A webhook's failure clock follows."""
    requests = [(d.webhook.url, d.body.encode(), headers_for(d.webhook, d, now)) for d in deliveries]
    outcomes = list(_pool_of().map(lambda request: sender.post(*request), requests))
    attempts = [_record(delivery, outcome, now) for delivery, outcome in zip(deliveries, outcomes)]
    _update_webhooks(deliveries, outcomes)
    return attempts


SAVE_STATES = f"""
UPDATE {Delivery._meta.db_table} d SET attempts = v.attempts, status = v.status, finished_at = v.finished_at,
    next_attempt_at = v.next_attempt_at, last_response_code = v.code, last_error = v.error
FROM unnest(%s::text[], %s::int[], %s::text[], %s::timestamptz[], %s::timestamptz[], %s::int[], %s::text[])
    AS v(id, attempts, status, finished_at, next_attempt_at, code, error)
WHERE d.id = v.id
"""


def _save_states(due: list[Delivery]) -> None:
    """Every delivery's new state in one statement (`bulk_update`'s CASE costs more Python than the sends)."""
    columns = list(zip(*[(d.pk, d.attempts, d.status, d.finished_at, d.next_attempt_at, d.last_response_code,
                          d.last_error) for d in due]))
    with connection.cursor() as cursor:
        cursor.execute(SAVE_STATES, [list(column) for column in columns])


def _record(delivery: Delivery, outcome: sender.Outcome, started: dt.datetime) -> DeliveryAttempt:
    """Apply one attempt's outcome to `delivery` (saved by the caller); returns the attempt's log row."""
    delivery.attempts += 1
    now = timezone.now()
    delivery.last_response_code, delivery.last_error = outcome.code, outcome.error[:500]
    schedule = retry_schedule()
    if outcome.ok:
        delivery.status, delivery.finished_at, delivery.next_attempt_at = Delivery.DELIVERED, now, None
    elif outcome.retryable and delivery.attempts <= len(schedule) and delivery.event != "ping":
        delay = schedule[delivery.attempts - 1] * (1 + random.uniform(-JITTER, JITTER))
        if outcome.retry_after is not None:
            delay = max(delay, min(outcome.retry_after, MAX_RETRY_AFTER))
        delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
    else:
        delivery.status, delivery.finished_at, delivery.next_attempt_at = Delivery.FAILED, now, None
    return DeliveryAttempt(delivery=delivery, number=delivery.attempts, started_at=started, succeeded=outcome.ok,
                           response_code=outcome.code, latency_ms=outcome.latency_ms, error=outcome.error[:500],
                           response_body=outcome.body)


def _update_webhooks(due: list[Delivery], outcomes: list) -> None:
    """A success stops a webhook's failure clock; failing past the limit disables it."""
    now = timezone.now()
    by_hook: dict[str, tuple[Webhook, bool, str]] = {}
    for delivery, outcome in zip(due, outcomes):
        if delivery.event == "ping":
            continue
        hook, ok, _ = by_hook.get(delivery.webhook_id, (delivery.webhook, False, ""))
        by_hook[delivery.webhook_id] = (hook, ok or outcome.ok, outcome.error)
    limit = dt.timedelta(seconds=settings.INFINITY["WEBHOOK_DISABLE_AFTER"])
    for hook_id, (hook, ok, error) in by_hook.items():
        if ok:
            if hook.failing_since is not None:
                Webhook.objects.filter(pk=hook_id).update(failing_since=None)
            continue
        Webhook.objects.filter(pk=hook_id, failing_since=None).update(failing_since=now)
        since = Webhook.objects.filter(pk=hook_id).values_list("failing_since", flat=True).first()
        if since is not None and now - since >= limit and hook.active:
            webhook_disable(webhook=hook, reason=f"Deliveries failed continuously since {format_datetime(since)} "
                                                 f"(last error: {error or 'unknown'})")


# --- the loop -----------------------------------------------------------------------

def pump(max_seconds: float = 30.0, linger: tuple[float, ...] = ()) -> int:
    """Fan out and send until nothing is due or `max_seconds` passed; returns attempts made.

    With `linger`, a pump that did work looks again after each of those pauses once it finds
    nothing (and starts over when it finds something): a change committed while it worked
    may not have woken anyone (the feed wakes a consumer only when nothing of it waits).
    """
    deadline, sent, looks = time.monotonic() + max_seconds, 0, None
    while time.monotonic() < deadline:
        taken, first = fan_out()
        tried = send_due()
        sent += first + tried
        if taken or tried:
            looks = iter(linger)
            continue
        pause = next(looks, None) if looks is not None else None
        if pause is None:
            break
        time.sleep(pause)
    return sent


def seconds_until_due(default: float) -> float:
    """How long until the next pending delivery is due (at most `default`)."""
    nxt = (_sendable().order_by("next_attempt_at")
           .values_list("next_attempt_at", flat=True).first())
    if nxt is None:
        return default
    return max(0.0, min(default, (nxt - timezone.now()).total_seconds()))


def prune(*, older_than_days: float | None = None) -> int:
    """Delete finished deliveries (and their attempts) older than the given or configured age."""
    days = settings.INFINITY["WEBHOOK_KEEP_DAYS"] if older_than_days is None else older_than_days
    cutoff = timezone.now() - dt.timedelta(days=days)
    old = (f"SELECT id FROM {Delivery._meta.db_table} WHERE status IN ('delivered', 'failed') "
           "AND finished_at < %s")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {DeliveryAttempt._meta.db_table} WHERE delivery_id IN ({old})", [cutoff])
        cursor.execute(f"DELETE FROM {Delivery._meta.db_table} WHERE id IN ({old})", [cutoff])
        return cursor.rowcount
