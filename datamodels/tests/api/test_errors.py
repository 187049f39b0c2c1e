"""The error envelope over HTTP: unknown URLs, methods, media types, sizes, request ids, crashes."""

from __future__ import annotations

import re

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from .conftest import count, create, error_of, url

GENERATED_ID = re.compile(r"^req_[0-9A-HJKMNP-TV-Z]{26}$")


@pytest.mark.parametrize(
    "path",
    [
        "/api/nope",
        "/api/public/data",
        "/api/public/data/",
        "/api/public/data/customers/",
        "/api/public/data/customers/rec_01ARZ3NDEKTSV4RRFFQ69G5FAV/extra",
        "/api/public/data/customers/search/more/deeper",
    ],
)
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_url_under_api_is_a_404_envelope(api, customers, path, method):
    response = getattr(api, method)(path, {}, format="json")
    error = error_of(response, 404, "NOT_FOUND")
    assert response["Content-Type"].startswith("application/json")
    assert set(error) == {"code", "message", "request_id"}


@pytest.mark.parametrize(
    "method, on_record",
    [("put", False), ("patch", False), ("delete", False), ("post", True)],
)
def test_wrong_method_is_405(api, unchanged, customers, method, on_record):
    record = create(api, "customers", {"name": "Ann"})
    path = url("customers", record["id"]) if on_record else url("customers")
    with unchanged(customers):
        response = getattr(api, method)(path, {"name": "Bob"}, format="json")
    error = error_of(response, 405, "METHOD_NOT_ALLOWED")
    assert error["message"] == f'Method "{method.upper()}" not allowed.'
    assert method.upper() not in response["Allow"]


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("text/plain", '{"name": "Ann"}'),
        ("application/x-www-form-urlencoded", "name=Ann"),
        ("application/xml", "<name>Ann</name>"),
    ],
)
@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_a_body_that_is_not_json_is_415(api, unchanged, customers, content_type, body, method):
    record = create(api, "customers", {"name": "Ann"})
    path = url("customers") if method == "post" else url("customers", record["id"])
    with unchanged(customers):
        response = getattr(api, method)(path, body, content_type=content_type)
    error = error_of(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert content_type in error["message"]


def test_json_with_a_charset_is_fine(api, customers):
    response = api.post(url("customers"), '{"name": "Ann"}', content_type="application/json; charset=utf-8")
    assert response.status_code == 201


@pytest.fixture
def small_bodies(settings):
    settings.INFINITY = {**settings.INFINITY, "MAX_BODY_BYTES": 200}


@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_a_body_over_the_limit_is_413(api, unchanged, customers, small_bodies, method):
    record = create(api, "customers", {"name": "Ann"})
    path = url("customers") if method == "post" else url("customers", record["id"])
    with unchanged(customers):
        response = getattr(api, method)(path, {"name": "B", "notes": "x" * 300}, format="json")
    error = error_of(response, 413, "PAYLOAD_TOO_LARGE")
    assert error["message"] == "The body is larger than 200 bytes"


def test_a_body_at_the_limit_is_accepted(api, customers, small_bodies):
    body = '{"name": "Ann", "notes": "' + "x" * (200 - 28) + '"}'
    assert len(body.encode()) == 200
    assert api.post(url("customers"), body, content_type="application/json").status_code == 201


def test_the_limit_applies_to_a_client_already_running(api, customers, settings):
    assert api.post(url("customers"), {"name": "x" * 40}, format="json").status_code == 201
    settings.INFINITY = {**settings.INFINITY, "MAX_BODY_BYTES": 20}
    error_of(api.post(url("customers"), {"name": "x" * 40}, format="json"), 413, "PAYLOAD_TOO_LARGE")
    assert count(customers) == 1


def test_a_large_bulk_body_is_413_and_writes_nothing(api, customers, small_bodies):
    response = api.post(url("customers"), [{"name": f"n{i}"} for i in range(50)], format="json")
    error_of(response, 413, "PAYLOAD_TOO_LARGE")
    assert count(customers) == 0


# --- request ids ----------------------------------------------------------------

def test_every_response_carries_a_generated_request_id(api, customers):
    record = create(api, "customers", {"name": "Ann"})
    responses = [
        api.get(url("customers")),
        api.get(url("customers", record["id"])),
        api.get(url("customers", "rec_missing")),
        api.get("/api/nope"),
        api.get("/api/health"),
        APIClient().get(url("customers")),
    ]
    ids = [r["X-Request-ID"] for r in responses]
    assert all(GENERATED_ID.match(i) for i in ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("sent", ["abc", "A-Za-z0-9._-", "550e8400-e29b-41d4-a716-446655440000", "x" * 128])
def test_a_sane_request_id_is_echoed(api, customers, sent):
    ok = api.get(url("customers"), HTTP_X_REQUEST_ID=sent)
    assert ok["X-Request-ID"] == sent
    missing = api.get(url("customers", "rec_missing"), HTTP_X_REQUEST_ID=sent)
    assert error_of(missing, 404, "NOT_FOUND")["request_id"] == sent


@pytest.mark.parametrize(
    "sent", ["x" * 129, "has space", "semi;colon", "quote\"", "ünïcode", "line\n", "tab\t", "a/b", "<script>", ""],
)
def test_an_insane_request_id_is_replaced(api, customers, sent):
    response = api.get(url("customers", "rec_missing"), HTTP_X_REQUEST_ID=sent)
    error = error_of(response, 404, "NOT_FOUND")
    assert GENERATED_ID.match(response["X-Request-ID"])
    assert error["request_id"] == response["X-Request-ID"]


@pytest.mark.parametrize(
    "call, status, code",
    [
        (lambda api: api.get(url("customers", limit=0)), 400, "VALIDATION_ERROR"),
        (lambda api: api.post(url("customers"), "{", content_type="application/json"), 400, "BAD_REQUEST"),
        (lambda api: api.get(url("nosuch")), 404, "NOT_FOUND"),
        (lambda api: api.delete(url("customers")), 405, "METHOD_NOT_ALLOWED"),
        (lambda api: api.post(url("customers"), "x", content_type="text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE"),
        (lambda api: APIClient().get(url("customers")), 401, "UNAUTHORIZED"),
        (lambda api: APIClient().get(url("customers"), HTTP_X_API_KEY="inf_nope"), 401, "UNAUTHORIZED"),
    ],
)
def test_every_error_carries_the_request_id_of_its_response(api, customers, call, status, code):
    error_of(call(api), status, code)  # error_of compares request_id with X-Request-ID


# --- unhandled errors -----------------------------------------------------------

class Rollback(Exception):
    """Raised to undo a test's deliberate damage to a table."""


@pytest.mark.parametrize(
    "method, on_record",
    [("get", False), ("post", False), ("get", True), ("patch", True), ("delete", True)],
)
def test_an_unhandled_error_is_a_500_without_internals(api, customers, method, on_record):
    record = create(api, "customers", {"name": "Ann"})
    table = customers.db_table
    path = url("customers", record["id"]) if on_record else url("customers")
    with pytest.raises(Rollback), transaction.atomic():
        with connection.cursor() as cursor:  # a real failure: the table is gone under the API
            cursor.execute(f'ALTER TABLE "{table}" RENAME TO "{table}_away"')
        response = getattr(api, method)(path, {"name": "Bob"}, format="json", HTTP_X_REQUEST_ID="crash-1")
        raise Rollback
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "SERVER_ERROR", "message": "Internal server error", "request_id": "crash-1"},
    }
    assert response["X-Request-ID"] == "crash-1"
    text = response.content.decode().lower()
    for leak in ("traceback", "select", "relation", table, "psycopg", "django", ".py", "exception"):
        assert leak not in text
    # The table is back: the API answers normally again.
    assert api.get(url("customers", record["id"])).status_code == 200
