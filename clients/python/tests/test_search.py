"""`models.X.search` and `similar` against the real search endpoints.

Most tests search a vector field the client sets itself (no `source_fields`), by
vector, so no embedding model is loaded; the last one embeds with the real local model
and searches by text.
"""

from __future__ import annotations

import pytest

from datamodels import services
from infinity_client import NotFound, Record, ValidationError

# Unit vectors in 3-D: their cosine similarity to EAST is their first component.
POINTS = [
    {"label": "east", "kind": "a", "vec": [1.0, 0.0, 0.0]},
    {"label": "north-east", "kind": "b", "vec": [0.8, 0.6, 0.0]},
    {"label": "up-east", "kind": "a", "vec": [0.6, 0.0, 0.8]},
    {"label": "west", "kind": "b", "vec": [-1.0, 0.0, 0.0]},
]
EAST = [1.0, 0.0, 0.0]


@pytest.fixture
def points(client, committed_schema):
    """A model with a client-set 3-D vector field and the four POINTS; {label: id}."""
    services.data_model_create(name="points", fields=[
        {"name": "label", "type": "text", "required": True},
        {"name": "kind", "type": "select", "choices": ["a", "b"]},
        {"name": "vec", "type": "vector", "dimensions": 3},
    ])
    return {record["label"]: record.id for record in client.models.points.create(POINTS)}


def ranked(records) -> list[tuple[str, float]]:
    return [(r["label"], round(r["similarity"], 4)) for r in records]


def test_search_by_vector_ranks_and_thresholds(client, points, wire):
    found = client.models.points.search(vector=EAST, threshold=0.5)
    request = wire.requests[-1]
    assert (request.method, request.url.path, request.content) == (
        "POST", "/api/public/data/points/search", b'{"vector":[1.0,0.0,0.0],"threshold":0.5}')
    assert all(isinstance(r, Record) for r in found)
    assert ranked(found) == [("east", 1.0), ("north-east", 0.8), ("up-east", 0.6)]
    assert list(found[0]) == ["id", "similarity", "created_at", "updated_at", "label", "kind"]  # vectors: only by `fields`
    assert found[0].id == points["east"]

    assert ranked(client.models.points.search(vector=EAST)) == [("east", 1.0), ("north-east", 0.8)]  # default 0.7
    assert ranked(client.models.points.search(vector=EAST, threshold=0.5, limit=2)) == [
        ("east", 1.0), ("north-east", 0.8)]
    assert ranked(client.models.points.search(vector=[-1, 0, 0], threshold=0.9)) == [("west", 1.0)]


def test_search_filter_and_fields(client, points):
    found = client.models.points.search(vector=EAST, threshold=0, filter={"kind": "a"}, fields=["label"])
    assert [dict(r) for r in found] == [{"similarity": 1.0, "label": "east"},
                                        {"similarity": pytest.approx(0.6, abs=1e-4), "label": "up-east"}]


def test_similar_leaves_the_record_out(client, points, wire):
    assert ranked(client.models.points.similar(points["east"])) == [("north-east", 0.8), ("up-east", 0.6)]
    assert (wire.requests[-1].method, wire.requests[-1].url.path) == (
        "GET", f"/api/public/data/points/{points['east']}/similar")
    assert ranked(client.models.points.similar(points["east"], limit=1)) == [("north-east", 0.8)]
    with pytest.raises(NotFound) as missing:
        client.models.points.similar("rec_nope")
    assert missing.value.status == 404


def test_bad_searches_are_validation_errors(client, points, customers):
    with pytest.raises(ValidationError) as short:
        client.models.points.search(vector=[1.0, 0.0])
    assert short.value.details == [{"field": "vector", "message": "Must have exactly 3 numbers"}]
    with pytest.raises(ValidationError) as threshold:
        client.models.points.search(vector=EAST, threshold=2)
    assert threshold.value.details == [{"field": "threshold", "message": "Must be a number between 0 and 1"}]
    with pytest.raises(ValidationError) as not_vector:
        client.models.points.search(vector=EAST, field="label")
    assert not_vector.value.details == [
        {"field": "field", "message": '"label" is not a vector field of "points" (one of: vec)'}]
    with pytest.raises(ValidationError) as no_vectors:
        client.models.customers.search(vector=EAST)
    assert no_vectors.value.details == [
        {"field": "field", "message": 'The model "customers" has no vector field to search'}]
    with pytest.raises(TypeError):
        client.models.points.search()
    with pytest.raises(TypeError):
        client.models.points.search("east", vector=EAST)


def test_search_by_text_with_the_local_model(client, committed_schema):
    """The server embeds the query with all-MiniLM-L6-v2; the records' vectors are computed here,
    as the embedding job would (the test server runs no background work)."""
    from search.services import embed_records

    model = services.data_model_create(name="products", fields=[
        {"name": "name", "type": "text", "required": True},
        {"name": "description", "type": "long_text"},
        {"name": "embedding", "type": "vector", "dimensions": 384, "source_fields": ["name", "description"]},
    ])
    created = client.models.products.create([
        {"name": "Office chair", "description": "Ergonomic office chair with lumbar support and adjustable armrests"},
        {"name": "Bananas", "description": "A bunch of ripe organic bananas from Ecuador"},
        {"name": "Bike", "description": "Lightweight road bike with carbon frame and 22 gears"},
    ])
    embed_records(field_id=model.fields.get(name="embedding").pk, record_ids=[r.id for r in created])

    found = client.models.products.search("comfortable office chair", limit=5, threshold=0.3)
    assert found[0]["name"] == "Office chair" and found[0].id == created[0].id
    assert "Bananas" not in [r["name"] for r in found]
    assert [r["name"] for r in client.models.products.search("ergonomic office chair with lumbar support")] == [
        "Office chair"]  # the default threshold, 0.7, keeps only close matches
