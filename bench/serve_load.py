"""`make run-load`: does `make run` hold under load? Real HTTP against `manage.py serve`.

Starts `manage.py serve` exactly as `make run` does (uWSGI over the embedded PostgreSQL,
INFINITY_DEBUG=1) on a free port, makes a throwaway data model and API key, and drives
it with CLIENTS concurrent clients (default 64) for SECONDS (default 60), each creating,
listing, reading and deleting records over keep-alive connections. Prints what every
request answered; exits 1 if any answer was not the expected one (a 500, a 503, a reset
connection). infinity/tests/test_serve.py drives the same loop for a few seconds.

    CLIENTS=64 SECONDS=60 .venv/bin/python -m bench.serve_load
"""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {"POST": 201, "GET": 200, "DELETE": 200}
FIELDS = [{"name": "name", "type": "text", "required": True}, {"name": "total", "type": "number"}]


@dataclass
class Tally:
    """What the server answered, by request and status; the first few unexpected answers."""

    answers: Counter = field(default_factory=Counter)
    cycles: Counter = field(default_factory=Counter)
    unexpected: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, status, body: bytes = b"") -> bool:
        good = status == EXPECTED[method]
        with self.lock:
            self.answers[(method, status)] += 1
            if not good and len(self.unexpected) < 20:
                self.unexpected.append((method, status, body[:300]))
        return good

    @property
    def errors(self) -> int:
        return sum(n for (method, status), n in self.answers.items() if status != EXPECTED[method])

    @property
    def requests(self) -> int:
        return sum(self.answers.values())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _call(conn: http.client.HTTPConnection, method: str, path: str, key: str, body: dict | None = None):
    payload = json.dumps(body).encode() if body is not None else None
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as error:
        conn.close()  # the next request opens a new connection
        return type(error).__name__, b""


def _client(number: int, port: int, key: str, model: str, until: float, tally: Tally) -> None:
    """One client: create, list, read and delete records until `until`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    base = f"/api/public/data/{model}"
    cycle = 0
    while time.monotonic() < until:
        cycle += 1
        status, body = _call(conn, "POST", base, key, {"name": f"c{number}-{cycle}", "total": cycle})
        if not tally.add("POST", status, body):
            continue
        record = json.loads(body)["data"]["id"]
        for path in (f"{base}?limit=10&sort=total:desc", f"{base}/{record}"):
            status, body = _call(conn, "GET", path, key)
            tally.add("GET", status, body)
        status, body = _call(conn, "DELETE", f"{base}/{record}", key)
        if tally.add("DELETE", status, body):
            tally.cycles[number] += 1
    conn.close()


def drive(port: int, key: str, model: str, *, clients: int, seconds: float) -> Tally:
    """`clients` concurrent clients for `seconds` (each finishes the cycle it is in)."""
    tally = Tally()
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=_client, args=(n, port, key, model, until, tally), daemon=True)
               for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 300)
    return tally


def start_serve(port: int, env: dict, log) -> subprocess.Popen:
    """`manage.py serve` as `make run` starts it; returns once its banner (`.banner`) is printed."""
    process = subprocess.Popen([sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
                               cwd=ROOT, env={"INFINITY_DEBUG": "1", **env}, stdout=subprocess.PIPE,
                               stderr=log, text=True, start_new_session=True)
    deadline, banner = time.monotonic() + 180, []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise RuntimeError(f"manage.py serve exited with status {process.returncode}")
        banner.append(line)
        if line.startswith("  Login:"):
            process.banner = "".join(banner)
            threading.Thread(target=process.stdout.read, daemon=True).start()  # drain the request log
            return process
    stop_serve(process)
    raise RuntimeError("manage.py serve printed no banner within 180 s")


def stop_serve(process: subprocess.Popen) -> int:
    """Ctrl-C, as a developer stops it (the whole process group, as a terminal does)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


def report(tally: Tally, clients: int, seconds: float) -> str:
    lines = [f"{clients} clients, {seconds:g} s: {tally.requests} requests, {tally.errors} unexpected answers, "
             f"{sum(tally.cycles.values())} create/list/get/delete cycles "
             f"(fewest by one client: {min(tally.cycles.values(), default=0)})"]
    lines += [f"  {method} {status}: {n}" for (method, status), n in sorted(tally.answers.items(), key=str)]
    lines += [f"  unexpected: {method} {status} {body!r}" for method, status, body in tally.unexpected]
    return "\n".join(lines)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infinity.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from accounts.services import apikey_revoke
    from datamodels import services

    clients, seconds = int(os.environ.get("CLIENTS", 64)), float(os.environ.get("SECONDS", 60))
    model = services.data_model_create(name=f"load_{os.getpid()}", fields=FIELDS)
    out = io.StringIO()
    call_command("apikey", "create", "--name", model.name, "--rate-limit", "1000000000/m", stdout=out)
    key = out.getvalue().splitlines()[-1]
    connections.close_all()
    process = start_serve(free_port(), dict(os.environ), sys.stderr)
    try:
        port = int(process.args[process.args.index("--port") + 1])
        tally = drive(port, key, model.name, clients=clients, seconds=seconds)
    finally:
        stop_serve(process)
        apikey_revoke(prefix=key[:12])
        services.data_model_delete(data_model=model)
    print(report(tally, clients, seconds))
    return 1 if tally.errors or not tally.requests else 0


if __name__ == "__main__":
    sys.exit(main())
