"""Rate limits over HTTP: headers that count down, 429 with Retry-After, who is counted
against what, and one counter shared by every server process.

Windows are fixed and aligned per caller (see conftest): each test uses callers whose
windows have at least MARGIN seconds left, and knows when they end, so X-RateLimit-Reset
is asserted exactly and Retry-After within the second the request took. Run these with
REDIS_URL set as well: the counters then live in Redis instead of PostgreSQL.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django_ratelimit.core import ALL, _make_cache_key
from django.conf import settings as django_settings
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts import counters
from accounts.ratelimits import GROUP, consume, parse_rate_limit
from accounts.users import tokens_for

from .conftest import BASE, MARGIN, bearer, error, keyed, rows, seconds_left, settled_ip, window_end

pytestmark = pytest.mark.django_db

HOUR, MINUTE = 3600, 60
CUSTOMERS = f"{BASE}/customers"


def headers(response) -> tuple[str, str, str]:
    return response["X-RateLimit-Limit"], response["X-RateLimit-Remaining"], response["X-RateLimit-Reset"]


def assert_throttled(response, *, limit: int, reset: int, sent_between: tuple[int, int]) -> None:
    """A 429 in the envelope whose Retry-After is the time left when the request was counted."""
    assert response.status_code == 429, response.content
    retry = int(response["Retry-After"])
    started, finished = sent_between
    assert max(reset - finished, 1) <= retry <= max(reset - started, 1)
    assert headers(response) == (str(limit), "0", str(reset))
    assert response.json() == error(response, "RATE_LIMIT_EXCEEDED", f"Rate limit exceeded: retry in {retry} second(s)")


def timed(send):
    """Send a request; return it with the unix seconds before and after."""
    started = int(time.time())
    response = send()
    return response, (started, int(time.time()))


# --- counting down -----------------------------------------------------------------

def test_headers_count_down_then_429_with_retry_after(customers, limited_key):
    key, raw = limited_key("3/h")
    client, reset = keyed(raw), window_end(f"key:{key.prefix}", HOUR)

    answers = [client.get(CUSTOMERS) for _ in range(3)]
    refused, sent = timed(lambda: client.get(CUSTOMERS))

    assert [r.status_code for r in answers] == [200, 200, 200]
    assert [headers(r) for r in answers] == [("3", str(n), str(reset)) for n in (2, 1, 0)]
    assert_throttled(refused, limit=3, reset=reset, sent_between=sent)
    assert client.get(CUSTOMERS).status_code == 429


def test_a_key_without_its_own_limit_gets_100_a_minute_and_5000_a_day(customers, limited_key):
    key, raw = limited_key()
    assert key.effective_rate_limit == "100/m,5000/d"
    client, reset = keyed(raw), window_end(f"key:{key.prefix}", MINUTE)

    first, second = client.get(CUSTOMERS), client.get(CUSTOMERS)

    assert headers(first) == ("100", "99", str(reset))
    assert headers(second) == ("100", "98", str(reset))


def test_the_window_with_the_fewest_requests_left_is_reported(customers, limited_key):
    hourly_key, hourly_raw = limited_key("10/m,3/h")
    minutely_key, minutely_raw = limited_key("3/m,100/h")

    hourly = keyed(hourly_raw).get(CUSTOMERS)
    minutely = keyed(minutely_raw).get(CUSTOMERS)

    assert headers(hourly) == ("3", "2", str(window_end(f"key:{hourly_key.prefix}", HOUR)))
    assert headers(minutely) == ("3", "2", str(window_end(f"key:{minutely_key.prefix}", MINUTE)))


def test_past_several_limits_the_window_that_frees_last_is_reported(customers, limited_key):
    key, raw = limited_key("2/m,3/h")
    identity, client = f"key:{key.prefix}", keyed(raw)
    minute_end, hour_end = window_end(identity, MINUTE), window_end(identity, HOUR)
    client.get(CUSTOMERS), client.get(CUSTOMERS)

    over_minute, sent_third = timed(lambda: client.get(CUSTOMERS))  # 3rd: over 2/m, exactly at 3/h
    over_both, sent_fourth = timed(lambda: client.get(CUSTOMERS))  # 4th: over both

    assert_throttled(over_minute, limit=2, reset=minute_end, sent_between=sent_third)
    later = max((minute_end, 2), (hour_end, 3))
    assert_throttled(over_both, limit=later[1], reset=later[0], sent_between=sent_fourth)


def test_a_refused_request_changes_nothing(customers, limited_key, unchanged):
    _, raw = limited_key("1/h")
    client = keyed(raw)
    assert client.post(CUSTOMERS, {"name": "Ann"}, format="json").status_code == 201

    with unchanged(customers):
        response = client.post(CUSTOMERS, {"name": "Bea"}, format="json")

    assert response.status_code == 429
    assert [row[3] for row in rows(customers)] == ["Ann"]


# --- who is counted ------------------------------------------------------------------

def test_each_key_has_its_own_counter_even_for_one_owner(customers, limited_key):
    _, first = limited_key("1/h")
    _, second = limited_key("1/h")

    assert keyed(first).get(CUSTOMERS).status_code == 200
    assert keyed(second).get(CUSTOMERS).status_code == 200
    assert keyed(first).get(CUSTOMERS).status_code == 429


def test_a_jwt_user_is_counted_per_user_across_tokens(customers, settings, settled_user):
    settings.INFINITY = {**settings.INFINITY, "RATE_LIMIT": "2/h"}
    ann, bob = settled_user("ann", "2/h", "view_customers"), settled_user("bob", "2/h", "view_customers")
    reset = window_end(f"user:{ann.pk}", HOUR)

    on_laptop, on_phone = bearer(ann).get(CUSTOMERS), bearer(ann).get(CUSTOMERS)
    third, sent = timed(lambda: bearer(ann).get(CUSTOMERS))

    assert [headers(on_laptop), headers(on_phone)] == [("2", "1", str(reset)), ("2", "0", str(reset))]
    assert_throttled(third, limit=2, reset=reset, sent_between=sent)
    assert bearer(bob).get(CUSTOMERS).status_code == 200


def test_a_keys_own_limit_replaces_the_default(customers, settings, limited_key):
    settings.INFINITY = {**settings.INFINITY, "RATE_LIMIT": "1/h"}
    _, own = limited_key("5/h")
    _, default = limited_key()

    assert [keyed(own).get(CUSTOMERS).status_code for _ in range(3)] == [200, 200, 200]
    assert [keyed(default).get(CUSTOMERS).status_code for _ in range(2)] == [200, 429]


def test_every_response_to_an_identified_caller_carries_the_headers(customers, limited_key, superuser):
    key, raw = limited_key("50/h", models=["customers"])
    client = keyed(raw)
    responses = {
        "ok": client.get(CUSTOMERS),
        "not found": client.get(f"{CUSTOMERS}/rec_missing"),
        "unknown model": client.get(f"{BASE}/nothing"),
        "bad filter": client.get(f"{CUSTOMERS}?filter=nope:1"),
        "forbidden": client.get(f"{BASE}/companies"),
        "bad body": client.post(CUSTOMERS, "{", content_type="application/json"),
        "wrong content type": client.post(CUSTOMERS, "x", content_type="text/plain"),
        "me": client.get("/api/auth/me"),
        "keys (refused to keys)": client.get("/api/auth/keys"),
    }

    assert {name: r.status_code for name, r in responses.items()} == {
        "ok": 200, "not found": 404, "unknown model": 404, "bad filter": 400, "forbidden": 403, "bad body": 400,
        "wrong content type": 415, "me": 200, "keys (refused to keys)": 403,
    }
    assert [int(r["X-RateLimit-Remaining"]) for r in responses.values()] == list(range(49, 40, -1))
    keys_by_jwt = bearer(superuser).get("/api/auth/keys")
    assert keys_by_jwt.status_code == 200 and "X-RateLimit-Remaining" in keys_by_jwt


def test_health_is_never_limited(db, settings):
    settings.INFINITY = {**settings.INFINITY, "RATE_LIMIT": "1/h"}
    client = APIClient(REMOTE_ADDR=settled_ip("ip:", "1/h"))

    answers = [client.get("/api/health") for _ in range(5)]

    assert [r.status_code for r in answers] == [200] * 5
    assert not [r for r in answers if "X-RateLimit-Limit" in r or "Retry-After" in r]


def test_anonymous_callers_are_counted_per_ip(customers, settings):
    settings.INFINITY = {**settings.INFINITY, "RATE_LIMIT": "2/h"}
    ip = settled_ip("ip:", "2/h")
    client = APIClient(REMOTE_ADDR=ip)

    answers = [client.get(CUSTOMERS).status_code for _ in range(3)]
    elsewhere = APIClient(REMOTE_ADDR=settled_ip("ip:", "2/h")).get(CUSTOMERS)

    assert answers == [401, 401, 429]
    assert elsewhere.status_code == 401


# --- signup and login, per IP -------------------------------------------------------------

def auth_client(rate: str = "5/m") -> tuple[APIClient, int]:
    """A client at an IP whose auth windows are far from ending, and when its tightest one ends."""
    ip = settled_ip("auth-ip:", rate)
    seconds = min(s for _, s in parse_rate_limit(rate))
    return APIClient(REMOTE_ADDR=ip), window_end(f"auth-ip:{ip}", seconds)


def test_signup_and_login_share_5_a_minute_per_ip(django_user_model):
    django_user_model.objects.create_user("ann@example.com", "ann@example.com", "correct horse battery")
    client, reset = auth_client()
    good = {"email": "ann@example.com", "password": "correct horse battery"}
    bad = {"email": "ann@example.com", "password": "guess"}

    answers = [
        client.post("/api/auth/signup", {"email": "bo@example.com", "password": "another fine pass"}, format="json"),
        *[client.post("/api/auth/login", bad, format="json") for _ in range(3)],
        client.post("/api/auth/login", good, format="json"),
    ]
    tokens_before = OutstandingToken.objects.count()
    refused, sent = timed(lambda: client.post("/api/auth/login", good, format="json"))
    no_signup = client.post("/api/auth/signup", {"email": "cy@example.com", "password": "yet another pass"},
                            format="json")

    assert [r.status_code for r in answers] == [201, 401, 401, 401, 200]
    assert [headers(r) for r in answers] == [("5", str(n), str(reset)) for n in (4, 3, 2, 1, 0)]
    assert_throttled(refused, limit=5, reset=reset, sent_between=sent)
    assert no_signup.status_code == 429
    assert OutstandingToken.objects.count() == tokens_before
    assert not django_user_model.objects.filter(email="cy@example.com").exists()
    other, _ = auth_client()
    assert other.post("/api/auth/login", good, format="json").status_code == 200


def test_the_auth_limit_comes_from_settings(db, settings):
    settings.INFINITY = {**settings.INFINITY, "AUTH_RATE_LIMIT": "2/h"}
    client, _ = auth_client("2/h")
    body = {"email": "nobody@example.com", "password": "whatever it is"}

    assert [client.post("/api/auth/login", body, format="json").status_code for _ in range(3)] == [401, 401, 429]


def test_refresh_and_logout_are_not_held_to_the_login_limit(django_user_model):
    ann = django_user_model.objects.create_user("ann@example.com", "ann@example.com", "correct horse battery")
    client, _ = auth_client()
    for _ in range(6):
        client.post("/api/auth/login", {"email": "ann@example.com", "password": "nope"}, format="json")
    pair = tokens_for(ann)

    refreshed = client.post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json")
    logged_out = client.post("/api/auth/logout", {"refresh": refreshed.json()["refresh"]}, format="json")

    assert (refreshed.status_code, logged_out.status_code) == (200, 200)
    assert refreshed["X-RateLimit-Limit"] == "100"  # the general per-IP limit


# --- the counting itself --------------------------------------------------------------

def test_consume_counts_every_window_and_reports_the_tightest(db, rf):
    request, rate = rf.get("/"), "5/h,2/d"
    identity = next(f"test:{n}" for n in itertools.count() if seconds_left(f"test:{n}", rate) >= MARGIN)

    usage = [consume(request, identity=identity, rate=rate) for _ in range(3)]

    assert [(u.limit, u.remaining, u.retry_after is None) for u in usage] == [(2, 1, True), (2, 0, True), (2, 0, False)]


def test_the_counter_table_sweeps_expired_counters_within_the_same_statement(db, monkeypatch):
    """Without Redis, counters live in `accounts_counter`; expired ones go now and then,
    in the statement that adds a counter, so sweeping never costs a request a query."""
    monkeypatch.setattr(counters, "SWEEP_CHANCE", 1)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_counter (key, value, expires) VALUES "
            "('test:expired', 7, now() - interval '1 second'), ('test:live', 7, now() + interval '1 hour'), "
            "(':1:test:mine', 7, now() - interval '1 second')"
        )
    cache = counters.CounterCache("", {})

    with CaptureQueriesContext(connection) as queries:
        added = cache.add("test:mine", 1, 60)

    assert added and len(queries) == 1
    assert cache.incr("test:mine") == 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, value FROM accounts_counter WHERE key LIKE %s ORDER BY key", ["%test:%"])
        assert cursor.fetchall() == [(":1:test:mine", 2), ("test:live", 7)]


def test_database_counters_expire_when_their_window_does(db, rf, settings):
    """A counter lives for its window (plus django-ratelimit's fudge), then is swept: the
    table holds live windows only, not every window ever counted."""
    if settings.REDIS_URL:
        pytest.skip("counters live in Redis (EXPIRE) when REDIS_URL is set")
    consume(rf.get("/"), identity="test:ttl", rate="5/m,50/d")

    with connection.cursor() as cursor:
        cursor.execute("SELECT extract(epoch FROM expires - now()) FROM accounts_counter ORDER BY expires")
        lifetimes = [float(seconds) for (seconds,) in cursor.fetchall()]

    assert len(lifetimes) == 2
    assert 60 < lifetimes[0] <= 60 + 5 and 86400 < lifetimes[1] <= 86400 + 5


# --- one counter for every process -----------------------------------------------------------

SERVER = '''
import os, sys
import django
from django.conf import settings
settings.CACHES["ratelimit"]["KEY_PREFIX"] = os.environ["TEST_RATELIMIT_KEY_PREFIX"]  # as this test run's
django.setup()
from wsgiref.simple_server import WSGIRequestHandler, make_server
from infinity.wsgi import application

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

server = make_server("127.0.0.1", 0, application, handler_class=Quiet)
print(server.server_port, flush=True)
server.serve_forever()
'''


@pytest.fixture
def other_process(tmp_path, database_url):
    """A second server *process* (wsgiref) on the same database and counters; yields its URL."""
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "infinity.settings", "DATABASE_URL": database_url,
           "TEST_RATELIMIT_KEY_PREFIX": django_settings.CACHES["ratelimit"].get("KEY_PREFIX", ""),
           "PYTHONPATH": str(django_settings.BASE_DIR)}
    process = subprocess.Popen([sys.executable, str(script)], env=env, cwd=django_settings.BASE_DIR,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = process.stdout.readline().strip()
        assert port.isdigit(), process.stderr.read() if process.poll() is not None else port
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def http_get(url: str, raw_key: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"X-API-Key": raw_key})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, {k: response.headers[k] for k in ("X-RateLimit-Remaining", "Retry-After")}
    except urllib.error.HTTPError as refused:
        body = json.loads(refused.read())
        assert body["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        return refused.code, {k: refused.headers[k] for k in ("X-RateLimit-Remaining", "Retry-After")}


@pytest.mark.django_db(transaction=True)
def test_one_limit_across_server_processes(live_server, other_process, limited_key, _schema_state_after_flush):
    """In-process test client, a live server thread (its own connection) and a second
    process (its own interpreter): three requests use up `3/h`, so the 4th is refused by any."""
    _, raw = limited_key("3/h")
    here = keyed(raw)

    first = here.get("/api/auth/me")
    second = http_get(f"{live_server.url}/api/auth/me", raw)
    third = http_get(f"{other_process}/api/auth/me", raw)
    fourth = [here.get("/api/auth/me").status_code,
              http_get(f"{live_server.url}/api/auth/me", raw)[0],
              http_get(f"{other_process}/api/auth/me", raw)[0]]

    assert (first.status_code, first["X-RateLimit-Remaining"]) == (200, "2")
    assert second == (200, {"X-RateLimit-Remaining": "1", "Retry-After": None})
    assert third == (200, {"X-RateLimit-Remaining": "0", "Retry-After": None})
    assert fourth == [429, 429, 429]


@pytest.mark.django_db(transaction=True)
def test_leased_windows_never_serve_more_than_the_limit_across_processes(
        other_process, limited_key, _schema_state_after_flush):
    """`300/h` is reserved 3 at a time (300 // 100). This process serves 298 and holds 2
    it reserved; the other process finds the counter used up and refuses at once, though 2
    are unserved here: a caller may be refused a few requests early, never served one
    more than its limit. The 2 held here are served, then this process refuses too."""
    _, raw = limited_key("300/h")
    here = keyed(raw)

    served = [here.get("/api/auth/me") for _ in range(298)]
    elsewhere = http_get(f"{other_process}/api/auth/me", raw)
    last = [here.get("/api/auth/me") for _ in range(3)]

    assert {r.status_code for r in served} == {200}
    assert [served[0]["X-RateLimit-Remaining"], served[-1]["X-RateLimit-Remaining"]] == ["299", "2"]
    assert elsewhere[0] == 429 and elsewhere[1]["X-RateLimit-Remaining"] == "0"
    assert [(r.status_code, r["X-RateLimit-Remaining"]) for r in last] == [(200, "1"), (200, "0"), (429, "0")]


def test_large_windows_are_counted_a_lease_at_a_time(limited_key, settings):
    """`1000/m` is reserved 10 requests at a time: ten requests, one counter statement,
    and X-RateLimit-Remaining still counts down one by one. INFINITY_RATE_LIMIT_LEASE=1
    counts every request in the shared counter."""
    key, raw = limited_key("1000/m")
    identity = f"key:{key.prefix}"
    counter = _make_cache_key(GROUP, window_end(identity, MINUTE), "1000/60s", identity, ALL)

    with CaptureQueriesContext(connection) as leased:
        remaining = [keyed(raw).get("/api/auth/me")["X-RateLimit-Remaining"] for _ in range(10)]
    reserved = caches["ratelimit"].get(counter)
    settings.INFINITY = {**settings.INFINITY, "RATE_LIMIT_LEASE": 1}
    with CaptureQueriesContext(connection) as counted:
        each = [keyed(raw).get("/api/auth/me")["X-RateLimit-Remaining"] for _ in range(3)]

    assert remaining == [str(999 - n) for n in range(10)]
    assert each == ["989", "988", "987"]
    assert (reserved, caches["ratelimit"].get(counter)) == (10, 13)
    if not settings.REDIS_URL:  # else the counter is one Redis pipeline per reservation
        assert len([q for q in leased if "accounts_counter" in q["sql"]]) == 1
        assert len([q for q in counted if "accounts_counter" in q["sql"]]) == 3
