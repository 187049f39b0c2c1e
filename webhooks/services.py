"""Webhook services: create, change, delete, rotate secrets, test pings and resends.

Every change of the set of active webhooks updates this app's interest in the change
feed (`interest_sync`), so the data tables' triggers record exactly what some webhook
wants, and nothing when none does. Invalid input raises `ValidationFailed` (one detail
per field) and changes nothing.
"""

from __future__ import annotations

import datetime as dt

import orjson
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from datamodels import changes
from datamodels.fieldtypes.scalars import format_datetime
from datamodels.models import DataModel
from infinity.exceptions import ValidationFailed

from . import signing
from .models import Delivery, DeliveryAttempt, Webhook
from .ssrf import url_problem

CONSUMER = "webhooks"
EVENTS = changes.EVENTS
ROTATION_OVERLAP = dt.timedelta(hours=24)
DEADLOCK = "40P01"  # PostgreSQL's deadlock_detected
WRITABLE = ("url", "events", "models", "fields", "secret", "active", "description")


def _detail(field: str, message: str) -> dict:
    return {"field": field, "message": message}


def _string_list(value, field: str, errors: list) -> list[str] | None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        errors.append(_detail(field, "Must be a list of strings"))
        return None
    return list(dict.fromkeys(value))


def _clean_models(value, errors: list, allowed: set[int] | None) -> list[int] | None:
    names = _string_list(value, "models", errors)
    if names is None:
        return None
    found = dict(DataModel.objects.filter(name__in=names).values_list("name", "pk"))
    missing = [n for n in names if n not in found]
    if missing:
        errors.append(_detail("models", f"No such model: {', '.join(missing)}"))
        return None
    ids = [found[n] for n in names]
    if allowed and (not ids or not set(ids) <= allowed):
        errors.append(_detail("models", "This API key may only watch the models it may access; name them"))
        return None
    return ids


def clean_webhook(data, *, partial: bool, allowed_models: set[int] | None = None) -> dict:
    """Validated attributes from an API body (`allowed_models`: a key's models, empty for any)."""
    if not isinstance(data, dict):
        raise ValidationFailed("Invalid webhook", details=[_detail("body", "Must be a JSON object")])
    errors = [_detail(key, "Unknown field" if key not in ("id", "created_at") else f"{key} is read-only")
              for key in data if key not in WRITABLE]
    clean: dict = {}
    if "url" in data or not partial:
        problem = url_problem(data.get("url"))
        if problem:
            errors.append(_detail("url", problem if data.get("url") is not None else "This field is required"))
        else:
            clean["url"] = data["url"]
    if "events" in data or not partial:
        events = _string_list(data.get("events"), "events", errors) if "events" in data else None
        if events is not None and (not events or not set(events) <= set(EVENTS)):
            errors.append(_detail("events", f"Must be a non-empty list of: {', '.join(EVENTS)}"))
        elif events is not None:
            clean["events"] = events
        elif "events" not in data:
            errors.append(_detail("events", "This field is required"))
    if "models" in data or (not partial and allowed_models):
        ids = _clean_models(data.get("models") or [], errors, allowed_models)
        if ids is not None:
            clean["model_ids"] = ids
    if "fields" in data:
        fields = _string_list(data["fields"] or [], "fields", errors)
        if fields is not None:
            clean["fields"] = fields
    if data.get("secret") is not None:
        problem = signing.secret_problem(data["secret"])
        if problem:
            errors.append(_detail("secret", problem))
        else:
            clean["secret"] = data["secret"]
    for name, kind, message in (("active", bool, "Must be true or false"),
                                ("description", str, "Must be a string of at most 2000 characters")):
        if name in data:
            value = data[name]
            if not isinstance(value, kind) or (kind is str and len(value) > 2000):
                errors.append(_detail(name, message))
            else:
                clean[name] = value
    if errors:
        raise ValidationFailed("Invalid webhook", details=errors)
    return clean


@transaction.atomic
def webhook_create(*, data, allowed_models: set[int] | None = None) -> tuple[Webhook, str]:
    """Create a webhook; returns it and its secret (generated unless given), shown this once."""
    clean = clean_webhook(data, partial=False, allowed_models=allowed_models)
    clean.setdefault("secret", signing.generate_secret())
    webhook = Webhook.objects.create(**clean)
    interest_sync()
    return webhook, webhook.secret


@transaction.atomic
def webhook_update(*, webhook: Webhook, data, allowed_models: set[int] | None = None) -> Webhook:
    clean = clean_webhook(data, partial=True, allowed_models=allowed_models)
    if "secret" in clean:
        raise ValidationFailed("Invalid webhook", details=[_detail("secret", "Use rotate-secret to change it")])
    if clean.get("active") and not webhook.active:  # switched back on: the failure clock starts again
        webhook.disabled_at, webhook.disabled_reason, webhook.failing_since = None, "", None
    for key, value in clean.items():
        setattr(webhook, key, value)
    webhook.save()
    interest_sync()
    return webhook


DELETE_TRIES = 3


