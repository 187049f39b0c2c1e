"""GET/POST /api/public/data/{model}/search and /{model}/{id}/similar, through real HTTP
with the real local model."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from datamodels import services

from .conftest import embedding_field, execute, fetch

pytestmark = pytest.mark.django_db
URL = "/api/public/data/products/search"


def names(response) -> list[str]:
    return [item["name"] for item in response.json()["data"]]


def test_office_chair_ranks_first_and_threshold_drops_unrelated(key_client, products):
    response = key_client.get(URL, {"query": "comfortable office chair", "threshold": "0.3"})
    assert response.status_code == 200
    data = response.json()["data"]
    assert data[0]["name"] == "Office chair"
    assert data[0]["id"] == products["Office chair"]
    assert list(data[0]) == ["id", "similarity", "created_at", "updated_at", "name", "description", "category", "code"]
    similarities = [item["similarity"] for item in data]
    assert similarities == sorted(similarities, reverse=True)
    assert all(s >= 0.3 for s in similarities)
    assert "Bananas" not in names(response)  # unrelated: below even a low threshold
    # The default threshold, 0.7, keeps only close matches.
    strict = key_client.get(URL, {"query": "ergonomic office chair with lumbar support"})
    assert names(strict) == ["Office chair"]
    assert strict.json()["data"][0]["similarity"] >= 0.7


def test_limit_fields_and_filter(key_client, products):
    response = key_client.get(URL, {"query": "office furniture", "threshold": "0", "limit": "2",
                                    "fields": "name,embedding"})
    data = response.json()["data"]
    assert response.status_code == 200 and len(data) == 2
    assert set(names(response)) == {"Office chair", "Standing desk"}
    assert [list(item) for item in data] == [["similarity", "name", "embedding"]] * 2
    assert len(data[0]["embedding"]) == 384
    filtered = key_client.get(URL, {"query": "office furniture", "threshold": "0", "filter": "category:food"})
    assert names(filtered) == ["Bananas"]


def test_include_expands_relations(key_client, products, products_model):
    brands = services.data_model_create(name="brands", fields=[{"name": "title", "type": "text"}])
    services.field_create(data_model=products_model, name="brand", type="relation", related_model=brands)
    brand = key_client.post("/api/public/data/brands", {"title": "Acme"}, format="json").json()["data"]
    key_client.patch(f"/api/public/data/products/{products['Office chair']}", {"brand": brand["id"]}, format="json")
    response = key_client.get(URL, {"query": "office chair", "threshold": "0.3", "include": "brand",
                                    "fields": "name,brand"})
    assert response.status_code == 200
    assert response.json()["data"][0]["brand"] == brand
    assert response.json()["data"][0]["name"] == "Office chair"


def test_post_searches_by_vector(key_client, products, products_model):
    column = embedding_field(products_model).column
    [(vector,)] = fetch(f"SELECT {column}::text FROM dm_{products_model.pk} WHERE id = %s", [products["Bike"]])
    numbers = [float(x) for x in vector.strip("[]").split(",")]
    response = key_client.post(URL + "?fields=name", {"vector": numbers, "limit": 1}, format="json")
    assert response.status_code == 200
    assert response.json()["data"] == [{"similarity": 1.0, "name": "Bike"}]


@pytest.mark.parametrize("params, field, message", [
    ({}, "query", "A non-empty search text is required"),
    ({"query": "  "}, "query", "A non-empty search text is required"),
    ({"query": "x", "limit": "101"}, "limit", "Must be between 1 and 100"),
    ({"query": "x", "limit": "0"}, "limit", "Must be between 1 and 100"),
    ({"query": "x", "threshold": "1.5"}, "threshold", "Must be a number between 0 and 1"),
    ({"query": "x", "threshold": "high"}, "threshold", "Must be a number between 0 and 1"),
    ({"query": "x", "field": "name"}, "field", '"name" is not a vector field of "products" (one of: embedding)'),
    ({"query": "x", "mode": "keyword"}, "mode", "Must be one of: vector, hybrid"),
    ({"query": "x", "fields": "nope"}, "fields", "Unknown field(s): nope"),
    ({"query": "x", "filter": "price:>3"}, "filter", 'Unknown field "price" in "price:>3"'),
])
def test_bad_parameters_are_validation_errors(key_client, products_model, params, field, message):
    response = key_client.get(URL, params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"] == [{"field": field, "message": message}]


def test_wrong_vector_length_and_no_vector_field(key_client, products_model):
    response = key_client.post(URL, {"vector": [0.1, 0.2]}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == [{"field": "vector", "message": "Must have exactly 384 numbers"}]
    services.data_model_create(name="notes", fields=[{"name": "body", "type": "text"}])
    response = key_client.get("/api/public/data/notes/search", {"query": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["details"] == [
        {"field": "field", "message": 'The model "notes" has no vector field to search'}]
    assert key_client.get("/api/public/data/nothing/search", {"query": "x"}).status_code == 404


def test_scopes_and_permissions(client_api, make_api_key, products, django_user_model):
    _, write_only = make_api_key(scopes=["write"])
    client_api.credentials(HTTP_X_API_KEY=write_only)
    response = client_api.get(URL, {"query": "chair"})
    assert response.status_code == 403
    assert response.json()["error"]["message"] == 'This API key lacks the "read" scope'
    response = client_api.post(URL, {"vector": [0.0] * 384}, format="json")
    assert response.status_code == 403  # a search by vector is a read too
    _, read_only = make_api_key(scopes=["read"])
    client_api.credentials(HTTP_X_API_KEY=read_only)
    assert client_api.get(URL, {"query": "chair"}).status_code == 200
    assert client_api.post(URL, {"vector": [0.0] * 384}, format="json").status_code == 200
    client_api.credentials()
    assert client_api.get(URL, {"query": "chair"}).status_code == 401
    # A user without the view permission on products
    django_user_model.objects.create_user("carol", "carol@example.com", "pw-carol-123")
    token = client_api.post("/api/auth/login", {"email": "carol@example.com", "password": "pw-carol-123"},
                            format="json").json()["access"]
    client_api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client_api.get(URL, {"query": "chair"})
    assert response.status_code == 403
    assert client_api.get(f"/api/public/data/products/{products['Bike']}/similar").status_code == 403


def test_hybrid_finds_an_exact_product_code(key_client, products_model, products):
    # The code is in the description of one product only; vectors alone do not find it.
    key_client.patch(f"/api/public/data/products/{products['Bike']}",
                     {"description": "Lightweight road bike, part number QZ-99817"}, format="json")
    from search.services import embed_records

    embed_records(field_id=embedding_field(products_model).pk, record_ids=[products["Bike"]])
    vector_only = key_client.get(URL, {"query": "QZ-99817"})
    assert vector_only.status_code == 200 and "Bike" not in names(vector_only)
    hybrid = key_client.get(URL, {"query": "QZ-99817", "mode": "hybrid"})
    assert hybrid.status_code == 200
    data = hybrid.json()["data"]
    assert data[0]["name"] == "Bike"
    assert list(data[0])[:3] == ["id", "similarity", "score"]
    assert data[0]["score"] == round(1 / 61, 6)  # first in the keyword ranking, absent from the vector one
    # Both rankings agree on the chair: it scores from each.
    both = key_client.get(URL, {"query": "office chair", "mode": "hybrid", "threshold": "0.5"}).json()["data"]
    assert both[0]["name"] == "Office chair" and both[0]["score"] == round(2 / 61, 6)


def test_similar_returns_nearest_others(key_client, products):
    response = key_client.get(f"/api/public/data/products/{products['Office chair']}/similar",
                              {"limit": "2", "fields": "name"})
    assert response.status_code == 200
    data = response.json()["data"]
    assert [item["name"] for item in data] == ["Standing desk", data[1]["name"]]
    assert "Office chair" not in [item["name"] for item in data]
    assert key_client.get("/api/public/data/products/rec_nope/similar").status_code == 404


def test_similar_before_the_vector_is_computed(key_client, products_model):
    record = key_client.post("/api/public/data/products", {"name": "Lamp"}, format="json").json()["data"]
    execute("DELETE FROM search_vectorstate")  # as if no embedding job had run yet
    execute(f'UPDATE dm_{products_model.pk} SET {embedding_field(products_model).column} = NULL')
    response = key_client.get(f"/api/public/data/products/{record['id']}/similar")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT"


def explain(sql: str) -> str:
    """The plan of `sql` with sequential scans priced out (small tables would rather be scanned)."""
    execute("SET LOCAL enable_seqscan = off")  # until the test's transaction ends
    return "\n".join(row[0] for row in fetch("EXPLAIN " + sql))


def search_sql(client, *args, **kwargs) -> tuple:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(*args, **kwargs) if "data" not in kwargs else client.post(*args, format="json", **kwargs)
    assert response.status_code == 200, response.content
    [sql] = [q["sql"] for q in queries.captured_queries if "<=>" in q["sql"]]
    return response, sql


def test_search_uses_the_hnsw_index(key_client, products, products_model):
    _, sql = search_sql(key_client, URL, {"query": "office chair"})
    index = f"dm_{products_model.pk}_{embedding_field(products_model).column}_hnsw"
    assert f"Index Scan using {index}" in explain(sql)


def hybrid_sql(client, params: dict) -> tuple:
    """A hybrid search's response and its keyword query (the one matching with `@@`)."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, params)
    assert response.status_code == 200, response.content
    [sql] = [q["sql"] for q in queries.captured_queries if "@@" in q["sql"]]
    return response, sql


