"""Values at the edges of what JSON, Python and PostgreSQL can hold: a 400 or a faithful round trip, never a 500.

Integers beyond 64 bits (orjson refuses them), decimals wider than their column,
date-times that leave years 1..9999 once moved to UTC, vector components beyond
float4, dates that are ISO 8601 but not YYYY-MM-DD, and a wrong method on the
health check.
"""

from __future__ import annotations

import decimal
import json
import math

import pytest
from rest_framework.test import APIClient

from datamodels.fieldtypes import InvalidValue, field_type

from .conftest import count, create, error_of, fetch, url

BIG = 2**70  # beyond 64 bits, so orjson cannot encode it
FLOAT4_MAX = 3.4028234663852886e38  # the largest float4, exactly
FLOAT4_OVERFLOW = 2.0**128 - 2.0**103  # the smallest double that rounds to infinity as a float4


@pytest.fixture
def existing(api, customers):
    """One record, so refused PUTs and PATCHes have a row they must not touch."""
    return create(api, "customers", {"name": "Ann", "age": 30, "total": 5, "embedding": [1, 2, 3]})


def column(data_model, name: str, record_id: str):
    """The stored value of one field, read with raw SQL."""
    col = data_model.fields.get(name=name).column
    return fetch(f'SELECT "{col}" FROM "{data_model.db_table}" WHERE id = %s', [record_id])[0][0]


def refused_writes(api, unchanged, customers, existing, body: dict) -> list[dict]:
    """POST, PUT and PATCH `body` (sent as JSON text); each a 400 changing nothing; return the errors."""
    target = url("customers", existing["id"])
    errors = []
    for method, path in (("post", url("customers")), ("put", target), ("patch", target)):
        sent = {"name": "Cid", **body} if method != "patch" else body
        with unchanged(customers):
            response = getattr(api, method)(path, json.dumps(sent), content_type="application/json")
        errors.append(error_of(response, 400, "VALIDATION_ERROR"))
    return errors


def refused_filter(api, unchanged, customers, raw: str) -> dict:
    with unchanged(customers):
        response = api.get(url("customers", filter=raw))
    return error_of(response, 400, "VALIDATION_ERROR")


# --- integers beyond 64 bits ------------------------------------------------------

@pytest.mark.parametrize("meta", [BIG, -BIG, {"n": BIG, "list": [1, BIG * BIG]}, [[[BIG]]]])
def test_json_field_keeps_integers_beyond_64_bits(api, customers, existing, meta):
    response = api.post(url("customers"), json.dumps({"name": "Cid", "meta": meta}), content_type="application/json")
    assert response.status_code == 201, response.content
    record = response.json()["data"]  # json.loads: integers stay exact
    assert record["meta"] == meta
    assert json.loads(column(customers, "meta", record["id"])) == meta  # the driver hands jsonb over as text
    assert api.get(url("customers", record["id"])).json()["data"]["meta"] == meta
    listed = api.get(url("customers", filter="name:Cid")).json()["data"]
    assert [r["meta"] for r in listed] == [meta]


def test_json_field_nested_deeper_than_orjson_goes(api, customers, existing):
    meta = json.loads("[" * 300 + "]" * 300)
    record = create(api, "customers", {"name": "Cid", "meta": meta})
    assert record["meta"] == meta and json.loads(column(customers, "meta", record["id"])) == meta


