"""A real Infinity server for the client's tests: uWSGI on this run's test database.

One server is started per test session (on first use) and shared; each test commits
its own models, keys and users (`committed_schema`, a transactional database), which
the server sees as any production server would. Every client a test makes records its
requests and responses through httpx event hooks, so a test can count exactly what
went over the wire.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from accounts.services import apikey_create
from datamodels import services
from datamodels.tests.conftest import _schema_state_after_flush, committed_schema  # noqa: F401 (fixtures)

UWSGI = Path(sys.executable).parent / "uwsgi"
MAX_BODY_BYTES = 16384  # small, so a 413 needs no 10 MiB body (and the server reads it whole: no reset)
FAST_RATE = "100000/m"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_database_url() -> str:
    """A DATABASE_URL for this run's test database (created by `django_db_setup`)."""
    db = connection.settings_dict
    port = f":{db['PORT']}" if db["PORT"] else ""
    credentials = f"{quote(db['USER'])}:{quote(db['PASSWORD'] or '')}"
    return f"postgres://{credentials}@{quote(db['HOST'], safe='')}{port}/{db['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


def _healthy(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return conn.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def server_environment() -> dict:
    """The environment of the test server and its webhook worker: this run's database, no Redis."""
    env = {**os.environ, "DATABASE_URL": test_database_url(), "INFINITY_DEBUG": "0",
           "INFINITY_SECRET_KEY": settings.SECRET_KEY,  # JWTs and cursors signed alike in both processes
           "INFINITY_MAX_BODY_BYTES": str(MAX_BODY_BYTES), "INFINITY_AUTH_RATE_LIMIT": "1000/m",
           "INFINITY_WEBHOOK_ALLOW_PRIVATE": "1"}  # deliveries go to a receiver on 127.0.0.1
    env.pop("REDIS_URL", None)  # counters in the test database, never in a shared Redis
    return env


@pytest.fixture(scope="session")
def server_url(django_db_setup):
    """The base URL of a uWSGI server (two workers) serving the test database; stopped at the end."""
    port = free_port()
    env = server_environment()
    # `--http` as the README says for uWSGI facing clients, with keep-alive so the client's
    # pool reuses connections. `--post-buffering`: without it the router drops a kept-alive
    # connection now and then after an answer given before the body was read (a 401 to a
    # POST), and the next request on it gets no answer (reported to the lead).
    command = [str(UWSGI), "--ini", "infinity/uwsgi.ini", "--http", f"127.0.0.1:{port}", "--http-keepalive",
               "--post-buffering", "65536", "--processes", "2"]
    process = subprocess.Popen(command,
        cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None and not _healthy(port):
        time.sleep(0.2)
    if process.poll() is not None or not _healthy(port):
        process.kill()
        pytest.fail("Infinity did not start: " + process.stderr.read().decode()[-2000:])
    yield f"http://127.0.0.1:{port}"
    # SIGTERM (`die-on-term`): the master stops its workers, whose database connections would
    # otherwise outlive a killed master and keep the test database from being dropped.
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Users made here need a password; the real hasher is slow on purpose (login tests use it)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class Wire:
    """What a client sent and received, in order, from its httpx event hooks."""

    def __init__(self):
        self.requests: list = []
        self.responses: list = []
        self.times: list[tuple[str, float]] = []  # ("request" | "response", monotonic time)

    def hooks(self) -> dict:
        return {"request": [self._request], "response": [self._response]}

    def _request(self, request):
        self.requests.append(request)
        self.times.append(("request", time.monotonic()))

    def _response(self, response):
        self.responses.append(response)
        self.times.append(("response", time.monotonic()))

    async def _arequest(self, request):
        self._request(request)

    async def _aresponse(self, response):
        self._response(response)

    def async_hooks(self) -> dict:
        return {"request": [self._arequest], "response": [self._aresponse]}

    @property
    def statuses(self) -> list[int]:
        return [r.status_code for r in self.responses]


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def customers(committed_schema):
    """A data model `customers` with a required, a unique, a select, a number, a boolean and a date field."""
    return services.data_model_create(name="customers", fields=[
        {"name": "name", "type": "text", "required": True, "max_length": 200},
        {"name": "email", "type": "email", "unique": True},
        {"name": "status", "type": "select", "choices": ["active", "inactive"], "default": "active"},
        {"name": "total", "type": "number"},
        {"name": "vip", "type": "boolean", "default": False},
        {"name": "joined", "type": "date"},
        {"name": "notes", "type": "long_text"},
    ])


@pytest.fixture
def api_key(committed_schema, superuser) -> str:
    """A raw all-scopes key of `superuser`, with a limit no test reaches."""
    return apikey_create(user=superuser, name="client tests", rate_limit=FAST_RATE)[1]


@pytest.fixture
def make_client(server_url, api_key, wire):
    """`make_client(**options)`: a `Client` on the test server whose traffic `wire` records; closed after."""
    from infinity_client import Client

    made = []

    def make(**options):
        options.setdefault("api_key", api_key)
        options.setdefault("base_url", server_url)
        options.setdefault("event_hooks", wire.hooks())
        made.append(Client(**options))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client):
    return make_client()


def rows(data_model, where: str = "", params=()) -> list[tuple]:
    """Rows of a model's table by raw SQL: (id, then each field's column in definition order)."""
    columns = ", ".join(f'"{f.column}"' for f in data_model.fields.order_by("pk"))
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT id, {columns} FROM "{data_model.db_table}" {where} ORDER BY id', params)
        return cursor.fetchall()


def count(data_model) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{data_model.db_table}"')
        return cursor.fetchone()[0]