def test_hybrid_matches_words_with_the_full_text_index(key_client, products, products_model):
    response, sql = hybrid_sql(key_client, {"query": "road bike", "mode": "hybrid", "fields": "name"})
    assert response.json()["data"][0]["name"] == "Bike"
    index = f"dm_{products_model.pk}_{embedding_field(products_model).column}_fts"
    assert f"Bitmap Index Scan on {index}" in explain(sql)


def test_hybrid_follows_source_field_changes(key_client, products, products_model):
    """The keyword side reads the sources as they are now: a renamed source still matches
    (through the same index), and a code becomes findable once `code` is a source."""
    code = {"query": "XJ-4471-B", "mode": "hybrid", "threshold": "0.9", "fields": "name"}
    assert key_client.get(URL, code).json()["data"] == []  # `code` is not a source, and no vector is that close
    services.field_update(field=products_model.fields.get(name="description"), name="details")
    words = key_client.get(URL, {"query": "carbon frame", "mode": "hybrid", "threshold": "0.9", "fields": "name"})
    assert words.status_code == 200
    assert words.json()["data"] == [{"similarity": words.json()["data"][0]["similarity"], "score": round(1 / 61, 6),
                                     "name": "Bike"}]
    services.field_update(field=embedding_field(products_model), source_fields=["name", "details", "code"])
    response, sql = hybrid_sql(key_client, code)
    assert [(item["name"], item["score"]) for item in response.json()["data"]] == [("Office chair", round(1 / 61, 6))]
    index = f"dm_{products_model.pk}_{embedding_field(products_model).column}_fts"
    assert f"Bitmap Index Scan on {index}" in explain(sql)


