"""Fixtures for webhook tests: a real HTTP receiver on loopback, compressed schedules, a watched model.

Changes are committed for real (the feed writes at commit), so every test here is a
transactional one; deliveries are driven by `delivery.pump()` (the code both the
Celery task and the in-process worker run) or by real worker processes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from datamodels import services as dm_services
from datamodels.tests.conftest import _schema_state_after_flush, committed_schema  # noqa: F401 (fixtures)

SCHEDULE = "0.2,0.2,0.2"  # three retries, a fifth of a second apart (jittered)


class Received:
    """One request the receiver got."""

    def __init__(self, handler, body: bytes):
        self.path, self.body = handler.path, body
        self.headers = {name.lower(): value for name, value in handler.headers.items()}
        self.json = json.loads(body) if body else None


class Receiver:
    """A real HTTP server on 127.0.0.1: records every request, answers from a script (200 by default)."""

    def __init__(self):
        self.requests: list[Received] = []
        self.script: list[tuple[int, dict, float]] = []  # (status, headers, seconds to wait first)
        self.hold = threading.Event()  # set: requests answer at once; clear: they wait for it (bounded)
        self.hold.set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(Received(self, body))
                    status, headers, delay = receiver.script.pop(0) if receiver.script else (200, {}, 0)
                receiver.hold.wait(60)
                time.sleep(delay)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout: float = 30.0, pump=None) -> list[Received]:
        """The first `count` requests, waiting (and pumping, if given) at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            if pump is not None:
                pump()
            time.sleep(0.05)
        assert len(self.requests) >= count, f"got {len(self.requests)} of {count} requests"
        return self.requests[:count]

    def close(self):
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def wh_settings(settings):
    """Loopback allowed, retries compressed, a webhook disabled only after an hour of failures."""
    settings.INFINITY = {**settings.INFINITY, "WEBHOOK_ALLOW_PRIVATE": True, "WEBHOOK_RETRY_SCHEDULE": SCHEDULE,
                         "WEBHOOK_SWEEP_SECONDS": 0.5, "WEBHOOK_DISABLE_AFTER": 3600.0, "WEBHOOK_CONCURRENCY": 4}
    return settings


@pytest.fixture
def orders(committed_schema, wh_settings):
    """A model `orders` (name, qty, note)."""
    return dm_services.data_model_create(name="orders", fields=[
        {"name": "name", "type": "text", "required": True},
        {"name": "qty", "type": "integer"},
        {"name": "note", "type": "text"},
    ])


@pytest.fixture
def api(make_api_key) -> APIClient:
    """A client with an all-scopes key of a superuser and a limit no test reaches."""
    _, raw = make_api_key(rate_limit="1000000/m")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    return client


def make_hook(api, url: str, **body) -> dict:
    response = api.post("/api/webhooks", {"url": url, "events": ["record.created", "record.updated",
                                                                 "record.deleted"], **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["data"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def worker_env(database_url: str, **extra) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url, "INFINITY_WEBHOOK_ALLOW_PRIVATE": "1",
           "INFINITY_WEBHOOK_RETRY_SCHEDULE": SCHEDULE, "INFINITY_WEBHOOK_SWEEP_SECONDS": "0.5",
           "INFINITY_DEBUG": "0", **extra}
    return env


def start_worker(database_url: str, *, celery: bool = False, beat_file=None, **extra) -> subprocess.Popen:
    """A real delivery worker process: Celery on Redis, or `manage.py webhooks work`."""
    if celery:
        command = [sys.executable, "-m", "celery", "-A", "infinity", "worker", "--beat", "--loglevel=WARNING",
                   "--concurrency=2", "-s", str(beat_file)]  # prefork, as in production
    else:
        command = [sys.executable, "manage.py", "webhooks", "work"]
        extra.setdefault("REDIS_URL", "")
    # Its own process group: Celery forks beat and pool processes, which must die with it.
    return subprocess.Popen(command, cwd=django_settings.BASE_DIR, env=worker_env(database_url, **extra),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the process and every process it started (as a machine losing power would)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def stop(process: subprocess.Popen) -> None:
    kill_group(process)