def webhook_delete(*, webhook: Webhook) -> None:
    """Delete a webhook with its deliveries and attempts, in a few statements however many there
    are (Django's cascade would load every delivery first), safely beside a working worker."""
    for attempt in range(1, DELETE_TRIES + 1):
        try:
            with transaction.atomic():
                _delete_with_deliveries(webhook.pk)
                interest_sync()
            return
        except OperationalError as error:  # a deadlock with a worker's batch (PostgreSQL broke it): again
            if attempt == DELETE_TRIES or getattr(error.__cause__, "sqlstate", None) != DEADLOCK:
                raise


def _delete_with_deliveries(webhook_id: str) -> None:
    """Safely beside a working worker: its deliveries are locked first (waiting for a batch being
    sent to record its attempts), then its row (waiting for a fan-out writing deliveries for it;
    later ones leave it out), then its deliveries again (that fan-out's); only then, with every
    attempt committed and no more to come, attempts, deliveries and the webhook go."""
    deliveries, attempts = Delivery._meta.db_table, DeliveryAttempt._meta.db_table
    lock = f"SELECT id FROM {deliveries} WHERE webhook_id = %s FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(lock, [webhook_id])
        cursor.execute(f"SELECT id FROM {Webhook._meta.db_table} WHERE id = %s FOR UPDATE", [webhook_id])
        cursor.execute(lock, [webhook_id])
        cursor.execute(f"DELETE FROM {attempts} WHERE delivery_id IN "
                       f"(SELECT id FROM {deliveries} WHERE webhook_id = %s)", [webhook_id])
        cursor.execute(f"DELETE FROM {deliveries} WHERE webhook_id = %s", [webhook_id])
        cursor.execute(f"DELETE FROM {Webhook._meta.db_table} WHERE id = %s", [webhook_id])


@transaction.atomic
def webhook_rotate_secret(*, webhook: Webhook, secret: str | None = None) -> str:
    """A new secret; the old one keeps signing beside it for 24 hours."""
    if secret is not None and signing.secret_problem(secret):
        raise ValidationFailed("Invalid secret", details=[_detail("secret", signing.secret_problem(secret))])
    webhook = Webhook.objects.select_for_update().get(pk=webhook.pk)
    webhook.previous_secret, webhook.previous_secret_until = webhook.secret, timezone.now() + ROTATION_OVERLAP
    webhook.secret = secret or signing.generate_secret()
    webhook.save(update_fields=["secret", "previous_secret", "previous_secret_until", "updated_at"])
    return webhook.secret


def webhook_disable(*, webhook: Webhook, reason: str) -> None:
    now = timezone.now()
    Webhook.objects.filter(pk=webhook.pk).update(active=False, disabled_at=now, disabled_reason=reason[:500],
                                                 updated_at=now)
    interest_sync()


def webhook_test(*, webhook: Webhook) -> Delivery:
    """Queue a `ping` delivery to the webhook, sent like any other (inactive webhooks too)."""
    now = timezone.now()
    body = orjson.dumps({"event": "ping", "model": None, "timestamp": format_datetime(now),
                         "data": {"webhook_id": webhook.pk, "message": "Infinity webhook test"}})
    return Delivery.objects.create(webhook=webhook, event="ping", body=body.decode(), next_attempt_at=now)


def delivery_resend(*, delivery: Delivery) -> Delivery:
    """Send a delivery again, at once, under the same delivery id."""
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.PENDING, next_attempt_at=timezone.now(),
                                                   finished_at=None)
    delivery.refresh_from_db()
    return delivery


def deliveries_resend(*, webhook_id: str | None = None, statuses=(Delivery.FAILED,)) -> int:
    """Make deliveries in `statuses` (failed ones by default; all, or one webhook's) due now."""
    rows = Delivery.objects.filter(status__in=list(statuses))
    if webhook_id:
        rows = rows.filter(webhook_id=webhook_id)
    return rows.update(status=Delivery.PENDING, next_attempt_at=timezone.now(), finished_at=None)


def interest_sync() -> None:
    """Tell the change feed what the active webhooks want, as one union per model.

    A webhook on every model makes one every-model interest (the feed keeps a consumer
    on either that or per-model rows); fields narrow updates only if every webhook
    wanting updates of that model names some.
    """
    hooks = list(Webhook.objects.filter(active=True).values_list("events", "model_ids", "fields"))
    existing = set(DataModel.objects.values_list("pk", flat=True))  # a deleted model's id stays in model_ids
    wanted: dict[int | None, tuple[set, set, bool]] = {}
    every = any(not model_ids for _, model_ids, _ in hooks)
    for events, model_ids, fields in hooks:
        for model_id in ([None] if every else [i for i in model_ids if i in existing]):
            got_events, got_fields, any_field = wanted.setdefault(model_id, (set(), set(), False))
            got_events.update(events)
            got_fields.update(fields)
            any_field = any_field or ("record.updated" in events and not fields)
            wanted[model_id] = (got_events, got_fields, any_field)
    current = changes.change_interests(consumer=CONSUMER)
    for model_id in set(current) - set(wanted):
        changes.change_interest_clear(consumer=CONSUMER, model_id=model_id)
    for model_id, (events, fields, any_field) in wanted.items():
        changes.change_interest_set(consumer=CONSUMER, model_id=model_id, events=events,
                                    fields=[] if any_field else sorted(fields))