def insert_items(products_model) -> str:
    """1,000 records with random vectors, of which every 50th has the code "rare"; the table."""
    table, column = f"dm_{products_model.pk}", embedding_field(products_model).column
    execute(f"INSERT INTO {table} (id, f_{products_model.fields.get(name='name').pk}, "
            f"f_{products_model.fields.get(name='code').pk}, {column}) "
            "SELECT 'rec_' || lpad(i::text, 26, '0'), 'item ' || i, CASE WHEN mod(i, 50) = 0 THEN 'rare' END, "
            "(SELECT array_agg(random())::real[]::vector(384) FROM generate_series(1, 384) WHERE i > 0) "
            "FROM generate_series(1, 1000) i")
    execute(f"ANALYZE {table}")
    return table


def test_filtered_search_still_fills_the_page(key_client, products_model, monkeypatch):
    """A filter that keeps 2% of the rows, searched through the index: pgvector's iterative
    index scan goes on past the first candidates until `limit` records match (a plain HNSW
    scan stops at ef_search)."""
    from search import selectors

    monkeypatch.setattr(selectors, "EXACT_SCAN_ROWS", 0)  # the index path even for 20 rows
    table = insert_items(products_model)
    execute("SET LOCAL enable_seqscan = off")  # the index path, not an exact scan of 1,000 rows
    query = {"vector": [0.01 * (i % 7) + 0.01 for i in range(384)]}
    response, sql = search_sql(key_client, URL + "?filter=code:rare&threshold=0&limit=15&fields=code", data=query)
    assert "Index Scan using" in explain(sql) and "_hnsw" in explain(sql)
    data = response.json()["data"]
    assert len(data) == 15 and {item["code"] for item in data} == {"rare"}
    exact = fetch(f"SELECT count(*) FROM {table} WHERE f_{products_model.fields.get(name='code').pk} = 'rare'")
    assert exact == [(20,)]


