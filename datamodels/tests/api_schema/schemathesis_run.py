"""Run `schemathesis run /api/schema --checks all` as a user would, against the production server.

`production_server` starts uWSGI (infinity/uwsgi.ini) on this test run's database, with
rate limits high enough that no 429 hides an answer; `schemathesis` runs the installed
command from the repository root, so `schemathesis.toml` there applies exactly as by
hand, and returns its JSON report. Runs are bounded and deterministic:
`SCHEMATHESIS_MAX_EXAMPLES` (default 5 per operation) raises the bound to dig deeper.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

BIN = Path(sys.executable).parent
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "5")
UNLIMITED = "100000000/m"  # the most a rate limit allows: the run never meets a 429
ALL_PHASES = "examples,coverage,fuzzing,stateful"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def production_server(database_url: str, log: Path):
    """uWSGI with two workers on `database_url`, its output in `log`; yields its base URL, stops it afterwards."""
    port = free_port()
    # Webhook URLs may name 127.0.0.1 (the hooks give valid creates one: no DNS, no network).
    env = {**os.environ, "DATABASE_URL": database_url, "INFINITY_DEBUG": "0",
           "INFINITY_RATE_LIMIT": UNLIMITED, "INFINITY_AUTH_RATE_LIMIT": UNLIMITED,
           "INFINITY_WEBHOOK_ALLOW_PRIVATE": "1"}
    env.pop("REDIS_URL", None)  # counters in the test database, never in a shared Redis
    # A file, not a pipe: thousands of requests log enough to fill a pipe nobody reads, and block the server.
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(BIN / "uwsgi"), "--ini", "infinity/uwsgi.ini", "--http-socket", f"127.0.0.1:{port}",
             "--processes", "2"], cwd=settings.BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def _wait_until_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    assert process.poll() is None, log.read_text()[-2000:]
    raise AssertionError("uWSGI did not answer /api/health within 60 s")


def schemathesis(url: str, tmp_path: Path, *options: str, phases: str = ALL_PHASES) -> dict:
    """`schemathesis run <url>/api/schema --checks all ...`; the JSON report, after showing the output on failure."""
    report = tmp_path / "schemathesis.json"
    command = [str(BIN / "schemathesis"), "run", f"{url}/api/schema", "--checks", "all", "--phases", phases,
               "--max-examples", MAX_EXAMPLES, "--generation-deterministic", "--workers", "1",
               "--request-timeout", "30", "--no-color", "--report", "json", "--report-json-path", str(report),
               *options]
    log = tmp_path / "schemathesis.log"  # the command's own output, to follow a long run with `tail -f`
    with log.open("w") as output:
        result = subprocess.run(command, cwd=settings.BASE_DIR, stdout=output, stderr=subprocess.STDOUT,
                                timeout=1800)
    assert result.returncode == 0, log.read_text()[-16000:]
    return json.loads(report.read_text())
