"""`make bench`'s import/export step: `manage.py records` beside PostgreSQL's own COPY.

N customers (default 1,000,000; the fields of `bench.setup_data`) are written to a CSV
file with ids and timestamps, as an export writes them. On a model of their own
(`bench_transfer`, dropped and made again) it times:

- import: PostgreSQL's `COPY … FROM STDIN (FORMAT csv, HEADER)` of that file (then
  TRUNCATE), against `manage.py records import bench_transfer FILE`;
- export: `COPY "dm_<id>" TO STDOUT (FORMAT csv, HEADER)` into a file, against
  `manage.py records export bench_transfer -o FILE` as CSV and as JSON Lines;

and the peak RSS of each command process (its rusage). Targets: import ≥ 50 % of COPY's
rate, export ≥ 70 %, peak memory < 200 MB. Run alone: `BENCH_TRANSFER_N=20000 python -m bench.transfer`
(the benchmark database, as `bench.run` uses). Prints a Markdown table; `bench.run`
appends it to its report.

`python -m bench.transfer --in-process [N]` times the import and export functions
themselves (no process start-up), each beside its COPY, in turns, best of three; every
import rolled back as the raw COPY is, and the table vacuumed after each: steadier
ratios on a busy machine.
"""

import datetime
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infinity.settings")
if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("INFINITY_DB_NAME", "infinity_bench")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from ulid import ULID  # noqa: E402

from datamodels import services  # noqa: E402
from datamodels.dynamic import current_schema  # noqa: E402
from datamodels.models import DataModel  # noqa: E402
from datamodels.transfer.exports import plan_for, stream  # noqa: E402
from datamodels.transfer.imports import records_import  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODEL = "bench_transfer"
FIELDS = [
    {"name": "name", "type": "text", "required": True},
    {"name": "email", "type": "email", "unique": True},
    {"name": "status", "type": "select", "choices": ["active", "inactive", "pending"], "default": "active"},
    {"name": "total", "type": "number", "indexed": True},
]
STATUSES = ["active", "inactive", "pending"]
TARGETS = {"import": 0.5, "export": 0.7}
MEMORY_TARGET_MB = 200


def fresh_model():
    existing = DataModel.objects.filter(name=MODEL).first()
    if existing is not None:
        services.data_model_delete(data_model=existing)
    services.data_model_create(name=MODEL, fields=FIELDS)
    return current_schema().get(MODEL)


def write_csv(path: Path, count: int) -> None:
    """The file both sides import: as `records export` writes customers (ids, ISO timestamps)."""
    rng = random.Random(42)
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write("id,created_at,updated_at,name,email,status,total\n")
        for i in range(count):
            created = start + datetime.timedelta(seconds=i * 7)
            stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
            file.write(f"rec_{ULID.from_datetime(created)},{stamp},{stamp},Customer {i},c{i}@example.com,"
                       f"{STATUSES[i % 3]},{round(rng.uniform(0, 1000), 2)}\n")


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def raw_copy_from(entry, path: Path) -> None:
    columns = ", ".join(["id", "created_at", "updated_at", *(f'"{entry.by_name[f["name"]].column}"' for f in FIELDS)])
    table = entry.definition.db_table
    with connection.cursor() as cursor, open(path, "rb") as source:
        with cursor.copy(f'COPY "{table}" ({columns}) FROM STDIN (FORMAT csv, HEADER)') as copy:
            while block := source.read(1 << 16):
                copy.write(block)


def raw_copy_to(entry, path: Path) -> None:
    with connection.cursor() as cursor, open(path, "wb") as target:
        with cursor.copy(f'COPY "{entry.definition.db_table}" TO STDOUT (FORMAT csv, HEADER)') as copy:
            for block in copy:
                target.write(block)


def truncate(entry) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'TRUNCATE "{entry.definition.db_table}"')


