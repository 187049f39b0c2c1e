"""A database out of connections answers 503 SERVICE_UNAVAILABLE with Retry-After, never 500.

Real PostgreSQL refuses the connections: the server (uWSGI, as `make run` and production
run it) logs in as a role allowed no connections (CONNECTION LIMIT 0), so every
connection attempt meets "too many connections for role" (SQLSTATE 53300, the same as
"sorry, too many clients already"). The API (DRF's handler) and the admin (a plain
Django view, with DEBUG on as under `make run` and off as in production) both answer
in the error envelope.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from django.conf import settings

from bench.serve_load import free_port

pytestmark = pytest.mark.django_db
UWSGI = os.path.join(os.path.dirname(sys.executable), "uwsgi")
ROLE = f"infinity_no_room_{os.getpid()}"


def get(port: int, path: str, **headers) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@pytest.fixture
def role_without_connections(database_url):
    """A DATABASE_URL for this test database as a role that may open no connection."""
    with psycopg.connect(database_url, autocommit=True) as admin:
        try:
            admin.execute(f'CREATE ROLE "{ROLE}" LOGIN CONNECTION LIMIT 0')
        except psycopg.errors.InsufficientPrivilege:
            pytest.skip("the test database user may not create roles")
    parts = urlsplit(database_url)
    netloc = f"{quote(ROLE)}@{parts.netloc.rpartition('@')[2]}"
    try:
        yield urlunsplit(parts._replace(netloc=netloc))
    finally:
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(f'DROP ROLE IF EXISTS "{ROLE}"')


@pytest.fixture(params=["1", "0"], ids=["debug", "production"])
def starved_server(request, role_without_connections):
    """uWSGI with infinity/uwsgi.ini whose every database connection is refused; yields its port."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": role_without_connections, "INFINITY_DEBUG": request.param}
    env.pop("REDIS_URL", None)  # the rate-limit counters in the database too: the API's first query
    process = subprocess.Popen(
        [UWSGI, "--ini", "infinity/uwsgi.ini", "--http-socket", f"127.0.0.1:{port}", "--processes", "1"],
        cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                get(port, "/api/health")
                break
            except OSError:
                time.sleep(0.2)
        assert process.poll() is None
        yield port
    finally:
        process.kill()
        process.wait(timeout=30)


def assert_unavailable(status, headers, body, request_id):
    assert status == 503
    assert headers["Retry-After"] == "1"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"error": {"code": "SERVICE_UNAVAILABLE",
                                          "message": "The database is busy or unreachable; retry shortly",
                                          "request_id": request_id}}


def test_the_api_answers_503_with_retry_after(starved_server):
    answer = get(starved_server, "/api/public/data/customers", **{"X-API-Key": "inf_abcdefgh_" + "x" * 43,
                                                                   "X-Request-ID": "starved-1"})

    assert_unavailable(*answer, "starved-1")


def test_the_admin_answers_503_with_retry_after(starved_server):
    answer = get(starved_server, "/admin/", **{"X-Request-ID": "starved-2", "Cookie": f"sessionid={'s' * 32}"})

    assert_unavailable(*answer, "starved-2")


def test_the_health_check_still_says_degraded(starved_server):
    status, _, body = get(starved_server, "/api/health")

    assert (status, json.loads(body)["status"]) == (503, "degraded")
