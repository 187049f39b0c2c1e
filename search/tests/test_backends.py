"""Embedding backends: the local model against sentence-transformers' own vectors, and the
`openai` backend against a real local server speaking the embeddings protocol."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from search import local_model
from search.backends import EmbeddingUnavailable, backend

pytestmark = pytest.mark.django_db  # the suite-wide fixtures clear counters in the test database

REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text())


def cosine(a, b) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def test_local_model_matches_sentence_transformers():
    """The numpy runtime gives sentence-transformers' vectors (kept in tests/data, made once
    with sentence-transformers 6.3 and torch 2.13 from the same packaged model)."""
    made = backend()
    assert (made.name, made.dimensions, made.identity) == ("local", 384, "local:all-MiniLM-L6-v2")
    vectors = made.embed(REFERENCE["sentences"])
    assert len(vectors) == len(REFERENCE["sentences"]) == 12
    for sentence, ours, theirs in zip(REFERENCE["sentences"], vectors, REFERENCE["vectors"]):
        assert len(ours) == 384
        assert cosine(ours, theirs) >= 0.9999, sentence[:40]
        assert abs(math.sqrt(sum(x * x for x in ours)) - 1) < 1e-5  # unit length


def test_local_model_order_and_batching_do_not_change_vectors():
    made = backend()
    alone = made.embed(["comfortable office chair"])[0]
    in_batch = made.embed(["x " * 300, "comfortable office chair", "bananas"])[1]
    assert cosine(alone, in_batch) > 0.99999


def test_local_model_loads_once_with_its_thread_limit():
    from threadpoolctl import threadpool_info

    first = local_model.get_model(1)
    assert local_model.get_model(1) is first
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas)


def test_openai_backend_batches_and_authenticates(openai_backend):
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    vectors = backend().embed(texts)
    assert [len(r["body"]["input"]) for r in openai_backend.requests] == [2, 2, 1]  # EMBEDDINGS_BATCH = 2
    assert {r["path"] for r in openai_backend.requests} == {"/v1/embeddings"}
    assert {r["auth"] for r in openai_backend.requests} == {"Bearer sk-test"}
    assert openai_backend.requests[0]["body"] == {"model": "test-model", "input": ["a", "bb"]}
    # Answers come back out of order (by `index`): each vector still matches its text; unit length.
    norm = math.sqrt((len(texts[0]) + 1) ** 2 + 383)
    assert vectors[0][0] == pytest.approx(2 / norm)
    assert [round(v[0] * math.sqrt((len(t) + 1) ** 2 + 383)) for v, t in zip(vectors, texts)] == [2, 3, 4, 5, 6]


def test_openai_backend_retries_server_errors(openai_backend):
    openai_backend.answers = [(500, {"error": {"message": "overloaded"}}, 0), (429, {}, 0), (200, None, 0)]
    assert len(backend().embed(["hello"])) == 1
    assert len(openai_backend.requests) == 3


def test_openai_backend_gives_up_after_its_attempts(openai_backend):
    openai_backend.answers = [(503, {"error": {"message": "down for maintenance"}}, 0)]
    with pytest.raises(EmbeddingUnavailable) as raised:
        backend().embed(["hello"])
    assert len(openai_backend.requests) == 3
    assert raised.value.message == ("The embedding backend (openai:test-model:384) answered HTTP 503: "
                                    "down for maintenance")
    assert raised.value.status == 503


def test_openai_backend_does_not_retry_a_refusal(openai_backend):
    openai_backend.answers = [(401, {"error": {"message": "Incorrect API key provided"}}, 0)]
    with pytest.raises(EmbeddingUnavailable, match="answered HTTP 401: Incorrect API key provided"):
        backend().embed(["hello"])
    assert len(openai_backend.requests) == 1


def test_openai_backend_times_out_on_a_slow_answer(openai_backend):
    openai_backend.answers = [(200, None, 2.0)]  # EMBEDDINGS_TIMEOUT is 0.5 s
    with pytest.raises(EmbeddingUnavailable, match=r"gave no answer within 0.5 s"):
        backend().embed(["hello"], attempts=1)
    assert len(openai_backend.requests) == 1


@pytest.mark.parametrize("answer, message", [
    ({"data": "nope"}, "sent a malformed answer"),
    ({"data": [{"index": 0, "embedding": [1.0, 2.0]}]}, "sent 1 vector(s) of 2 numbers for 1 text(s); expected 384"),
])
def test_openai_backend_refuses_a_wrong_answer(openai_backend, answer, message):
    openai_backend.answers = [(200, answer, 0)]
    with pytest.raises(EmbeddingUnavailable, match=message.replace("(", r"\(").replace(")", r"\)")):
        backend().embed(["hello"])


def test_openai_backend_unreachable(settings, embeddings_server):
    url = embeddings_server.url
    embeddings_server.close()  # nothing listens on that port any more
    settings.INFINITY = {**settings.INFINITY, "EMBEDDINGS": "openai", "EMBEDDINGS_URL": url,
                         "EMBEDDINGS_DIMENSIONS": 384, "EMBEDDINGS_MODEL": "m", "EMBEDDINGS_ATTEMPTS": 2}
    with pytest.raises(EmbeddingUnavailable, match=r"cannot connect \(ConnectError\)"):
        backend().embed(["hello"])


def test_unknown_openai_model_needs_its_dimensions(settings):
    settings.INFINITY = {**settings.INFINITY, "EMBEDDINGS": "openai", "EMBEDDINGS_MODEL": "nomic-embed-text",
                         "EMBEDDINGS_DIMENSIONS": 0}
    with pytest.raises(ValueError, match="INFINITY_EMBEDDINGS_DIMENSIONS must say how many numbers nomic-embed-text"):
        backend()