def command(*args) -> tuple[float, float]:
    """Run `manage.py records ARGS`: (seconds, peak RSS in MB of the process)."""
    with tempfile.TemporaryFile() as log:  # the progress bar: a pipe left unread would stall the command
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "manage.py", "records", *args], cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=log)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            log.seek(0)
            sys.exit(f"bench.transfer: records {' '.join(args)} failed:\n{log.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024  # Linux: kilobytes


def measure(count: int, workdir: Path) -> list[dict]:
    entry = fresh_model()
    source = workdir / "customers.csv"
    write_csv(source, count)
    raw_in = timed(lambda: raw_copy_from(entry, source))
    truncate(entry)
    ours_in, memory_in = command("import", MODEL, str(source))
    raw_out = timed(lambda: raw_copy_to(entry, workdir / "raw.csv"))
    rows = [{"step": "import CSV", "target": "import", "pg": raw_in, "ours": ours_in, "mb": memory_in}]
    for fmt in ("csv", "jsonl"):
        seconds, memory = command("export", MODEL, "-o", str(workdir / f"out.{fmt}"))
        rows.append({"step": f"export {fmt.upper() if fmt == 'csv' else 'JSON Lines'}", "target": "export",
                     "pg": raw_out, "ours": seconds, "mb": memory})
    return rows


def report(rows: list[dict], count: int, in_process: bool = False) -> str:
    ours = "the import/export functions, in process" if in_process else "`manage.py records`"
    lines = [f"Import and export, N = {count:,} customers ({ours} against PostgreSQL's COPY)", "",
             "| step | records/s | COPY records/s | ratio (target) | peak memory (target < 200 MB) |",
             "|---|---:|---:|---:|---:|"]
    for row in rows:
        ratio = row["pg"] / row["ours"]
        target = TARGETS[row["target"]]
        memory = f"{row['mb']:.0f} MB ({'met' if row['mb'] < MEMORY_TARGET_MB else 'missed'})" if row["mb"] else "-"
        lines.append(f"| {row['step']} | {count / row['ours']:,.0f} | {count / row['pg']:,.0f} | "
                     f"{ratio:.0%} ({'met' if ratio >= target else 'missed'} ≥ {target:.0%}) | {memory} |")
    return "\n".join(lines)


def best_of_alternated(ours, theirs, times: int = 3) -> tuple[float, float]:
    """Best of `times` for each, run in turns, so a machine that slows down or speeds up
    part way through weighs on both alike."""
    best_ours = best_theirs = float("inf")
    for _ in range(times):
        best_theirs = min(best_theirs, timed(theirs))
        best_ours = min(best_ours, timed(ours))
    return best_ours, best_theirs


def rolled_back(action, entry) -> None:
    """`action` in a transaction rolled back, then VACUUM: the next load must not find the
    table and its unique indexes full of the last one's dead rows (at 1,000,000 rows those
    made each later load slower, and the raw COPY always went first)."""
    with transaction.atomic():
        action()
        transaction.set_rollback(True)
    with connection.cursor() as cursor:
        cursor.execute(f'VACUUM "{entry.definition.db_table}"')


def import_in_process(source: Path) -> None:
    with open(source, "rb") as file:
        result = records_import(model=MODEL, source=file, fmt="csv")
    if not result.ok:
        sys.exit(f"bench.transfer: the import was refused: {result.problems[:3]}")


def export_in_process(entry, fmt: str, path: Path) -> None:
    with open(path, "wb") as target:
        for block in stream(plan_for(entry, fmt, sort=[("id", False)])):
            target.write(block)


def measure_in_process(count: int, workdir: Path) -> list[dict]:
    """The same steps as `measure`, timed around the functions the command calls."""
    entry = fresh_model()
    source = workdir / "customers.csv"
    write_csv(source, count)
    ours_in, raw_in = best_of_alternated(lambda: rolled_back(lambda: import_in_process(source), entry),
                                         lambda: rolled_back(lambda: raw_copy_from(entry, source), entry))
    rows = [{"step": "import CSV", "target": "import", "pg": raw_in, "ours": ours_in, "mb": 0}]
    raw_copy_from(entry, source)
    for fmt in ("csv", "jsonl"):
        seconds, raw_out = best_of_alternated(lambda fmt=fmt: export_in_process(entry, fmt, workdir / f"out.{fmt}"),
                                              lambda: raw_copy_to(entry, workdir / "raw.csv"))
        rows.append({"step": f"export {fmt.upper() if fmt == 'csv' else 'JSON Lines'}", "target": "export",
                     "pg": raw_out, "ours": seconds, "mb": 0})
    return rows


def main() -> None:
    in_process = "--in-process" in sys.argv
    args = [arg for arg in sys.argv[1:] if arg != "--in-process"]
    count = int(args[0]) if args else int(os.environ.get("BENCH_TRANSFER_N", os.environ.get("N", 1_000_000)))
    call_command("migrate", verbosity=0)
    with tempfile.TemporaryDirectory() as tmp:
        rows = (measure_in_process if in_process else measure)(count, Path(tmp))
    services.data_model_delete(data_model=DataModel.objects.get(name=MODEL))
    print(report(rows, count, in_process))


if __name__ == "__main__":
    main()
