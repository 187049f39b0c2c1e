"""Deliveries to a real HTTP receiver: payloads, headers, both signatures, filters, retries, the log.

Writes go through the records API (and the admin, bulk, a rollback); `delivery.pump()`
sends, the code the Celery task and the in-process worker run.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from standardwebhooks import Webhook as StandardWebhook

from datamodels.dynamic import current_schema
from datamodels.records import record_create
from webhooks import delivery, signing
from webhooks.models import Delivery, DeliveryAttempt, Webhook

from .conftest import b64, expected_signature, make_hook

pytestmark = [pytest.mark.django_db(transaction=True)]
BASE = "/api/public/data/orders"


def pump_until(receiver, count: int, timeout: float = 30.0):
    return receiver.wait_for(count, timeout, pump=delivery.pump)


def create_order(api, **data) -> dict:
    response = api.post(BASE, {"name": "first", **data}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["data"]


def test_each_event_arrives_with_its_payload_headers_and_signatures(api, orders, receiver):
    hook = make_hook(api, receiver.url, models=["orders"])
    record = create_order(api, qty=2)
    updated = api.patch(f"{BASE}/{record['id']}", {"qty": 3}, format="json").json()["data"]
    assert api.delete(f"{BASE}/{record['id']}").status_code == 200
    by_event = {got.json["event"]: got for got in pump_until(receiver, 3)}  # sent concurrently: any order
    created, update, deleted = (by_event[e] for e in ("record.created", "record.updated", "record.deleted"))
    assert created.json == {"event": "record.created", "model": "orders", "timestamp": created.json["timestamp"],
                            "data": record}
    assert update.json["event"] == "record.updated" and update.json["data"] == updated
    assert update.json["previous"] == {"qty": 2}
    assert deleted.json["event"] == "record.deleted" and deleted.json["data"] == updated
    assert "previous" not in created.json and "previous" not in deleted.json
    for got in (created, update, deleted):
        headers = got.headers
        assert headers["content-type"] == "application/json"
        assert headers["user-agent"].startswith("Infinity-Webhooks/")
        assert headers["x-infinity-event"] == got.json["event"]
        assert headers["x-infinity-delivery"].startswith("dlv_") and headers["webhook-id"] == headers["x-infinity-delivery"]
        t, v1 = headers["x-infinity-signature"].split(",")
        assert t == f"t={headers['webhook-timestamp']}" and abs(int(t[2:]) - time.time()) < 60
        assert v1 == "v1=" + expected_signature(hook["secret"], t[2:], got.body)
        signature = headers["x-infinity-signature"]
        assert signing.verify_infinity_signature(hook["secret"], signature, got.body, now=int(time.time()))
        assert not signing.verify_infinity_signature(hook["secret"], signature, got.body, now=int(time.time()) + 301)
        assert not signing.verify_infinity_signature("whsec_other", signature, got.body, now=int(time.time()))
        # The Standard Webhooks library verifies with the same secret.
        assert StandardWebhook(hook["secret"]).verify(got.body, headers) == got.json
    assert len({got.headers["x-infinity-delivery"] for got in (created, update, deleted)}) == 3
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_fields_events_and_models_filter_what_is_sent(api, orders, receiver, committed_schema):
    make_hook(api, receiver.url, events=["record.updated"], fields=["note"])
    record = create_order(api)
    api.patch(f"{BASE}/{record['id']}", {"qty": 5}, format="json")
    api.patch(f"{BASE}/{record['id']}", {"note": "hi"}, format="json")
    [got] = pump_until(receiver, 1)
    assert got.json["previous"] == {"note": None} and got.json["data"]["note"] == "hi"
    delivery.pump()
    assert len(receiver.requests) == 1 and Delivery.objects.count() == 1


def test_admin_and_bulk_writes_emit_and_a_rollback_emits_nothing(api, orders, receiver, superuser):
    make_hook(api, receiver.url, events=["record.created"])
    client = Client()
    client.force_login(superuser)
    response = client.post(f"/admin/datamodels/datamodel/{orders.pk}/records/add/", {"name": "from admin"})
    assert response.status_code == 302
    with pytest.raises(RuntimeError), transaction.atomic():
        record_create(entry=current_schema().get("orders"), data={"name": "rolled back"})
        raise RuntimeError
    response = api.post(BASE, [{"name": f"bulk {i}"} for i in range(500)], format="json")
    assert response.status_code == 201
    got = pump_until(receiver, 501, timeout=120)
    names = [r.json["data"]["name"] for r in got]
    assert sorted(names) == sorted(["from admin", *(f"bulk {i}" for i in range(500))])
    assert len({r.headers["x-infinity-delivery"] for r in got}) == 501
    delivery.pump()
    assert len(receiver.requests) == 501 and Delivery.objects.filter(status="delivered").count() == 501


def test_failures_are_retried_with_the_same_delivery_id_until_success(api, orders, receiver):
    make_hook(api, receiver.url)
    receiver.script = [(500, {}, 0), (503, {}, 0)]
    create_order(api)
    got = pump_until(receiver, 3, timeout=30)
    assert len({r.headers["x-infinity-delivery"] for r in got}) == 1
    assert len({r.body for r in got}) == 1  # the same bytes every time
    sent = Delivery.objects.get()
    assert (sent.status, sent.attempts) == ("delivered", 3)
    log = list(DeliveryAttempt.objects.filter(delivery=sent).order_by("number"))
    assert [(a.succeeded, a.response_code) for a in log] == [(False, 500), (False, 503), (True, 200)]
    assert log[0].error == "HTTP 500" and log[2].response_body == "ok" and log[0].latency_ms >= 0


def test_a_delivery_fails_after_the_schedule_and_a_4xx_at_once(api, orders, receiver):
    make_hook(api, receiver.url)
    receiver.script = [(500, {}, 0)] * 4 + [(404, {}, 0)]
    create_order(api, name="a")
    pump_until(receiver, 4)
    deadline = time.monotonic() + 10
    while Delivery.objects.filter(status="pending").exists() and time.monotonic() < deadline:
        delivery.pump()
        time.sleep(0.05)
    first = Delivery.objects.get()
    assert (first.status, first.attempts, first.last_response_code) == ("failed", 4, 500)  # 1 + 3 retries
    create_order(api, name="b")
    pump_until(receiver, 5)
    second = Delivery.objects.exclude(pk=first.pk).get()
    assert (second.status, second.attempts, second.last_error) == ("failed", 1, "HTTP 404")


def test_retry_after_is_honoured(api, orders, receiver):
    make_hook(api, receiver.url)
    receiver.script = [(429, {"Retry-After": "30"}, 0)]
    create_order(api)
    pump_until(receiver, 1)
    sent = Delivery.objects.get()
    attempt = DeliveryAttempt.objects.get()
    assert sent.status == "pending" and sent.next_attempt_at - attempt.started_at >= dt.timedelta(seconds=30)
    delivery.pump()
    assert len(receiver.requests) == 1  # not before its time


def test_a_webhook_failing_too_long_is_disabled_and_says_why(api, orders, receiver, settings):
    settings.INFINITY = {**settings.INFINITY, "WEBHOOK_DISABLE_AFTER": 0.0}
    hook = make_hook(api, receiver.url)
    receiver.script = [(500, {}, 0)]
    create_order(api)
    pump_until(receiver, 1)
    stored = Webhook.objects.get()
    assert stored.active is False and stored.disabled_at is not None
    assert "failed continuously since" in stored.disabled_reason and "HTTP 500" in stored.disabled_reason
    body = api.get(f"/api/webhooks/{hook['id']}").json()["data"]
    assert body["active"] is False and body["disabled_reason"] == stored.disabled_reason
    create_order(api, name="not sent")
    assert Delivery.objects.count() == 1  # nothing watched any more
    api.patch(f"/api/webhooks/{hook['id']}", {"active": True}, format="json")
    stored.refresh_from_db()
    assert (stored.active, stored.disabled_at, stored.failing_since) == (True, None, None)


def test_during_a_rotation_both_secrets_sign(api, orders, receiver):
    hook = make_hook(api, receiver.url)
    new = api.post(f"/api/webhooks/{hook['id']}/rotate-secret").json()["data"]["secret"]
    create_order(api)
    [got] = pump_until(receiver, 1)
    t, *v1s = got.headers["x-infinity-signature"].split(",")
    assert v1s == [f"v1={expected_signature(s, t[2:], got.body)}" for s in (new, hook["secret"])]
    for secret in (new, hook["secret"]):
        assert StandardWebhook(secret).verify(got.body, got.headers) == got.json
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    # A secret not in whsec_ form signs Standard Webhooks with its own bytes, base64 for the libraries.
    other = make_hook(api, receiver.url, secret="plain-text-secret-123", models=["orders"])
    Webhook.objects.filter(pk=hook["id"]).delete()
    create_order(api, name="again")
    got = pump_until(receiver, 2)[1]
    assert StandardWebhook(b64(other["secret"].encode())).verify(got.body, got.headers)["data"]["name"] == "again"


def test_test_pings_deliveries_list_and_resend(api, orders, receiver):
    hook = make_hook(api, receiver.url)
    ping_id = api.post(f"/api/webhooks/{hook['id']}/test").json()["data"]["id"]
    [ping] = pump_until(receiver, 1)
    assert ping.json["event"] == "ping" and ping.headers["x-infinity-delivery"] == ping_id
    receiver.script = [(400, {}, 0)]
    create_order(api)
    pump_until(receiver, 2)
    listed = api.get(f"/api/webhooks/{hook['id']}/deliveries").json()
    assert [d["event"] for d in listed["data"]] == ["record.created", "ping"]  # newest first
    failed = listed["data"][0]
    assert failed["status"] == "failed" and failed["attempts"][0]["response_code"] == 400
    assert api.get(f"/api/webhooks/{hook['id']}/deliveries?status=failed").json()["pagination"]["total"] == 1
    assert api.get(f"/api/webhooks/{hook['id']}/deliveries?status=nope").status_code == 400
    response = api.post(f"/api/webhooks/deliveries/{failed['id']}/resend")
    assert response.status_code == 202 and response.json()["data"]["status"] == "pending"
    again = pump_until(receiver, 3)[2]
    assert again.headers["x-infinity-delivery"] == failed["id"]
    assert Delivery.objects.get(pk=failed["id"]).status == "delivered"
    assert api.delete(f"/api/webhooks/{hook['id']}").status_code == 200  # its deliveries and attempts go too
    assert not Delivery.objects.exists() and not DeliveryAttempt.objects.exists()


def test_a_webhook_deleted_while_its_batch_is_being_sent_leaves_nothing_behind(api, orders, receiver):
    # The worker's batch (its first attempts, made in the transaction that takes the changes)
    # holds the webhook until the receiver answers; the delete waits for it, then removes the
    # deliveries and attempts it wrote. (Attempts once outlived their deliveries: a
    # foreign-key error at commit and a 500, found by bench.webhooks.)
    hook = make_hook(api, receiver.url)
    create_order(api)
    receiver.hold.clear()
    sending = threading.Thread(target=_in_thread, args=(delivery.pump,))
    sending.start()
    receiver.wait_for(1)
    waited = []
    releasing = threading.Thread(target=_in_thread, args=(_release_when_waiting, receiver, waited))
    releasing.start()

    response = api.delete(f"/api/webhooks/{hook['id']}")

    sending.join(30)
    releasing.join(30)
    assert waited == [True]  # the delete did wait for the batch being sent
    assert response.status_code == 200, response.content
    assert len(receiver.requests) == 1
    assert not Webhook.objects.exists() and not Delivery.objects.exists() and not DeliveryAttempt.objects.exists()


def _in_thread(work, *args):
    try:
        work(*args)
    finally:
        connection.close()


def _release_when_waiting(receiver, waited: list) -> None:
    """Let the receiver answer once a delete of deliveries waits for a lock."""
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline and not waited:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                               "AND query LIKE 'SELECT id FROM webhooks_%%FOR UPDATE'")
                if cursor.fetchone()[0]:
                    waited.append(True)
            time.sleep(0.02)
    finally:
        receiver.hold.set()


def test_ssrf_is_refused_at_send_time(api, orders, receiver, settings):
    hook = make_hook(api, receiver.url.replace("127.0.0.1", "localhost"))
    settings.INFINITY = {**settings.INFINITY, "WEBHOOK_ALLOW_PRIVATE": False}
    create_order(api)
    delivery.pump()
    attempt = DeliveryAttempt.objects.get()
    assert attempt.error.startswith("Refused:") and "localhost" in attempt.error
    assert receiver.requests == [] and Webhook.objects.get(pk=hook["id"]).active


def test_manage_py_retry_and_prune(api, orders, receiver, capsys):
    make_hook(api, receiver.url)
    receiver.script = [(400, {}, 0)]
    create_order(api)
    pump_until(receiver, 1)
    assert Delivery.objects.get().status == "failed"
    call_command("webhooks", "retry", "--failed")
    assert len(receiver.requests) == 2 and Delivery.objects.get().status == "delivered"
    call_command("webhooks", "prune", "--older-than", "1")
    assert Delivery.objects.count() == 1
    call_command("webhooks", "prune", "--older-than", "0")
    assert Delivery.objects.count() == 0 and DeliveryAttempt.objects.count() == 0
    assert "Pruned 1 deliveries." in capsys.readouterr().out
