"""Bulk create: a JSON array body writes every record in one transaction, or none."""

from __future__ import annotations

import pytest

from .conftest import CUSTOMER_DEFAULTS, ISO_Z, RECORD_ID, count, create, error_of, url


@pytest.fixture
def existing(api, customers):
    return create(api, "customers", {"name": "Ann", "email": "ann@example.com"})


def test_array_creates_all_in_order(api, customers, projects):
    project = create(api, "projects", {"title": "apollo"})
    items = [
        {"name": f"person {i}", "email": f"p{i}@example.com", "age": i, "projects": [project["id"]] if i % 2 else []}
        for i in range(25)
    ]
    response = api.post(url("customers"), items, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert list(body) == ["data"]
    data = body["data"]
    assert [{k: v for k, v in item.items() if k not in ("id", "created_at", "updated_at")} for item in data] == [
        {**CUSTOMER_DEFAULTS, **item} for item in items
    ]
    assert all(RECORD_ID.match(item["id"]) for item in data)
    assert len({item["id"] for item in data}) == 25
    assert all(ISO_Z.match(item["created_at"]) and item["created_at"] == item["updated_at"] for item in data)
    assert count(customers) == 25
    for item in data[:3]:
        assert api.get(url("customers", item["id"])).json()["data"] == item


def test_one_item_array_answers_a_list(api, customers):
    response = api.post(url("customers"), [{"name": "Solo"}], format="json")
    assert response.status_code == 201
    data = response.json()["data"]
    assert isinstance(data, list) and len(data) == 1 and data[0]["name"] == "Solo"


def test_one_bad_item_writes_nothing(api, unchanged, customers, existing):
    items = [{"name": "ok"}, {"name": "ok too", "age": -3}, {"name": "fine"}]
    with unchanged(customers):
        response = api.post(url("customers"), items, format="json")
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert error["details"] == [{"field": "age", "message": "Must be at least 0", "index": 1}]


def test_every_bad_item_and_field_is_reported_with_its_index(api, unchanged, customers, existing):
    items = [
        {"email": "bad"},
        {"name": "ok"},
        {"name": "x", "vip": "no", "bogus": 1},
        {"name": "y", "company": "rec_01ARZ3NDEKTSV4RRFFQ69G5FAV"},
    ]
    with unchanged(customers):
        response = api.post(url("customers"), items, format="json")
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert error["details"] == [
        {"field": "name", "message": "This field is required", "index": 0},
        {"field": "email", "message": "Must be a valid email address", "index": 0},
        {"field": "bogus", "message": "Unknown field", "index": 2},
        {"field": "vip", "message": "Must be true or false", "index": 2},
        {"field": "company", "message": "No such record: rec_01ARZ3NDEKTSV4RRFFQ69G5FAV", "index": 3},
    ]


@pytest.mark.parametrize(
    "items, index",
    [
        ([{"name": "a", "email": "dup@example.com"}, {"name": "b"}, {"name": "c", "email": "dup@example.com"}], 2),
        ([{"name": "a"}, {"name": "b", "email": "ann@example.com"}, {"name": "c"}], 1),
        ([{"name": "a", "email": "ann@example.com"}], 0),
    ],
    ids=["inside the batch", "with an existing row", "first item"],
)
def test_unique_clash_is_a_conflict_with_the_index(api, unchanged, customers, existing, items, index):
    with unchanged(customers):
        response = api.post(url("customers"), items, format="json")
    error = error_of(response, 409, "CONFLICT")
    assert error["details"] == [
        {"field": "email", "message": "Must be unique: this value is already used", "index": index},
    ]


@pytest.mark.parametrize("size", [0, 1001])
def test_empty_or_oversized_batches_are_refused(api, unchanged, customers, existing, size):
    with unchanged(customers):
        response = api.post(url("customers"), [{"name": f"n{i}"} for i in range(size)], format="json")
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert error["details"] == [{"field": "body", "message": "Send between 1 and 1000 records"}]


def test_a_batch_of_exactly_1000_is_accepted(api, customers):
    response = api.post(url("customers"), [{"name": f"n{i}"} for i in range(1000)], format="json")
    assert response.status_code == 201
    assert len(response.json()["data"]) == 1000
    assert count(customers) == 1000


@pytest.mark.parametrize("item", ["text", 5, None, [{"name": "nested"}]])
def test_an_item_that_is_not_an_object_is_a_bad_request(api, unchanged, customers, existing, item):
    with unchanged(customers):
        response = api.post(url("customers"), [{"name": "ok"}, item], format="json")
    error_of(response, 400, "BAD_REQUEST")
