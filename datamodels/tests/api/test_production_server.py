"""The records API as the production server serves it: uWSGI with infinity/uwsgi.ini.

Started as the README says (`--http-socket`) on the test database, it passes the API
reference's raw query strings (`filter=total:>100`) as sent, reads large request
headers, stores a create, answers every response with its length, and stops on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from accounts.services import apikey_create
from datamodels import records, services
from datamodels.dynamic import current_schema

from .conftest import fetch

UWSGI = Path(sys.executable).parent / "uwsgi"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def send(port: int, head: str, body: bytes = b"") -> tuple[int, dict, bytes]:
    """One raw HTTP/1.1 exchange, bytes as given (no client library re-encodes the URL)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    header, _, content = data.partition(b"\r\n\r\n")
    status_line, *lines = header.decode().split("\r\n")
    headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines)}
    return int(status_line.split()[1]), headers, content


def request(port: int, method: str, target: str, key: str, body: dict | None = None, extra: str = ""):
    payload = json.dumps(body).encode() if body is not None else b""
    head = (f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n{extra}"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n")
    return send(port, head, payload)


@pytest.fixture
def production_server(committed_schema, database_url):
    """uWSGI as in production, two workers, on this run's test database; yields its port."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "INFINITY_DEBUG": "0"}
    env.pop("REDIS_URL", None)  # counters in the test database, never in a shared Redis
    process = subprocess.Popen(
        [str(UWSGI), "--ini", "infinity/uwsgi.ini", "--http-socket", f"127.0.0.1:{port}", "--processes", "2"],
        cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if send(port, "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    assert process.poll() is None, process.stderr.read().decode()[-2000:]
    yield port, process
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


@pytest.fixture
def gadgets(committed_schema, superuser):
    model = services.data_model_create(name="gadgets", fields=[
        {"name": "name", "type": "text", "required": True},
        {"name": "total", "type": "number"},
    ])
    entry = current_schema().get("gadgets")
    for name, total in [("small", 50), ("large", 150), ("huge", 250)]:
        records.record_create(entry=entry, data={"name": name, "total": total})
    _, key = apikey_create(user=superuser, name="production", rate_limit="100000/m")
    return model, key


def test_the_references_raw_filters_pass_as_sent(production_server, gadgets):
    port, _ = production_server
    model, key = gadgets

    status, headers, body = request(port, "GET", "/api/public/data/gadgets?filter=total:>100&sort=total:desc", key)

    assert status == 200
    assert [r["name"] for r in json.loads(body)["data"]] == ["huge", "large"]
    assert int(headers["content-length"]) == len(body)
    assert headers["x-ratelimit-remaining"] == "99999"


def test_large_request_headers_are_read(production_server, gadgets):
    port, _ = production_server
    _, key = gadgets

    status, _, body = request(port, "GET", "/api/public/data/gadgets?limit=1", key, extra=f"X-Note: {'x' * 20000}\r\n")

    assert status == 200 and json.loads(body)["pagination"]["total"] == 3


def test_a_create_is_stored_and_errors_keep_the_envelope(production_server, gadgets):
    port, _ = production_server
    model, key = gadgets

    created = request(port, "POST", "/api/public/data/gadgets", key, {"name": "new", "total": 1})
    refused = request(port, "POST", "/api/public/data/gadgets", key, {"total": "lots"})
    missing = request(port, "GET", "/api/public/data/gadgets/rec_nope", key)

    assert created[0] == 201
    record = json.loads(created[2])["data"]
    assert fetch(f'SELECT count(*) FROM "{model.db_table}" WHERE id = %s', [record["id"]]) == [(1,)]
    assert (refused[0], json.loads(refused[2])["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert (missing[0], json.loads(missing[2])["error"]["code"]) == (404, "NOT_FOUND")
    assert fetch(f'SELECT count(*) FROM "{model.db_table}"') == [(4,)]


def test_sigterm_stops_the_server(production_server):
    _, process = production_server

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=30) is not None
