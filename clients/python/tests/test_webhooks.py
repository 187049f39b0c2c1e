"""`client.webhooks` against the real /api/webhooks, and `webhooks.verify` on real signed deliveries.

Deliveries are made as production makes them beside uWSGI: a `manage.py webhooks work`
process on the test database (`webhook_worker`), sending to a real HTTP receiver on
127.0.0.1 in this test process (`receiver`; the test server allows loopback URLs).
Every wait is bounded.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings

from infinity_client import NotFound, Page, ValidationError
from infinity_client.webhooks import InvalidSignature, StaleSignature, signature_header, verify
from webhooks.models import Delivery, Webhook

from .conftest import server_environment

WAIT = 60.0  # seconds at most for a delivery to arrive: generous, the machine may be loaded
WEBHOOK_ID = re.compile(r"^wh_\w+$")
DELIVERY_ID = re.compile(r"^dlv_\w+$")


class Received:
    """One request the receiver got: its raw body and its headers as sent."""

    def __init__(self, body: bytes, headers: dict):
        self.body, self.headers = body, headers


class Receiver:
    """A real HTTP server on 127.0.0.1 that answers 200 and keeps what it got."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[Received] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                with receiver.arrived:
                    receiver.requests.append(Received(body, dict(self.headers.items())))
                    receiver.arrived.notify_all()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, worker: subprocess.Popen) -> list[Received]:
        """The first `count` requests, waiting at most WAIT seconds (failing if the worker died)."""
        deadline = time.monotonic() + WAIT
        with self.arrived:
            while len(self.requests) < count and time.monotonic() < deadline and worker.poll() is None:
                self.arrived.wait(0.5)
        if worker.poll() is not None:
            pytest.fail("the webhook worker stopped: " + worker.stderr.read().decode()[-2000:])
        assert len(self.requests) >= count, f"{len(self.requests)} deliveries arrived in {WAIT:g} s, not {count}"
        return self.requests[:count]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def webhook_worker(server_url, committed_schema):
    """`manage.py webhooks work` on the test database, stopped (SIGTERM) before the tables are flushed."""
    # A short sweep: the worker looks at its stop flag between sweeps, so it then stops at once.
    env = {**server_environment(), "INFINITY_WEBHOOK_SWEEP_SECONDS": "0.5"}
    process = subprocess.Popen([sys.executable, "manage.py", "webhooks", "work"], cwd=settings.BASE_DIR,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    yield process
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


def without_secret(webhook: dict) -> dict:
    return {k: v for k, v in webhook.items() if k != "secret"}


def test_create_shows_the_secret_once_then_get_and_list(client, customers, wire):
    hooks = client.webhooks
    created = hooks.create("https://example.com/hook", ["record.created", "record.updated"], models=["customers"],
                           fields=["status"], description="CRM sync")
    assert wire.statuses[-1] == 201 and "no-store" in wire.responses[-1].headers["cache-control"]
    assert WEBHOOK_ID.match(created.id) and created["secret"].startswith("whsec_")
    assert {k: created[k] for k in ("url", "events", "models", "fields", "active", "description", "disabled_at",
                                    "disabled_reason")} == {
        "url": "https://example.com/hook", "events": ["record.created", "record.updated"], "models": ["customers"],
        "fields": ["status"], "active": True, "description": "CRM sync", "disabled_at": None,
        "disabled_reason": None}
    assert Webhook.objects.get(pk=created.id).secret == created["secret"]

    fetched = hooks.get(created.id)
    assert "secret" not in fetched and fetched == without_secret(created)

    other = hooks.create("https://example.org/other", ["record.deleted"])
    assert other["models"] == [] and other["fields"] == [] and other["active"] is True
    first = hooks.list(limit=1)
    assert isinstance(first, Page) and [w.id for w in first] == [created.id]
    assert first.pagination == {"page": 1, "limit": 1, "total": 2, "pages": 2, "next_cursor": None}
    second = hooks.list(page=2, limit=1)
    assert [dict(w) for w in second] == [without_secret(other)]
    assert wire.requests[-1].url.path == "/api/webhooks" and wire.requests[-1].url.params["page"] == "2"


def test_update_refuses_bad_input_and_delete(client, customers):
    hooks = client.webhooks
    hook = hooks.create("https://example.com/hook", ["record.created"])

    updated = hooks.update(hook.id, active=False, events=["record.deleted"], models=["customers"])
    assert (updated["active"], updated["events"], updated["models"]) == (False, ["record.deleted"], ["customers"])
    assert updated["updated_at"] >= hook["updated_at"] and "secret" not in updated
    assert hooks.get(hook.id) == updated

    with pytest.raises(ValidationError) as bad_event:
        hooks.create("https://example.com/other", ["record.exploded"])
    assert bad_event.value.status == 400 and [d["field"] for d in bad_event.value.details] == ["events"]
    with pytest.raises(ValidationError) as bad_url:
        hooks.update(hook.id, url="ftp://example.com/hook")
    assert [d["field"] for d in bad_url.value.details] == ["url"]
    with pytest.raises(ValidationError) as secret_by_patch:
        hooks.update(hook.id, secret="whsec_mine-0123456789abcdef")
    assert secret_by_patch.value.details == [{"field": "secret", "message": "Use rotate-secret to change it"}]
    assert Webhook.objects.count() == 1  # nothing saved by the refused calls
    assert hooks.get(hook.id) == updated

    assert hooks.delete(hook.id) == {"success": True, "message": "Webhook deleted successfully"}
    assert not Webhook.objects.filter(pk=hook.id).exists()
    for call in (lambda: hooks.get(hook.id), lambda: hooks.delete(hook.id), lambda: hooks.deliveries(hook.id),
                 lambda: hooks.update(hook.id, active=True)):
        with pytest.raises(NotFound) as missing:
            call()
        assert missing.value.status == 404 and missing.value.message == "Webhook not found"


def test_ping_deliveries_rotation_and_resend_without_a_worker(client, customers, wire):
    """The answers of the calls that queue deliveries (nothing is sent: no worker runs here)."""
    hooks = client.webhooks
    hook = hooks.create("https://example.com/hook", ["record.created"])

    ping = hooks.test(hook.id)
    assert wire.statuses[-1] == 202 and DELIVERY_ID.match(ping.id)
    assert (ping["webhook_id"], ping["event"], ping["model"], ping["status"], ping["attempts"]) == (
        hook.id, "ping", None, "pending", [])
    assert ping["payload"]["event"] == "ping" and ping["payload"]["data"]["webhook_id"] == hook.id

    listed = hooks.deliveries(hook.id)
    assert [d.id for d in listed] == [ping.id] and listed.total == 1
    assert list(hooks.deliveries(hook.id, status="delivered")) == []
    assert [d.id for d in hooks.deliveries(hook.id, status="pending", limit=5)] == [ping.id]
    with pytest.raises(ValidationError) as bad_status:
        hooks.deliveries(hook.id, status="lost")
    assert bad_status.value.details == [{"field": "status", "message": "Must be one of: pending, delivered, failed"}]

    rotated = hooks.rotate_secret(hook.id)
    assert rotated.id == hook.id and rotated["secret"].startswith("whsec_") and rotated["secret"] != hook["secret"]
    assert rotated["previous_secret_expires_at"] is not None
    assert wire.requests[-1].content == b""
    chosen = hooks.rotate_secret(hook.id, secret="whsec_chosen-by-the-caller-0123456789")
    assert chosen["secret"] == "whsec_chosen-by-the-caller-0123456789"
    assert Webhook.objects.get(pk=hook.id).secret == chosen["secret"]
    assert "secret" not in hooks.get(hook.id)

    again = hooks.resend(ping.id)
    assert wire.statuses[-1] == 202 and again.id == ping.id and again["status"] == "pending"
    with pytest.raises(NotFound):
        hooks.resend("dlv_nope")
    assert Delivery.objects.filter(webhook_id=hook.id).count() == 1
    # No idempotency promise on these POSTs: each is sent once, without a key.
    assert all("idempotency-key" not in r.headers for r in wire.requests)


def test_a_real_delivery_verifies_and_forgeries_do_not(client, customers, receiver, webhook_worker):
    hooks = client.webhooks
    hook = hooks.create(receiver.url, ["record.created", "record.updated"], models=["customers"])
    secret = hook["secret"]
    jane = client.models.customers.create({"name": "Jane", "email": "jane@example.com"})

    [got] = receiver.wait_for(1, webhook_worker)
    event = verify(got.body, got.headers, secret)
    assert (event["event"], event["model"], event["data"]["id"], event["data"]["name"]) == (
        "record.created", "customers", jane.id, "Jane")
    assert got.headers["X-Infinity-Event"] == "record.created" and DELIVERY_ID.match(got.headers["X-Infinity-Delivery"])

    with pytest.raises(InvalidSignature):
        verify(got.body.replace(b'"Jane"', b'"Joan"'), got.headers, secret)  # tampered body
    with pytest.raises(InvalidSignature):
        verify(got.body, got.headers, "whsec_someone-else")  # wrong secret
    sent_at = int(got.headers["X-Infinity-Signature"].split(",")[0][2:])
    replayed = {**got.headers, "X-Infinity-Signature": got.headers["X-Infinity-Signature"].replace(
        f"t={sent_at}", f"t={sent_at + 1}")}
    with pytest.raises(InvalidSignature):
        verify(got.body, replayed, secret)  # the timestamp is signed: moving it breaks the signature
    old = {**got.headers, "X-Infinity-Signature": signature_header(got.body, secret, timestamp=sent_at - 3600)}
    with pytest.raises(StaleSignature):
        verify(got.body, old, secret)  # correctly signed, an hour ago: a replay

    delivery = _delivered(hooks, hook.id, got.headers["X-Infinity-Delivery"])
    assert (delivery["event"], delivery["record_id"], delivery["payload"]) == ("record.created", jane.id, event)
    assert [(a["succeeded"], a["response_code"]) for a in delivery["attempts"]] == [(True, 200)]

    # A resend is the same delivery again, freshly signed.
    assert hooks.resend(delivery.id)["status"] == "pending"
    resent = receiver.wait_for(2, webhook_worker)[1]
    assert resent.headers["X-Infinity-Delivery"] == delivery.id and verify(resent.body, resent.headers, secret) == event


def test_a_rotated_secret_signs_beside_the_old_one(client, customers, receiver, webhook_worker):
    hooks = client.webhooks
    hook = hooks.create(receiver.url, ["record.updated"], models=["customers"])
    jane = client.models.customers.create({"name": "Jane", "status": "active"})
    new_secret = hooks.rotate_secret(hook.id)["secret"]
    client.models.customers.update(jane.id, {"status": "inactive"})

    [got] = receiver.wait_for(1, webhook_worker)
    assert got.headers["X-Infinity-Signature"].count("v1=") == 2
    for secret in (hook["secret"], new_secret):
        event = verify(got.body, got.headers, secret)
        assert (event["event"], event["data"]["status"], event["previous"]) == (
            "record.updated", "inactive", {"status": "active"})
    with pytest.raises(InvalidSignature):
        verify(got.body, got.headers, "whsec_someone-else")


def _delivered(hooks, webhook_id: str, delivery_id: str):
    """The delivery once the worker has logged its attempt: it sends first, and a first attempt
    is written (delivery and attempt at once) when the worker's transaction commits."""
    deadline = time.monotonic() + WAIT
    while True:
        found = [d for d in hooks.deliveries(webhook_id) if d.id == delivery_id]
        if (found and found[0]["status"] != "pending") or time.monotonic() > deadline:
            assert found and found[0]["status"] == "delivered", found
            return found[0]
        time.sleep(0.2)