def test_idempotent_create_replays_integers_beyond_64_bits(api, unchanged, customers, existing):
    body = json.dumps({"name": "Cid", "meta": {"n": BIG}})
    first = api.post(url("customers"), body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="big-1")
    assert first.status_code == 201, first.content
    assert first.json()["data"]["meta"] == {"n": BIG}
    with unchanged(customers):
        again = api.post(url("customers"), body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="big-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert count(customers) == 2


def test_idempotency_key_reused_with_another_big_integer_is_a_conflict(api, unchanged, customers, existing):
    first = api.post(url("customers"), json.dumps({"name": "Cid", "meta": BIG}), content_type="application/json",
                     HTTP_IDEMPOTENCY_KEY="big-2")
    assert first.status_code == 201, first.content
    with unchanged(customers):
        response = api.post(url("customers"), json.dumps({"name": "Cid", "meta": BIG + 1}),
                            content_type="application/json", HTTP_IDEMPOTENCY_KEY="big-2")
    error = error_of(response, 409, "CONFLICT")
    assert error["message"] == "This Idempotency-Key was already used with a different body"


@pytest.mark.parametrize("value", [BIG, -BIG, 2**63, -(2**63) - 1, 1e30])
def test_integer_field_beyond_64_bits_is_a_validation_error(api, unchanged, customers, existing, value):
    for error in refused_writes(api, unchanged, customers, existing, {"age": value}):
        assert error["message"] == "Invalid field value"
        assert error["details"] == [{"field": "age", "message": "Must fit in 64 bits"}]


def test_big_integer_in_an_unknown_field_is_reported_not_a_crash(api, unchanged, customers, existing):
    for error in refused_writes(api, unchanged, customers, existing, {"bogus": BIG}):
        assert error["details"] == [{"field": "bogus", "message": "Unknown field"}]


# --- decimals and floats wider than their column ----------------------------------

@pytest.mark.parametrize("value", [10**36, 1e36, 1e37, 1e300, 10**400])
def test_decimal_wider_than_its_column_is_a_validation_error(api, unchanged, customers, existing, value):
    # `total` is numeric(38, 2): at most 36 digits before the point.
    message = "Must have at most 36 digits before the decimal point"
    for error in refused_writes(api, unchanged, customers, existing, {"total": value}):
        assert error["details"] == [{"field": "total", "message": message}]


@pytest.mark.parametrize("value, stored", [(10**36 - 1, decimal.Decimal(10**36 - 1)), (1e30, decimal.Decimal(10**30)),
                                           (12.345678, decimal.Decimal("12.35")), (1e-300, decimal.Decimal(0))])
def test_decimal_that_fits_is_stored_exactly(api, customers, existing, value, stored):
    record = create(api, "customers", {"name": "Cid", "total": value})
    assert column(customers, "total", record["id"]) == stored


def test_float_field_refuses_an_integer_beyond_double_range(api, unchanged, customers, existing):
    for error in refused_writes(api, unchanged, customers, existing, {"score": 10**400}):
        assert error["details"] == [{"field": "score", "message": "Must fit in a double-precision float"}]


def test_a_json_number_that_overflows_to_infinity_is_not_a_number(api, unchanged, customers, existing):
    with unchanged(customers):
        response = api.post(url("customers"), '{"name": "Cid", "score": 1e400}', content_type="application/json")
    assert error_of(response, 400, "VALIDATION_ERROR")["details"] == [{"field": "score", "message": "Must be a number"}]


# --- date-times leaving years 1..9999 in UTC ---------------------------------------

OUT_OF_YEARS = "Must be between years 1 and 9999 in UTC"


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                                   "0001-01-01T00:59:59.999999+01:00", "9999-12-31T23:00:00-23:59"])
def test_datetime_beyond_year_range_in_utc_is_a_validation_error(api, unchanged, customers, existing, value):
    for error in refused_writes(api, unchanged, customers, existing, {"last_seen": value}):
        assert error["details"] == [{"field": "last_seen", "message": OUT_OF_YEARS}]


