"""`python -m bench.search`: semantic search's speed and quality (README "Semantic search").

In a separate database (`infinity_bench_search` on the embedded server), loads N
`articles` (default 100,000; `N=…`) with COPY: a title, a `category` of 100 values
(a filter on one keeps 1 % of rows) and a 384-number vector, clustered like real
embeddings. Then, with the production server (uWSGI as in bench.run) and the
embedding worker (`manage.py embeddings work`) running:

- query embedding by the local model alone, p50/p99 (distinct texts: no cache);
- search through the API: by vector (POST) and by text (GET, embedding included), p50/p99;
- recall@10 against an exact scan, unfiltered and with the 1 % filter (pages full);
- the local backend's embedding throughput, batched (records per second), with its
  configured threads (`INFINITY_EMBEDDINGS_THREADS`, 1 by default) and with 2;
- commit-to-searchable: 10 creates per second of a model with a computed vector, and the
  time from each 201 until its vector is stored, p50/p99.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from bench.run import ROOT, start_server

PY = sys.executable
PORT = int(os.environ.get("BENCH_PORT", 8775))
QUERIES = int(os.environ.get("BENCH_QUERIES", 200))
WRITES = int(os.environ.get("BENCH_WRITES", 200))  # at 10 per second
CATEGORIES, CLUSTERS, DIMENSIONS = 100, 1000, 384


def setup(count: int) -> dict:
    """Runs in a child process inside Django: the models, the data, an API key."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infinity.settings")
    django.setup()
    import numpy as np
    from django.core.management import call_command
    from django.db import connection

    from accounts.services import apikey_create, default_owner
    from datamodels import services
    from datamodels.dynamic import current_schema
    from datamodels.models import DataModel

    call_command("migrate", verbosity=0)
    for name in ("articles", "notes"):
        existing = DataModel.objects.filter(name=name).first()
        if existing is not None:
            services.data_model_delete(data_model=existing)
    services.data_model_create(name="articles", fields=[
        {"name": "title", "type": "text"},
        {"name": "category", "type": "select", "choices": [f"c{i}" for i in range(CATEGORIES)], "indexed": True},
        {"name": "embedding", "type": "vector", "dimensions": DIMENSIONS}])
    services.data_model_create(name="notes", fields=[
        {"name": "text", "type": "text"},
        {"name": "embedding", "type": "vector", "dimensions": DIMENSIONS, "source_fields": ["text"]}])
    entry = current_schema().get("articles")
    rng = np.random.default_rng(7)
    centers = rng.normal(size=(CLUSTERS, DIMENSIONS)).astype(np.float32)
    columns = ["id", entry.by_name["title"].column, entry.by_name["category"].column, entry.by_name["embedding"].column]
    with connection.cursor() as cursor, cursor.copy(
            f'COPY "{entry.definition.db_table}" ({", ".join(columns)}) FROM STDIN') as copy:
        for start in range(0, count, 10_000):
            size = min(10_000, count - start)
            vectors = centers[rng.integers(0, CLUSTERS, size)] + rng.normal(scale=0.6, size=(size, DIMENSIONS))
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            for offset, vector in enumerate(vectors):
                i = start + offset
                copy.write_row((f"rec_{i:026d}", f"article {i}", f"c{i % CATEGORIES}",
                                "[" + ",".join(f"{x:.6f}" for x in vector) + "]"))
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{entry.definition.db_table}"')
    queries = centers[rng.integers(0, CLUSTERS, QUERIES)] + rng.normal(scale=0.6, size=(QUERIES, DIMENSIONS))
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    _, key = apikey_create(user=default_owner(), name="bench-search", rate_limit="1000000/s")
    return {"key": key, "table": entry.definition.db_table, "column": entry.by_name["embedding"].column,
            "category": entry.by_name["category"].column, "queries": queries.round(6).tolist()}


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1)}


def timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def exact_ids(conn, info: dict, vector: list[float], category: str | None) -> list[str]:
    """The true 10 nearest at or above similarity 0 (the API's lowest threshold)."""
    where = f"AND {info['category']} = %s" if category else ""
    with conn.transaction():
        conn.execute("SET LOCAL enable_indexscan = off")  # an exact scan, the truth
        rows = conn.execute(f"SELECT id FROM {info['table']} WHERE 1 - ({info['column']} <=> %s::vector) >= 0 {where} "
                            f"ORDER BY {info['column']} <=> %s::vector LIMIT 10",
                            [str(vector), *([category] if category else []), str(vector)]).fetchall()
    return [row[0] for row in rows]


def recall(got: list[str], exact: list[str]) -> float:
    return len(set(got) & set(exact)) / len(exact) if exact else 1.0


def search_quality(client: httpx.Client, conn, info: dict) -> dict:
    """Latency of searches by vector, and recall@10 with and without the 1 % filter."""
    latencies, recalls, filtered_recalls, full = [], [], [], 0
    for index, vector in enumerate(info["queries"]):
        elapsed, response = timed(lambda: client.post("/articles/search?threshold=0&fields=id", json={"vector": vector}))
        latencies.append(elapsed)
        got = [item["id"] for item in response.json()["data"]]
        recalls.append(recall(got, exact_ids(conn, info, vector, None)))
        category = f"c{index % CATEGORIES}"
        response = client.post(f"/articles/search?threshold=0&fields=id&filter=category:{category}",
                               json={"vector": vector})
        got, exact = [item["id"] for item in response.json()["data"]], exact_ids(conn, info, vector, category)
        full += len(got) == len(exact)  # as many as match (10 when at least 10 do)
        filtered_recalls.append(recall(got, exact))
    return {"search_by_vector": percentiles(latencies), "recall_at_10": round(statistics.mean(recalls), 3),
            "recall_at_10_filtered_1pct": round(statistics.mean(filtered_recalls), 3),
            "filtered_full_pages": f"{full}/{len(info['queries'])}"}


