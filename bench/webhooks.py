"""`python -m bench.webhooks` (run by `make bench` after bench.run): what webhooks cost and how fast they go.

On the bench database (bench.setup_data's `customers`), with the production server
(uWSGI, as bench.run starts it) and one delivery worker (`manage.py webhooks work`, or
`celery -A infinity worker --beat` with REDIS_URL), to a receiver in this process:

- R5 (single creates, wrk) with no webhook, then with one active webhook on the model
  (needs wrk; targets ≥ 95 % of R5 before the change feed, and ≥ 75 % of that), the
  worker running in both (started before, idle in the first); then how long until every
  change of that run is delivered (the worker runs at INFINITY_WORKER_NICE);
- a burst of BENCH_BURST changes (default 10,000) as bulk creates of 1,000: time until
  all are received, deliveries per second (target: within 60 s);
- BENCH_RATE changes per second (default 100) for BENCH_RATE_SECONDS (default 10):
  commit-to-receipt latency p50/p99 (target p99 < 1 s), commit = the create's response.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import orjson

from bench.run import (PORT, PY, ROOT, database_info, remove_created, requests_under_test, run_wrk, shutil,
                       start_server)

BURST = int(os.environ.get("BENCH_BURST", 10_000))
RATE = int(os.environ.get("BENCH_RATE", 100))
RATE_SECONDS = float(os.environ.get("BENCH_RATE_SECONDS", 10))
R5_SECONDS = int(os.environ.get("BENCH_DURATION", 10))
REPEATS = int(os.environ.get("BENCH_REPEATS", 3))
BASE = f"http://127.0.0.1:{PORT}"


class Receiver:
    """Counts deliveries by record id and when each first arrived.

    A minimal HTTP/1.1 server on asyncio (keep-alive, Content-Length bodies, 204 answers):
    it stands for a receiver on another machine, so it takes as little of this machine's
    CPU as it can (http.server's parsing cost about 0.2 ms per delivery, a third of what
    the worker spends).
    """

    def __init__(self):
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        ready.wait(10)
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._connection, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = orjson.loads(await reader.readexactly(length))
                with self.lock:
                    self.arrived.setdefault(body["data"]["id"], time.time())
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def wait_for(self, ids, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if all(i in self.arrived for i in ids):
                    return True
            time.sleep(0.01)
        return False


def call(method: str, path: str, key: str, body=None) -> dict:
    request = urllib.request.Request(f"{BASE}{path}", method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"X-API-Key": key, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def r5_possible() -> bool:
    return shutil.which("wrk") is not None


def r5(info: dict, workdir: Path) -> float:
    url, script, _ = requests_under_test(info)["R5"]
    lua = workdir / script  # run_wrk writes it, with a fresh nonce
    run_wrk(url, info["key"], lua, 2)
    return run_wrk(url, info["key"], lua, R5_SECONDS)["rps"]


def drain_seconds(conninfo: dict) -> float:
    """Seconds from the end of a run until every change it made is delivered (no change waits in
    the feed, no delivery is pending): the worker runs below the requests' priority
    (INFINITY_WORKER_NICE) and catches up once the load stops."""
    import psycopg

    dsn = f"host={conninfo['host']} port={conninfo['port']} user={conninfo['user']} dbname={conninfo['db']}"
    password = conninfo["env"].get("PGPASSWORD")
    started = time.monotonic()
    with psycopg.connect(dsn, autocommit=True, **({"password": password} if password else {})) as conn:
        while time.monotonic() - started < 300:
            waiting = conn.execute("SELECT (SELECT count(*) FROM datamodels_recordchange WHERE consumer = 'webhooks') "
                                   "+ (SELECT count(*) FROM webhooks_delivery WHERE status = 'pending')").fetchone()[0]
            if not waiting:
                break
            time.sleep(0.05)
    return round(time.monotonic() - started, 2)


def burst(info: dict, receiver: Receiver) -> dict:
    started, ids = time.time(), []
    for start in range(0, BURST, 1000):
        items = [{"name": "Burst", "email": f"b{start + i}-{started}@example.com", "status": "active", "total": 1}
                 for i in range(min(1000, BURST - start))]
        ids += [r["id"] for r in call("POST", "/api/public/data/customers", info["key"], items)["data"]]
    written = time.time()
    done = receiver.wait_for(ids, 300)
    last = max(receiver.arrived.get(i, time.time()) for i in ids)
    return {"changes": len(ids), "all_received": done, "seconds": round(last - started, 2),
            "writes_seconds": round(written - started, 2),
            "per_second": round(len(ids) / (last - started), 1)}


def steady(info: dict, receiver: Receiver) -> dict:
    committed: dict[str, float] = {}
    began = time.monotonic()
    for n in range(int(RATE * RATE_SECONDS)):
        time.sleep(max(0.0, began + n / RATE - time.monotonic()))
        record = call("POST", "/api/public/data/customers", info["key"],
                      {"name": "Steady", "email": f"s{n}-{began}@example.com", "status": "active", "total": 1})
        committed[record["data"]["id"]] = time.time()
    receiver.wait_for(list(committed), 60)
    latencies = sorted(receiver.arrived[i] - t for i, t in committed.items() if i in receiver.arrived)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else None
    return {"changes": len(committed), "received": len(latencies),
            "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
            "p99_ms": round(p99 * 1000, 1) if p99 is not None else None}


def start_worker(env: dict) -> subprocess.Popen:
    if env.get("REDIS_URL"):
        command = [PY, "-m", "celery", "-A", "infinity", "worker", "--beat", "--loglevel=WARNING",
                   "-s", str(Path(tempfile.gettempdir()) / "infinity-bench-beat")]
        if os.environ.get("BENCH_CELERY_CONCURRENCY"):  # Celery's default: one process per core
            command += ["--concurrency", os.environ["BENCH_CELERY_CONCURRENCY"]]
    else:
        command = [PY, "manage.py", "webhooks", "work"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def main() -> None:
    count = int(os.environ.get("N", 100_000))
    env = {**os.environ, "INFINITY_DEBUG": "0", "INFINITY_LOG_LEVEL": "ERROR", "INFINITY_WEBHOOK_ALLOW_PRIVATE": "1"}
    if not os.environ.get("DATABASE_URL"):
        env["INFINITY_DB_NAME"] = "infinity_bench"
    setup = subprocess.run([PY, "-m", "bench.setup_data", str(count)], cwd=ROOT, env=env, capture_output=True, text=True)
    if setup.returncode:
        sys.exit(f"bench.webhooks: setup failed:\n{setup.stderr[-3000:]}")
    info = json.loads(setup.stdout.strip().splitlines()[-1])
    if not os.environ.get("DATABASE_URL"):  # hold the embedded server for the whole run, as bench.run does
        from infinity.embedded import ensure_server

        ensure_server(Path(os.environ.get("INFINITY_VAR_DIR", ROOT / "var")) / "pgdata", env["INFINITY_DB_NAME"])
    receiver, server, hook = Receiver(), start_server(env), None
    worker = start_worker(env)  # idle until a webhook watches: running in both R5s, started outside them
    try:
        with tempfile.TemporaryDirectory() as tmp:
            time.sleep(5)
            hook = call("POST", "/api/webhooks", info["key"],
                        {"url": receiver.url, "events": ["record.created", "record.updated", "record.deleted"],
                         "models": ["customers"], "active": False})["data"]
            pairs = []  # (without, with, caught up): alternated, as the VM's speed wanders
            for _ in range(REPEATS if r5_possible() else 0):
                without = r5(info, Path(tmp))
                call("PATCH", f"/api/webhooks/{hook['id']}", info["key"], {"active": True})
                watched = r5(info, Path(tmp))
                pairs.append((without, watched, drain_seconds(database_info(env))))
                call("PATCH", f"/api/webhooks/{hook['id']}", info["key"], {"active": False})
            call("PATCH", f"/api/webhooks/{hook['id']}", info["key"], {"active": True})
        results = {"r5": pairs, "burst": burst(info, receiver),
                   "steady": steady(info, receiver), "broker": "Celery on Redis" if env.get("REDIS_URL") else "in-process"}
    finally:
        if hook:
            call("DELETE", f"/api/webhooks/{hook['id']}", info["key"])
        for process in (worker, server):
            if process is not None:
                process.terminate()
                process.wait(10)
        remove_created(info, database_info(env))  # bench.run finds N rows again
    print(report(results))


def report(r: dict) -> str:
    b, s, pairs = r["burst"], r["steady"], r["r5"]
    lines = [f"Webhooks ({r['broker']})", "", "| measure | value |", "|---|---:|"]
    if pairs:
        median = statistics.median
        runs = "; ".join(f"{w:.0f} / {h:.0f} ({h / w:.0%})" for w, h, _ in pairs)
        lines += [
            f"| R5 without / with one active webhook, median of {len(pairs)} alternated runs (req/s) | "
            f"{median(p[0] for p in pairs):.0f} / {median(p[1] for p in pairs):.0f} "
            f"({median(p[1] / p[0] for p in pairs):.0%}) |",
            f"| the runs (without / with) | {runs} |",
            f"| after each R5 with the webhook: all its changes delivered within (s) | "
            f"{', '.join(str(p[2]) for p in pairs)} |",
        ]
    else:
        lines.append("| R5 | — (needs wrk) |")
    return "\n".join(lines + [
        f"| burst of {b['changes']:,} changes: all received | {b['all_received']} in {b['seconds']} s |",
        f"| burst deliveries per second | {b['per_second']:,} (the writes took {b['writes_seconds']} s) |",
        f"| steady {RATE}/s for {RATE_SECONDS:.0f} s: commit→receipt p50 / p99 (ms) | {s['p50_ms']} / {s['p99_ms']} "
        f"({s['received']}/{s['changes']} received) |",
    ])


if __name__ == "__main__":
    main()