@pytest.mark.parametrize("value, shown", [("0001-01-01T00:00:00-01:00", "0001-01-01T01:00:00Z"),
                                          ("9999-12-31T23:59:59+01:00", "9999-12-31T22:59:59Z"),
                                          ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z")])
def test_datetime_near_the_year_range_that_fits_is_kept(api, customers, existing, value, shown):
    record = create(api, "customers", {"name": "Cid", "last_seen": value})
    assert record["last_seen"] == shown


@pytest.mark.parametrize("raw", ["last_seen:>0001-01-01T00:00:00+01:00", "last_seen:<=9999-12-31T23:59:59-01:00",
                                 "created_at:>=0001-01-01T00:00:00+01:00", "updated_at:<9999-12-31T23:59:59-01:00"])
def test_datetime_filter_beyond_year_range_is_a_validation_error(api, unchanged, customers, existing, raw):
    error = refused_filter(api, unchanged, customers, raw)
    assert error["message"] == "Invalid query parameter"
    assert error["details"] == [{"field": "filter", "message": f'"{raw}": {OUT_OF_YEARS}'}]


# --- vector components beyond float4 ----------------------------------------------

FLOAT4_MESSAGE = "Must only contain 32-bit floats (at most 3.4e38 in magnitude)"


@pytest.mark.parametrize("raw", ["[1, 2, 1e39]", "[-3.5e38, 2, 3]", f"[{FLOAT4_OVERFLOW!r}, 2, 3]", f"[1, {10**40}, 3]",
                                 "[1, 2, 1e400]", "[1, -1e400, 3]", f"[1, 2, {10**400}]"])
def test_vector_component_beyond_float4_is_a_validation_error(api, unchanged, customers, existing, raw):
    target = url("customers", existing["id"])
    for method, path, body in (("post", url("customers"), f'{{"name": "Cid", "embedding": {raw}}}'),
                               ("patch", target, f'{{"embedding": {raw}}}')):
        with unchanged(customers):
            response = getattr(api, method)(path, body, content_type="application/json")
        assert error_of(response, 400, "VALIDATION_ERROR")["details"] == [
            {"field": "embedding", "message": FLOAT4_MESSAGE}
        ]


def test_vector_component_at_float4_limit_is_kept_and_can_be_sent_back(api, customers, existing):
    record = create(api, "customers", {"name": "Cid", "embedding": [FLOAT4_MAX, -FLOAT4_MAX, 0.5]})
    path = url("customers", record["id"], fields="id,embedding")
    shown = api.get(path).json()["data"]["embedding"]
    assert shown == [3.4028235e38, -3.4028235e38, 0.5]  # float4 printed shortest: a bit above FLOAT4_MAX
    response = api.patch(url("customers", record["id"]), {"embedding": shown}, format="json")
    assert response.status_code == 200, response.content
    assert api.get(path).json()["data"]["embedding"] == shown
    just_below = math.nextafter(FLOAT4_OVERFLOW, 0)  # still rounds to the largest float4
    response = api.patch(url("customers", record["id"]), {"embedding": [just_below, 0, 0]}, format="json")
    assert response.status_code == 200, response.content
    assert api.get(path).json()["data"]["embedding"] == [3.4028235e38, 0, 0]


@pytest.mark.parametrize("component", [float("nan"), float("inf"), float("-inf")])
def test_vector_refuses_nan_and_infinity(customers, component):
    # JSON bodies cannot carry NaN (the parser refuses it), but the type must hold on its own.
    field = customers.fields.get(name="embedding")
    with pytest.raises(InvalidValue, match="32-bit floats"):
        field_type("vector").validate(field, [1.0, component, 3.0])


# --- dates: exactly YYYY-MM-DD ----------------------------------------------------

NOT_YYYY_MM_DD = ["2024-W01-1", "2024W011", "2024-001", "20240101", "2024-01-1 ", " 2024-01-01", "2024-01-01\n",
                  "\u0662\u0660\u0662\u0664-01-01", "2024-1-01", "+2024-01-01"]


@pytest.mark.parametrize("value", NOT_YYYY_MM_DD)
def test_date_must_be_exactly_yyyy_mm_dd(api, unchanged, customers, existing, value):
    for error in refused_writes(api, unchanged, customers, existing, {"birthday": value}):
        assert error["details"] == [{"field": "birthday", "message": "Must be a date as YYYY-MM-DD"}]


@pytest.mark.parametrize("value", ["2024-W01-1", "20240101"])
def test_date_filter_must_be_exactly_yyyy_mm_dd(api, unchanged, customers, existing, value):
    raw = f"birthday:>={value}"
    error = refused_filter(api, unchanged, customers, raw)
    assert error["details"] == [{"field": "filter", "message": f'"{raw}": Must be a date as YYYY-MM-DD'}]


def test_date_as_yyyy_mm_dd_is_kept(api, customers, existing):
    record = create(api, "customers", {"name": "Cid", "birthday": "0001-01-01"})
    assert record["birthday"] == "0001-01-01"
    assert api.get(url("customers", filter="birthday:<1000-01-01")).json()["data"][0]["id"] == record["id"]


# --- the health check refuses other methods in the envelope -------------------------

@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_health_with_another_method_is_a_405_envelope(db, method):
    client = APIClient(enforce_csrf_checks=True)  # as a browser or curl would meet it
    response = getattr(client, method)("/api/health", {"status": "down"}, format="json")
    error = error_of(response, 405, "METHOD_NOT_ALLOWED")
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "GET, HEAD"
    assert error == {"code": "METHOD_NOT_ALLOWED", "message": f'Method "{method.upper()}" not allowed.',
                     "request_id": response["X-Request-ID"]}


@pytest.mark.parametrize("method", ["get", "head"])
def test_health_answers_get_and_head(db, method):
    response = getattr(APIClient(), method)("/api/health")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("value", [0.005, 0.125, 2.675, 1.115])
def test_decimal_places_round_half_away_from_zero_as_postgresql_does(api, customers, value):
    record = create(api, "customers", {"name": "Ann", "total": value})

    postgres = fetch("SELECT round(%s::numeric, 2)", [str(value)])[0][0]
    assert column(customers, "total", record["id"]) == postgres
    assert record["total"] == float(postgres)