def search_by_text(client: httpx.Client) -> dict:
    client.get("/articles/search", params={"query": "warm up the model"})
    samples = [timed(lambda: client.get("/articles/search", params={"query": f"news about topic {i}",
                                                                    "threshold": 0}))[0]
               for i in range(QUERIES // 4)]
    return percentiles(samples)


def commit_to_searchable(client: httpx.Client, conn, info: dict) -> dict:
    """10 creates per second; for each, the time from its 201 until its vector is stored."""
    column = conn.execute("SELECT 'f_' || f.id, 'dm_' || m.id FROM datamodels_field f JOIN datamodels_datamodel m "
                          "ON m.id = f.data_model_id WHERE m.name = 'notes' AND f.name = 'embedding'").fetchone()
    written: dict[str, float] = {}
    seen: dict[str, float] = {}
    done = threading.Event()

    def watch():
        while not done.is_set() or len(seen) < len(written):
            pending = [rid for rid in written if rid not in seen]
            if pending:
                rows = conn.execute(f"SELECT id FROM {column[1]} WHERE id = ANY(%s) AND {column[0]} IS NOT NULL",
                                    [pending]).fetchall()
                now = time.perf_counter()
                for (rid,) in rows:
                    seen[rid] = now
            time.sleep(0.01)
            if done.is_set() and time.perf_counter() - last[0] > 60:
                break

    last = [time.perf_counter()]
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    for i in range(WRITES):
        response = client.post("/notes", json={"text": f"a note about subject {i} and its details"})
        written[response.json()["data"]["id"]] = last[0] = time.perf_counter()
        time.sleep(max(0.0, 0.1 - (time.perf_counter() - last[0])))
    done.set()
    watcher.join(timeout=90)
    return {**percentiles([seen[rid] - written[rid] for rid in written if rid in seen]),
            "stored": f"{len(seen)}/{len(written)}"}


def embedding_throughput() -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infinity.settings")
    import django

    django.setup()
    from threadpoolctl import threadpool_limits

    from search.backends import backend

    texts = [f"Product {i}: ergonomic office chair with lumbar support, adjustable armrests and a warranty"
             for i in range(512)]
    made = backend()
    made.embed(texts[:8])
    elapsed, _ = timed(lambda: made.embed(texts))
    single = [timed(lambda: made.embed([f"a short query number {i}"]))[0] for i in range(50)]
    with threadpool_limits(limits=2):  # the same model on both cores (INFINITY_EMBEDDINGS_THREADS=2)
        made.embed(texts[:8])
        elapsed_2, _ = timed(lambda: made.embed(texts))
    return {"threads": getattr(made, "threads", None), "records_per_second": round(len(texts) / elapsed),
            "records_per_second_2_threads": round(len(texts) / elapsed_2), "query_embedding": percentiles(single)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "setup":
        print(json.dumps(setup(int(sys.argv[2]))))
        return
    count = int(os.environ.get("N", 100_000))
    env = {**os.environ, "INFINITY_DEBUG": "0", "INFINITY_LOG_LEVEL": "ERROR"}
    if not os.environ.get("DATABASE_URL"):
        env["INFINITY_DB_NAME"] = "infinity_bench_search"
    print(f"bench.search: loading {count:,} articles…", flush=True)
    made = subprocess.run([PY, "-m", "bench.search", "setup", str(count)], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    if made.returncode:
        sys.exit(f"bench.search: setup failed:\n{made.stderr[-3000:]}")
    info = json.loads(made.stdout.strip().splitlines()[-1])
    os.environ.update({k: v for k, v in env.items() if k == "INFINITY_DB_NAME"})
    results = {"N": count, "local_backend": embedding_throughput()}
    from django.db import connection

    connection.ensure_connection()
    import psycopg

    conn = psycopg.connect(**{k: v for k, v in connection.get_connection_params().items()
                              if k in ("host", "port", "user", "dbname", "password")}, autocommit=True)
    server = start_server(env, port=PORT)
    worker = subprocess.Popen([PY, "manage.py", "embeddings", "work"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        # uWSGI's --http-socket answers one request per connection: no keep-alive.
        with httpx.Client(base_url=f"http://127.0.0.1:{PORT}/api/public/data", timeout=60,
                          headers={"X-API-Key": info["key"]}, limits=httpx.Limits(max_keepalive_connections=0)) as client:
            results.update(search_quality(client, conn, info))
            results["search_by_text"] = search_by_text(client)
            results["commit_to_searchable"] = commit_to_searchable(client, conn, info)
    finally:
        for process in (worker, server):
            process.terminate()
            process.wait(10)
    print(json.dumps(results, indent=2))
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / f"{time.strftime('%Y%m%d-%H%M%S')}-search-N{count}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
