"""Every error class from a real refused request, carrying the envelope; refused writes change nothing."""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.services import apikey_create
from infinity_client import (APIError, BadRequest, Client, Conflict, Forbidden, MethodNotAllowed, NotFound,
                             PayloadTooLarge, PreconditionFailed, RateLimited, ServerError, Unauthorized,
                             UnsupportedMediaType, ValidationError)

from .conftest import MAX_BODY_BYTES, count, rows

PATH = "/api/public/data/customers"


def refused(wire, call, cls, status: int, code: str) -> APIError:
    """Run `call`, which must raise exactly `cls` from a `status`/`code` answer; return the exception."""
    with pytest.raises(cls) as caught:
        call()
    error = caught.value
    assert type(error) is cls
    answer = wire.responses[-1]
    assert (error.status, error.code, answer.status_code) == (status, code, status)
    assert error.message == answer.json()["error"]["message"] and error.message
    assert error.request_id == answer.headers["x-request-id"] and error.request_id
    assert error.request_id in str(error) and code in str(error)
    return error


def test_validation_error_carries_details(client, customers, wire):
    error = refused(wire, lambda: client.models.customers.create({"total": "lots"}), ValidationError,
                    400, "VALIDATION_ERROR")

    assert sorted(d["field"] for d in error.details) == ["name", "total"]
    assert all(d["message"] for d in error.details)
    assert isinstance(error, BadRequest)  # `except BadRequest` catches every 400
    assert count(customers) == 0


def test_bad_request_for_a_malformed_cursor(client, customers, wire):
    refused(wire, lambda: client.models.customers.list(cursor="not-a-cursor"), BadRequest, 400, "BAD_REQUEST")


def test_unauthorized_for_a_wrong_key(make_client, customers, wire):
    client = make_client(api_key="inf_AAAAAAAA_" + "x" * 43)

    refused(wire, lambda: client.models.customers.list(), Unauthorized, 401, "UNAUTHORIZED")


def test_forbidden_for_a_read_only_key(make_client, customers, superuser, wire):
    _, raw = apikey_create(user=superuser, name="reader", scopes=["read"], rate_limit="1000/m")
    client = make_client(api_key=raw)

    refused(wire, lambda: client.models.customers.create({"name": "x"}), Forbidden, 403, "FORBIDDEN")
    assert count(customers) == 0


def test_not_found_for_a_missing_record_and_model(client, customers, wire):
    refused(wire, lambda: client.models.customers.get("rec_missing"), NotFound, 404, "NOT_FOUND")
    refused(wire, lambda: client.models.nothing_here.list(), NotFound, 404, "NOT_FOUND")


def test_method_not_allowed(client, customers, wire):
    refused(wire, lambda: client.request("DELETE", PATH), MethodNotAllowed, 405, "METHOD_NOT_ALLOWED")


def test_conflict_on_a_unique_clash(client, customers, wire):
    client.models.customers.create({"name": "Ada", "email": "ada@example.com"})

    refused(wire, lambda: client.models.customers.create({"name": "Eve", "email": "ada@example.com"}),
            Conflict, 409, "CONFLICT")
    assert [row[1] for row in rows(customers)] == ["Ada"]


def test_etag_conflict_raises_precondition_failed(client, customers, wire):
    model = client.models.customers
    read = model.get(model.create({"name": "Ada", "total": 1}).id)
    model.update(read.id, {"total": 2}, etag=read.etag)  # the first writer wins

    refused(wire, lambda: model.update(read.id, {"total": 3}, etag=read.etag), PreconditionFailed,
            412, "PRECONDITION_FAILED")
    refused(wire, lambda: model.replace(read.id, {"name": "Eve"}, etag=read), PreconditionFailed,
            412, "PRECONDITION_FAILED")
    refused(wire, lambda: model.delete(read.id, etag=read.etag), PreconditionFailed, 412, "PRECONDITION_FAILED")

    assert wire.requests[-1].headers["if-match"] == read.etag
    assert [(row[1], row[4]) for row in rows(customers)] == [("Ada", 2)]
    assert model.update(read.id, {"total": 4}, etag=model.get(read.id).etag)["total"] == 4


def test_payload_too_large(client, customers, wire):
    refused(wire, lambda: client.models.customers.create({"name": "big", "notes": "x" * MAX_BODY_BYTES}),
            PayloadTooLarge, 413, "PAYLOAD_TOO_LARGE")
    assert len(wire.requests) == 1 and count(customers) == 0


def test_unsupported_media_type(client, customers, wire):
    refused(wire, lambda: client.request("POST", PATH, content=b"name=x", headers={"Content-Type": "text/plain"}),
            UnsupportedMediaType, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert count(customers) == 0


def test_rate_limited_carries_retry_after(make_client, customers, superuser, wire):
    _, raw = apikey_create(user=superuser, name="tiny", rate_limit="1/m")
    client = make_client(api_key=raw, max_retries=0)

    # The first request of a window passes; at most one window can start between two requests.
    for _ in range(3):
        try:
            client.models.customers.list()
        except RateLimited:
            break
    error = refused(wire, lambda: client.models.customers.list(), RateLimited, 429, "RATE_LIMIT_EXCEEDED")

    assert error.retry_after == int(wire.responses[-1].headers["retry-after"]) and 1 <= error.retry_after <= 60
    assert wire.responses[-1].headers["x-ratelimit-remaining"] == "0"


def test_server_error_when_the_database_fails(client, customers, wire):
    client.models.customers.create({"name": "Ada"})
    with connection.cursor() as cursor:  # a broken database: the table is gone under the server
        cursor.execute(f'DROP TABLE "{customers.db_table}" CASCADE')

    error = refused(wire, lambda: client.models.customers.list(), ServerError, 500, "SERVER_ERROR")

    assert "Traceback" not in error.message and customers.db_table not in error.message
    assert len(wire.requests) == 2  # a 500 is not retried


def test_errors_are_one_family(server_url):
    client = Client(api_key="", base_url=server_url)
    with client, pytest.raises(APIError) as caught:
        client.models.customers.list()
    assert isinstance(caught.value, Unauthorized) and caught.value.status == 401
