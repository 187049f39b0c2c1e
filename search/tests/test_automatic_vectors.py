"""Computed vectors follow their text through the change feed: written in the background
by the embedding worker, batched, latest text wins, failures retried and visible."""

from __future__ import annotations

import threading
import time

import pytest

from datamodels import services
from datamodels.changes import changes_pending
from search import feed, worker
from search.models import VectorFieldStatus, VectorState

from .conftest import embedding_field, execute, fetch

pytestmark = pytest.mark.django_db(transaction=True)  # the feed holds committed changes only


@pytest.fixture(autouse=True)
def fresh_sync():
    feed._synced["stamp"] = None
    yield
    feed._synced["stamp"] = None


@pytest.fixture
def docs():
    model = services.data_model_create(name="docs", fields=[
        {"name": "title", "type": "text"}, {"name": "body", "type": "long_text"}, {"name": "views", "type": "integer"},
        {"name": "embedding", "type": "vector", "dimensions": 384, "source_fields": ["title", "body"]}])
    feed.sync_interests()
    return model


def vector_of(model, record_id):
    rows = fetch(f"SELECT {embedding_field(model).column}::text FROM dm_{model.pk} WHERE id = %s", [record_id])
    return rows[0][0]


def text_of_vector(client, model, record_id, candidates):
    """Which candidate text the stored vector is (searching by the vector itself)."""
    from search.backends import backend

    stored = [float(x) for x in vector_of(model, record_id).strip("[]").split(",")]
    made = backend().embed(candidates)
    scores = [sum(a * b for a, b in zip(stored, v)) for v in made]
    return candidates[scores.index(max(scores))], max(scores)


def test_create_and_source_edit_embed_unrelated_edit_does_not(key_client, docs):
    record = key_client.post("/api/public/data/docs", {"title": "Standing desk", "views": 1}, format="json")
    assert record.status_code == 201  # answered before any vector exists
    rid = record.json()["data"]["id"]
    assert vector_of(docs, rid) is None and changes_pending(consumer="search") == 1
    assert feed.process_changes().embedded == 1
    first = VectorState.objects.get(record_id=rid)
    assert text_of_vector(key_client, docs, rid, ["Standing desk", "Bananas"])[0] == "Standing desk"

    key_client.patch(f"/api/public/data/docs/{rid}", {"views": 2}, format="json")  # not a source field
    assert changes_pending(consumer="search") == 0
    assert feed.process_changes().changes == 0
    assert VectorState.objects.get(record_id=rid).embedded_at == first.embedded_at

    key_client.patch(f"/api/public/data/docs/{rid}", {"body": "ripe yellow bananas"}, format="json")
    assert changes_pending(consumer="search") == 1
    assert feed.process_changes().embedded == 1
    assert text_of_vector(key_client, docs, rid, ["Standing desk", "Standing desk\nripe yellow bananas"])[0] == \
        "Standing desk\nripe yellow bananas"
    assert changes_pending(consumer="search") == 0


def test_two_quick_edits_end_on_the_latest_text(key_client, docs):
    rid = key_client.post("/api/public/data/docs", {"title": "office chair"}, format="json").json()["data"]["id"]
    key_client.patch(f"/api/public/data/docs/{rid}", {"title": "mountain bike"}, format="json")
    key_client.patch(f"/api/public/data/docs/{rid}", {"title": "bananas"}, format="json")
    feed.drain()
    assert text_of_vector(key_client, docs, rid, ["office chair", "mountain bike", "bananas"]) == \
        ("bananas", pytest.approx(1.0, abs=1e-5))


def test_an_edit_while_its_old_text_is_embedded_wins(key_client, docs, openai_backend):
    """The job read "office chair"; the record became "bananas" before its vector was stored:
    that vector is dropped, and the edit's own change stores the latest one."""
    feed._synced["stamp"] = None
    rid = key_client.post("/api/public/data/docs", {"title": "office chair"}, format="json").json()["data"]["id"]
    title = docs.fields.get(name="title").column
    edited = threading.Event()

    def edit_during_the_first_request(texts):
        if not edited.is_set():
            edited.set()
            from django.db import connection as thread_connection

            with thread_connection.cursor() as cursor:  # another session, committed at once
                cursor.execute(f"UPDATE dm_{docs.pk} SET {title} = 'bananas' WHERE id = %s", [rid])
            thread_connection.close()

    openai_backend.on_request = edit_during_the_first_request
    first = feed.process_changes()
    assert first.changes == 1 and first.embedded == 0  # computed for a text the record no longer holds
    assert vector_of(docs, rid) is None
    assert feed.process_changes().embedded == 1
    assert [r["body"]["input"] for r in openai_backend.requests] == [["office chair"], ["bananas"]]


