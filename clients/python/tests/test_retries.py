"""Retries against the real server: a real 429, a dropped connection, a load balancer's 503, no server.

The misbehaving network is a real TCP proxy in the test process (`proxy.Proxy`); the
requests that reach the server are answered by the server.
"""

from __future__ import annotations

import pytest

from accounts.services import apikey_create
from infinity_client import APIConnectionError, ServiceUnavailable

from .conftest import count, free_port, rows
from .proxy import Proxy

PATH = "/api/public/data/customers"


@pytest.fixture
def proxy(server_url):
    """`proxy(behaviours)`: a Proxy in front of the test server; closed after the test."""
    made = []

    def make(behaviours):
        made.append(Proxy(int(server_url.rsplit(":", 1)[1]), behaviours))
        return made[-1]

    yield make
    for each in made:
        each.close()


def test_a_create_retried_after_a_dropped_connection_writes_one_record(make_client, customers, proxy, wire):
    lossy = proxy(["drop"])
    client = make_client(base_url=lossy.url)

    created = client.models.customers.create({"name": "once"})

    first, second = wire.requests
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.content == second.content
    assert [r.headers.get("idempotent-replayed") for r in wire.responses] == ["true"]  # the first answer, replayed
    assert lossy.connections == 2
    assert [(row[0], row[1]) for row in rows(customers)] == [(created.id, "once")]


def test_a_post_without_a_key_is_not_repeated_after_an_unclear_failure(make_client, customers, proxy, wire):
    client = make_client(base_url=proxy(["drop"]).url)

    with pytest.raises(APIConnectionError):
        client.request("POST", PATH, json={"name": "maybe"})

    assert len(wire.requests) == 1 and count(customers) == 1  # written, answer lost, not sent twice


def test_a_real_429_is_retried_after_retry_after(make_client, customers, superuser, wire):
    _, raw = apikey_create(user=superuser, name="tiny", rate_limit="1/s")
    client = make_client(api_key=raw, max_retries=3)

    for _ in range(10):  # the second request inside one second is refused; bounded in case seconds roll over
        assert client.models.customers.list().total == 0
        if 429 in wire.statuses:
            break

    refused = wire.statuses.index(429)
    wait = float(wire.responses[refused].headers["retry-after"])
    assert wait >= 1 and wire.statuses[refused + 1] == 200
    responded = [t for kind, t in wire.times if kind == "response"][refused]
    retried = [t for kind, t in wire.times if kind == "request"][refused + 1]
    assert retried - responded >= wait  # it waited as told before asking again
    assert wire.requests[refused + 1].url == wire.requests[refused].url


def test_a_load_balancers_503_is_retried(make_client, customers, proxy, wire):
    flaky = proxy(["503"])
    client = make_client(base_url=flaky.url)

    page = client.models.customers.list()

    assert page.total == 0 and wire.statuses == [503, 200] and flaky.connections == 2


def test_503_raises_service_unavailable_when_retries_are_spent(make_client, customers, proxy, wire):
    client = make_client(base_url=proxy(["503", "503"]).url, max_retries=1)

    with pytest.raises(ServiceUnavailable) as caught:
        client.models.customers.list()

    error = caught.value
    assert (error.status, error.code, error.request_id) == (503, None, None)
    assert error.message.startswith("HTTP 503 Service Unavailable: <html>")
    assert wire.statuses == [503, 503]


def test_503_is_not_retried_for_a_call_that_must_not_repeat(make_client, customers, proxy, wire):
    client = make_client(base_url=proxy(["503"]).url)

    with pytest.raises(ServiceUnavailable):
        client.request("POST", PATH, json={"name": "maybe"})

    assert wire.statuses == [503] and count(customers) == 0


def test_no_server_is_retried_then_raised(make_client, customers, wire):
    client = make_client(base_url=f"http://127.0.0.1:{free_port()}", max_retries=2)

    with pytest.raises(APIConnectionError) as caught:
        client.models.customers.create({"name": "nobody hears"})

    assert "ConnectError" in str(caught.value)
    assert len(wire.requests) == 3 and len({r.headers["idempotency-key"] for r in wire.requests}) == 1
    assert wire.responses == [] and count(customers) == 0


def test_max_retries_zero_sends_once(make_client, customers, wire):
    client = make_client(base_url=f"http://127.0.0.1:{free_port()}", max_retries=0)

    with pytest.raises(APIConnectionError):
        client.models.customers.list()

    assert len(wire.requests) == 1
