"""Webhook reads: webhooks and deliveries as the API shows them, with page-number pagination."""

from __future__ import annotations

import math

import orjson

from datamodels.fieldtypes.scalars import format_datetime
from datamodels.models import DataModel
from datamodels.query import MAX_PAGE, parse_int
from infinity.exceptions import NotFound, ValidationFailed

from .models import Delivery, Webhook

DEFAULT_LIMIT, MAX_LIMIT = 50, 100


def webhook_get(webhook_id: str) -> Webhook:
    webhook = Webhook.objects.filter(pk=webhook_id).first()
    if webhook is None:
        raise NotFound("Webhook not found")
    return webhook


def delivery_get(delivery_id: str) -> Delivery:
    delivery = Delivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFound("Delivery not found")
    return delivery


def webhook_json(webhook: Webhook, names: dict[int, str] | None = None, *, secret: str | None = None) -> dict:
    if names is None:
        names = dict(DataModel.objects.filter(pk__in=webhook.model_ids).values_list("pk", "name"))
    data = {
        "id": webhook.pk, "url": webhook.url, "events": webhook.events,
        "models": [names[i] for i in webhook.model_ids if i in names], "fields": webhook.fields,
        "active": webhook.active, "description": webhook.description,
    }
    if secret is not None:
        data["secret"] = secret
    data.update({
        "created_at": format_datetime(webhook.created_at), "updated_at": format_datetime(webhook.updated_at),
        "disabled_at": format_datetime(webhook.disabled_at), "disabled_reason": webhook.disabled_reason or None,
    })
    return data


def _page(params, queryset) -> tuple[list, dict]:
    page = parse_int(params, "page", 1, 1, MAX_PAGE)
    limit = parse_int(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    total = queryset.count()
    rows = list(queryset[(page - 1) * limit: page * limit])
    pages = math.ceil(total / limit) if total else 0
    return rows, {"page": page, "limit": limit, "total": total, "pages": pages, "next_cursor": None}


def webhook_list(params) -> tuple[list[dict], dict]:
    rows, pagination = _page(params, Webhook.objects.order_by("created_at", "id"))
    names = dict(DataModel.objects.values_list("pk", "name"))
    return [webhook_json(w, names) for w in rows], pagination


def delivery_json(delivery: Delivery, attempts: list | None = None) -> dict:
    attempts = list(delivery.attempt_log.all()) if attempts is None else attempts
    return {
        "id": delivery.pk, "webhook_id": delivery.webhook_id, "event": delivery.event,
        "model": delivery.model or None, "record_id": delivery.record_id or None, "status": delivery.status,
        "attempt_count": delivery.attempts, "next_attempt_at": format_datetime(delivery.next_attempt_at),
        "last_response_code": delivery.last_response_code, "last_error": delivery.last_error or None,
        "created_at": format_datetime(delivery.created_at), "finished_at": format_datetime(delivery.finished_at),
        "payload": orjson.Fragment(delivery.body),
        "attempts": [{"number": a.number, "at": format_datetime(a.started_at), "succeeded": a.succeeded,
                      "response_code": a.response_code, "latency_ms": a.latency_ms, "error": a.error or None,
                      "response_body": a.response_body} for a in attempts],
    }


def delivery_list(webhook: Webhook, params) -> tuple[list[dict], dict]:
    """A webhook's deliveries, newest first, each with its attempts (newest first); `status=` filters."""
    rows = webhook.deliveries.order_by("-created_at", "-id").prefetch_related("attempt_log")
    status = params.get("status")
    if status:
        if status not in dict(Delivery.STATUSES):
            raise ValidationFailed("Invalid parameter", details=[
                {"field": "status", "message": "Must be one of: pending, delivered, failed"}])
        rows = rows.filter(status=status)
    page, pagination = _page(params, rows)
    return [delivery_json(d, list(d.attempt_log.all())) for d in page], pagination