def test_bulk_writes_are_embedded_in_batches(key_client, docs, openai_backend):
    body = [{"title": f"item {i}"} for i in range(50)]
    assert key_client.post("/api/public/data/docs", body, format="json").status_code == 201
    openai_backend.requests.clear()
    openai_backend.on_request = None
    outcome = feed.drain()
    assert outcome.embedded == 50
    # EMBEDDINGS_BATCH is 2 in these settings: 25 calls, each with two texts, none one by one.
    assert [len(r["body"]["input"]) for r in openai_backend.requests] == [2] * 25
    assert fetch(f"SELECT count({embedding_field(docs).column}) FROM dm_{docs.pk}") == [(50,)]


def test_a_failed_embedding_is_retried_and_visible_and_never_blocks_writes(key_client, docs, openai_backend):
    openai_backend.answers = [(500, {"error": {"message": "model overloaded"}}, 0)]
    response = key_client.post("/api/public/data/docs", {"title": "Lamp"}, format="json")
    assert response.status_code == 201
    rid = response.json()["data"]["id"]
    outcome = feed.process_changes()
    assert outcome.error == "The embedding backend (openai:test-model:384) answered HTTP 500: model overloaded"
    status = VectorFieldStatus.objects.get(field=embedding_field(docs))
    assert (status.last_error, status.failures) == (outcome.error, 1)
    assert changes_pending(consumer="search") == 1  # back in the feed
    assert vector_of(docs, rid) is None
    openai_backend.answers = [(200, None, 0)]
    assert feed.process_changes().embedded == 1
    assert changes_pending(consumer="search") == 0 and vector_of(docs, rid) is not None
    assert VectorFieldStatus.objects.get(field=embedding_field(docs)).failures == 0


def test_a_new_computed_field_catches_up_on_existing_records(key_client):
    notes = services.data_model_create(name="notes", fields=[{"name": "text", "type": "text"}])
    column = notes.fields.get(name="text").column
    execute(f"INSERT INTO dm_{notes.pk} (id, {column}) VALUES ('rec_a', 'hello'), ('rec_b', 'world')")
    services.field_create(data_model=notes, name="embedding", type="vector", dimensions=384, source_fields=["text"])
    feed.drain()
    assert fetch(f"SELECT count({embedding_field(notes).column}) FROM dm_{notes.pk}") == [(2,)]


def test_the_worker_thread_embeds_within_seconds(key_client, docs):
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), kwargs={"poll": 0.5}, daemon=True)
    thread.start()
    try:
        rid = key_client.post("/api/public/data/docs", {"title": "office chair"}, format="json").json()["data"]["id"]
        deadline = time.monotonic() + 60
        while vector_of(docs, rid) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert vector_of(docs, rid) is not None
        response = key_client.get("/api/public/data/docs/search", {"query": "office chair", "fields": "title"})
        assert response.json()["data"] == [{"similarity": pytest.approx(1.0, abs=1e-5), "title": "office chair"}]
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()


def test_manage_py_serve_embeds_with_no_second_command(key_client, docs, database_url):
    """`make run` serves with `manage.py serve`: its embedding worker runs in the same process."""
    import os
    import socket
    import subprocess
    import sys

    from django.conf import settings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": ""}
    server = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port)], cwd=settings.BASE_DIR,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        rid = key_client.post("/api/public/data/docs", {"title": "served chair"}, format="json").json()["data"]["id"]
        deadline = time.monotonic() + 90
        while vector_of(docs, rid) is None and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.1)
        assert vector_of(docs, rid) is not None
    finally:
        server.kill()
        server.wait(timeout=30)
