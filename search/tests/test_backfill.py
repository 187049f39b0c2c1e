"""`manage.py embeddings backfill`: fills missing and stale vectors, and resumes after
being killed."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from datamodels import services

from .conftest import embedding_field, execute, fetch

ROOT = Path(__file__).resolve().parents[2]


def backfill(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("embeddings", "backfill", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def make_docs(count: int):
    docs = services.data_model_create(name="docs", fields=[
        {"name": "title", "type": "text"}, {"name": "body", "type": "long_text"},
        {"name": "embedding", "type": "vector", "dimensions": 384, "source_fields": ["title", "body"]}])
    title = docs.fields.get(name="title").column
    execute(f"INSERT INTO dm_{docs.pk} (id, {title}) SELECT 'rec_' || lpad(i::text, 26, '0'), 'document number ' || i "
            "FROM generate_series(1, %s) i", [count])
    return docs


def vectors_filled(docs) -> int:
    return fetch(f"SELECT count({embedding_field(docs).column}) FROM dm_{docs.pk}")[0][0]


@pytest.mark.django_db
def test_backfill_fills_missing_vectors_then_has_nothing_to_do():
    docs = make_docs(30)
    execute(f"INSERT INTO dm_{docs.pk} (id) VALUES ('rec_empty')")  # no text: no vector, but not waiting
    out, err = backfill("docs", "--batch", "8")
    assert out == "docs.embedding: 30 vector(s) computed, 1 record(s) without text.\n"
    assert "docs.embedding [##############################] 31/31 (100%" in err
    assert vectors_filled(docs) == 30
    assert fetch("SELECT count(*) FROM search_vectorstate") == [(31,)]
    assert backfill()[0] == "docs.embedding: 0 vector(s) computed, 0 record(s) without text.\n"


@pytest.mark.django_db
def test_changing_source_fields_marks_vectors_stale():
    docs = make_docs(5)
    backfill("docs")
    field = embedding_field(docs)
    before = fetch(f"SELECT {field.column}::text FROM dm_{docs.pk} ORDER BY id")
    services.field_update(field=field, source_fields=["body", "title"])
    assert backfill("docs")[0].startswith("docs.embedding: 0 vector(s)")  # stale, not missing
    out, _ = backfill("docs", "--field", "embedding", "--stale")
    assert out == "docs.embedding: 5 vector(s) computed, 0 record(s) without text.\n"
    # Same text in another order of fields is the same text here (body is empty): same vectors.
    assert fetch(f"SELECT {field.column}::text FROM dm_{docs.pk} ORDER BY id") == before
    assert backfill("docs", "--stale")[0].startswith("docs.embedding: 0 vector(s)")


@pytest.mark.django_db
def test_another_backend_makes_vectors_stale(settings, openai_backend):
    settings.INFINITY = {**settings.INFINITY, "EMBEDDINGS": "local"}
    docs = make_docs(4)
    backfill("docs")
    execute(f"DELETE FROM dm_{docs.pk} WHERE id = 'rec_' || lpad('4', 26, '0')")
    settings.INFINITY = {**settings.INFINITY, "EMBEDDINGS": "openai"}
    from search.services import pending_count
    from datamodels.dynamic import current_schema

    entry = current_schema().get("docs")
    assert pending_count(entry, entry.by_name["embedding"], stale=False) == 0
    assert pending_count(entry, entry.by_name["embedding"]) == 3
    out, _ = backfill("docs", "--stale")
    assert out == "docs.embedding: 3 vector(s) computed, 0 record(s) without text.\n"
    assert [len(r["body"]["input"]) for r in openai_backend.requests] == [2, 1]  # batched
    assert fetch("SELECT count(*) FROM search_vectorstate") == [(3,)]  # the deleted record's is gone


@pytest.mark.django_db
@pytest.mark.parametrize("args, message", [
    (["nope"], 'Unknown model "nope"'),
    (["--field", "embedding"], "--field needs MODEL"),
    (["docs", "--field", "title"], '"title" is not a vector field with source_fields of "docs"'),
    (["docs", "--batch", "0"], "--batch must be at least 1"),
])
def test_bad_arguments(args, message):
    make_docs(1)
    with pytest.raises(CommandError, match=f"^{message}$"):
        backfill(*args)
    assert fetch("SELECT count(*) FROM search_vectorstate") == [(0,)]


@pytest.mark.django_db(transaction=True)
def test_backfill_resumes_after_being_killed():
    docs = make_docs(300)
    env = {**os.environ, "INFINITY_DB_NAME": connection.settings_dict["NAME"]}  # this test's database
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    process = subprocess.Popen([sys.executable, "manage.py", "embeddings", "backfill", "docs", "--batch", "1"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while fetch("SELECT count(*) FROM search_vectorstate")[0][0] < 10 and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    done = fetch("SELECT count(*) FROM search_vectorstate")[0][0]
    assert 10 <= done < 300 and vectors_filled(docs) == done
    out, _ = backfill("docs")
    assert out == f"docs.embedding: {300 - done} vector(s) computed, 0 record(s) without text.\n"
    assert vectors_filled(docs) == 300
