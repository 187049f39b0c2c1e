"""`manage.py records` as a separate process: progress bars, exit codes, and an import killed halfway."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

import pytest
from django.conf import settings

from datamodels import services
from datamodels.rowcount import row_count

from .conftest import fetch


def command(database_url: str, *args) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "INFINITY_DEBUG": "0"}
    return subprocess.Popen([sys.executable, "manage.py", "records", *args], cwd=settings.BASE_DIR, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture
def people(committed_schema):
    return services.data_model_create(name="people", fields=[
        {"name": "name", "type": "text", "required": True},
        {"name": "email", "type": "email", "unique": True},
    ])


def test_import_and_export_show_progress_and_exit_cleanly(people, database_url, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("name,email\n" + "".join(f"P{i},p{i}@example.com\n" for i in range(500)))

    imported = command(database_url, "import", "people", str(source))
    out, err = imported.communicate(timeout=120)
    exported = command(database_url, "export", "people", "-o", str(tmp_path / "out.jsonl"))
    out2, err2 = exported.communicate(timeout=120)
    refused = command(database_url, "import", "people", str(source))
    out3, err3 = refused.communicate(timeout=120)

    assert imported.returncode == 0 and out.decode().strip() == "Imported 500 record(s) into people: 500 created, 0 updated."
    assert b"100%" in err and b"records=500" in err
    assert exported.returncode == 0 and b"500/500" in err2
    assert len((tmp_path / "out.jsonl").read_bytes().splitlines()) == 500
    assert refused.returncode == 1
    assert err3.decode().strip().splitlines()[-1] == f"CommandError: 500 problem(s) in {source} (the first 100 are listed); nothing was imported."
    assert row_count(people.pk) == 500


def test_an_import_killed_halfway_writes_nothing(people, database_url, tmp_path):
    source = tmp_path / "big.csv"
    with source.open("w") as file:
        file.write("name,email\n")
        for i in range(300_000):
            file.write(f"Person {i},p{i}@example.com\n")
    process = command(database_url, "import", "people", str(source), "--batch", "1000")

    seen = _wait_for_progress(process)
    process.kill()
    process.wait(timeout=30)

    assert b"records=" in seen  # it was importing when killed
    assert fetch(f'SELECT count(*) FROM "{people.db_table}"') == [(0,)]
    assert row_count(people.pk) == 0


def _wait_for_progress(process: subprocess.Popen) -> bytes:
    """stderr until the progress bar has counted records (at most 60 s)."""
    seen, deadline = b"", time.monotonic() + 60
    while b"records=" not in seen and time.monotonic() < deadline and process.poll() is None:
        ready, _, _ = select.select([process.stderr], [], [], 0.5)
        if ready:
            seen += os.read(process.stderr.fileno(), 65536)
    return seen
