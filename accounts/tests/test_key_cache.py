"""The per-process API-key cache and one-round-trip rate-limit counting: what a request
saves, and how soon a change made elsewhere is seen."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import keycache
from accounts.services import apikey_revoke

ME = "/api/auth/me"


def statements_on(queries, table: str) -> list[str]:
    return [q["sql"] for q in queries if f'"{table}"' in q["sql"] or f" {table} " in q["sql"]]


def status(client, raw) -> int:
    return client.get(ME, HTTP_X_API_KEY=raw).status_code


@pytest.fixture
def ttl(settings):
    settings.INFINITY = {**settings.INFINITY, "KEY_CACHE_SECONDS": 0.5}
    return 0.5


def test_a_known_key_is_not_looked_up_again(client_api, make_api_key):
    _, raw = make_api_key()
    assert status(client_api, raw) == 200

    with CaptureQueriesContext(connection) as queries:
        assert status(client_api, raw) == 200

    assert statements_on(queries, "accounts_apikey") == []


def test_a_key_revoked_by_another_process_stops_working_within_the_cache_time(client_api, make_api_key, ttl):
    key, raw = make_api_key()
    assert status(client_api, raw) == 200
    with connection.cursor() as cursor:  # another process: no signal reaches this one
        cursor.execute("UPDATE accounts_apikey SET revoked_at = now() WHERE id = %s", [key.pk])

    assert status(client_api, raw) == 200  # still trusted from the cache...
    time.sleep(ttl + 0.1)
    response = client_api.get(ME, HTTP_X_API_KEY=raw)

    assert response.status_code == 401  # ...but not after INFINITY_KEY_CACHE_SECONDS
    assert response.json()["error"]["message"] == "API key revoked"


def test_a_key_revoked_in_this_process_stops_working_at_once(client_api, make_api_key):
    key, raw = make_api_key()
    assert status(client_api, raw) == 200

    apikey_revoke(prefix=key.prefix)  # what the keys API, the admin and `apikey revoke` call

    assert status(client_api, raw) == 401


def test_deactivating_the_owner_in_this_process_stops_the_key_at_once(client_api, make_api_key, superuser):
    _, raw = make_api_key()
    assert status(client_api, raw) == 200

    superuser.is_active = False
    superuser.save()

    assert status(client_api, raw) == 401


def test_a_zero_cache_time_looks_the_key_up_every_time(client_api, make_api_key, settings):
    settings.INFINITY = {**settings.INFINITY, "KEY_CACHE_SECONDS": 0}
    _, raw = make_api_key()
    assert status(client_api, raw) == 200

    with CaptureQueriesContext(connection) as queries:
        assert status(client_api, raw) == 200

    assert len(statements_on(queries, "accounts_apikey")) == 1
    assert keycache._entries == {}


def test_every_window_is_counted_in_one_statement(client_api, make_api_key, settings):
    if settings.REDIS_URL:
        pytest.skip("counters live in Redis (one pipeline) when REDIS_URL is set")
    _, raw = make_api_key(rate_limit="50/m,500/h,5000/d")

    with CaptureQueriesContext(connection) as queries:
        response = client_api.get(ME, HTTP_X_API_KEY=raw)

    assert response["X-RateLimit-Remaining"] == "49"
    assert len(statements_on(queries, "accounts_counter")) == 1
