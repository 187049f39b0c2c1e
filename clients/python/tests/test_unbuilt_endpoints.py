"""Search and webhook calls: the requests they send, as SPEC §6/§7 and the webhooks issue define them.

Their endpoints are being built beside this client, so today the live server answers
each with its JSON 404; these tests check what goes over the wire and that the answer
is raised as the envelope's exception. When the endpoints land, tests against their
real answers replace the `refused` checks here.
"""

from __future__ import annotations

import json

import pytest

from infinity_client import APIError


def sent(wire, call):
    """Run a call the server cannot answer yet; return (method, path, query pairs, JSON body) it sent."""
    with pytest.raises(APIError) as caught:
        call()
    request, response = wire.requests[-1], wire.responses[-1]
    assert caught.value.status == response.status_code and caught.value.request_id == response.headers["x-request-id"]
    body = json.loads(request.content) if request.content else None
    return request.method, request.url.path, list(request.url.params.multi_items()), body


def test_search_by_text(client, customers, wire):
    assert sent(wire, lambda: client.models.customers.search(
        "comfortable office chair", limit=5, threshold=0.5, filter={"status": "active"}, fields=["id", "name"],
        field="embedding", mode="hybrid")) == (
        "GET", "/api/public/data/customers/search",
        [("filter", "status:active"), ("fields", "id,name"), ("field", "embedding"), ("mode", "hybrid"),
         ("query", "comfortable office chair"), ("limit", "5"), ("threshold", "0.5")], None)


def test_search_by_vector_and_similar(client, customers, wire):
    assert sent(wire, lambda: client.models.customers.search(vector=[0.1, 0.2, 0.3], limit=3)) == (
        "POST", "/api/public/data/customers/search", [], {"vector": [0.1, 0.2, 0.3], "limit": 3})
    assert sent(wire, lambda: client.models.customers.similar("rec_1", limit=4)) == (
        "GET", "/api/public/data/customers/rec_1/similar", [("limit", "4")], None)
    with pytest.raises(TypeError):
        client.models.customers.search()


def test_webhook_calls(client, customers, wire):
    hooks = client.webhooks

    assert sent(wire, lambda: hooks.create("https://example.com/hook", ["record.created"], models=["customers"],
                                           description="CRM sync")) == (
        "POST", "/api/webhooks", [], {"url": "https://example.com/hook", "events": ["record.created"],
                                      "models": ["customers"], "description": "CRM sync"})
    assert sent(wire, lambda: hooks.list(page=2, limit=10)) == (
        "GET", "/api/webhooks", [("page", "2"), ("limit", "10")], None)
    assert sent(wire, lambda: hooks.get(7)) == ("GET", "/api/webhooks/7", [], None)
    assert sent(wire, lambda: hooks.update(7, active=False)) == ("PATCH", "/api/webhooks/7", [], {"active": False})
    assert sent(wire, lambda: hooks.delete(7)) == ("DELETE", "/api/webhooks/7", [], None)
    assert sent(wire, lambda: hooks.test(7)) == ("POST", "/api/webhooks/7/test", [], None)
    assert sent(wire, lambda: hooks.deliveries(7, limit=20)) == (
        "GET", "/api/webhooks/7/deliveries", [("limit", "20")], None)
    assert sent(wire, lambda: hooks.rotate_secret(7)) == ("POST", "/api/webhooks/7/rotate-secret", [], None)
    assert sent(wire, lambda: hooks.resend("dlv_9")) == ("POST", "/api/webhooks/deliveries/dlv_9/resend", [], None)
    # The webhook endpoints make no idempotency promise: their POSTs are sent once, without a key.
    assert all("idempotency-key" not in r.headers for r in wire.requests)