def test_a_selective_filter_is_searched_exactly(key_client, products_model, monkeypatch):
    """20 of 1,000 rows match: the planner expects few rows (up to EXACT_SCAN_ROWS, 100 here
    for a small table), so the search compares them all (index scans off for that
    statement) and answers the exact nearest, in order; 980 rows take the HNSW path."""
    from search import selectors

    monkeypatch.setattr(selectors, "EXACT_SCAN_ROWS", 100)
    table, column = insert_items(products_model), embedding_field(products_model).column
    query = [0.01 * (i % 7) + 0.01 for i in range(384)]
    with CaptureQueriesContext(connection) as queries:
        response = key_client.post(URL + "?filter=code:rare&threshold=0&limit=15&fields=id", {"vector": query},
                                   format="json")
    assert response.status_code == 200
    assert any("set_config('enable_indexscan', 'off', true)" in q["sql"] for q in queries.captured_queries)
    code = f"f_{products_model.fields.get(name='code').pk}"
    exact = fetch(f"SELECT id FROM {table} WHERE {code} = 'rare' ORDER BY {column} <=> %s::vector, id LIMIT 15",
                  [str(query)])
    assert [item["id"] for item in response.json()["data"]] == [row[0] for row in exact]
    with CaptureQueriesContext(connection) as queries:
        response = key_client.post(URL + "?filter=code:!=rare&threshold=0&limit=5&fields=id", {"vector": query},
                                   format="json")
    assert response.status_code == 200 and len(response.json()["data"]) == 5
    assert any("set_config('enable_indexscan', 'on', true)" in q["sql"] for q in queries.captured_queries)


def test_client_cannot_set_a_computed_vector(key_client, products_model):
    response = key_client.post("/api/public/data/products", {"name": "Lamp", "embedding": [0.0] * 384}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == [
        {"field": "embedding", "message": "Computed from source_fields: it cannot be set"}]
    assert fetch(f"SELECT count(*) FROM dm_{products_model.pk}") == [(0,)]


def test_backend_down_is_a_503_in_the_envelope(key_client, openai_backend, products_model):
    openai_backend.answers = [(503, {"error": {"message": "maintenance"}}, 0)]
    response = key_client.get(URL, {"query": "chair"})
    assert response.status_code == 503
    assert response.json()["error"] == {
        "code": "SERVICE_UNAVAILABLE", "message": "The embedding backend (openai:test-model:384) answered HTTP 503: "
        "maintenance", "request_id": response["X-Request-ID"]}
    assert len(openai_backend.requests) == 1  # a request waits for one try, not the background retries
    openai_backend.answers = [(200, None, 2.0)]  # slower than EMBEDDINGS_TIMEOUT (0.5 s): no hang
    response = key_client.get(URL, {"query": "table"})
    assert response.status_code == 503
    assert response.json()["error"]["message"] == "The embedding backend (openai:test-model:384) gave no answer within 0.5 s"


def test_query_embeddings_are_cached(key_client, openai_backend, products_model):
    for text in ["cached chair", "cached chair", "cached table", "cached chair"]:
        assert key_client.get(URL, {"query": text}).status_code == 200
    assert [r["body"]["input"] for r in openai_backend.requests] == [["cached chair"], ["cached table"]]


def test_unknown_body_keys_are_refused(key_client, products_model):
    response = key_client.post(URL, {"vector": [0.0] * 384, "top_k": 3}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == [{"field": "top_k", "message": "Unknown field"}]


def test_openapi_documents_search_and_similar(key_client, products_model):
    services.data_model_create(name="notes", fields=[{"name": "body", "type": "text"}])
    paths = key_client.get("/api/schema?format=json").json()["paths"]
    search = paths["/api/public/data/products/search"]
    assert search["get"]["operationId"] == "products_search"
    assert search["post"]["operationId"] == "products_search_by_vector"
    assert {p["name"] for p in search["get"]["parameters"]} == {
        "query", "limit", "threshold", "mode", "field", "filter", "fields"}
    assert set(search["get"]["responses"]) == {"200", "400", "401", "403", "404", "429", "500", "503"}
    item = search["get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"]["items"]
    assert {"similarity", "score", "name", "embedding"} <= set(item["properties"])
    assert paths["/api/public/data/products/{id}/similar"]["get"]["operationId"] == "products_similar"
    assert "/api/public/data/notes/search" not in paths  # no vector field, nothing to search


def test_openapi_inputs_leave_out_computed_vectors(key_client, products_model):
    services.field_create(data_model=products_model, name="manual", type="vector", dimensions=3)
    schemas = key_client.get("/api/schema?format=json").json()["components"]["schemas"]
    assert "embedding" not in schemas["ProductsInput"]["properties"]
    assert "embedding" not in schemas["PatchedProductsInput"]["properties"]
    assert schemas["ProductsInput"]["properties"]["manual"]["maxItems"] == 3  # a client-set vector stays
    assert "embedding" in schemas["ProductsRecord"]["properties"]
