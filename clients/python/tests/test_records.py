"""Records through `Client` against a real server: CRUD, filters, sorts, pages, cursors, bulk creates."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from infinity_client import Client, NotFound, Page, Record

from .conftest import count, rows

RECORD_ID = re.compile(r"^rec_[0-9A-HJKMNP-TV-Z]{26}$")

PEOPLE = [
    {"name": "Ada", "email": "ada@example.com", "status": "active", "total": 150, "vip": True},
    {"name": "Bob", "email": "bob@example.com", "status": "inactive", "total": 50},
    {"name": "Cy", "email": "cy@example.com", "status": "active", "total": 90},
    {"name": "Dee", "email": "dee@example.com", "status": "active", "total": 300},
]


@pytest.fixture
def people(client, customers):
    """The four PEOPLE, created in one bulk request."""
    return client.models.customers.create(PEOPLE)


def names(page) -> list[str]:
    return [record["name"] for record in page]


def test_crud_round_trip(client, customers, wire):
    model = client.models.customers

    created = model.create({"name": "Jane Doe", "email": "jane@example.com", "total": Decimal("12.50"),
                            "joined": dt.date(2024, 1, 31)})
    fetched = model.get(created.id)
    patched = model.update(created.id, {"status": "inactive"})
    replaced = model.replace(created.id, {"name": "Jane Roe"})
    deleted = model.delete(created.id)

    assert isinstance(created, Record) and RECORD_ID.match(created.id)
    assert created["updated_at"] == created["created_at"]
    assert {k: created[k] for k in ("name", "email", "status", "total", "vip", "joined")} == {
        "name": "Jane Doe", "email": "jane@example.com", "status": "active", "total": 12.5, "vip": False,
        "joined": "2024-01-31"}
    assert fetched == created and fetched.etag == wire.responses[1].headers["etag"] and fetched.etag
    assert patched["status"] == "inactive" and patched["name"] == "Jane Doe" and patched.etag != fetched.etag
    # PUT resets what it does not name: the email goes, the status returns to its default.
    assert (replaced["name"], replaced["email"], replaced["status"], replaced["total"]) == (
        "Jane Roe", None, "active", None)
    assert deleted == {"success": True, "message": "Record deleted successfully"}
    assert [(r.method, r.url.path) for r in wire.requests] == [
        ("POST", "/api/public/data/customers"), ("GET", f"/api/public/data/customers/{created.id}"),
        ("PATCH", f"/api/public/data/customers/{created.id}"), ("PUT", f"/api/public/data/customers/{created.id}"),
        ("DELETE", f"/api/public/data/customers/{created.id}")]
    assert wire.statuses == [201, 200, 200, 200, 200]
    assert count(customers) == 0
    with pytest.raises(NotFound):
        model.get(created.id)


def test_models_by_attribute_and_by_item_are_one(client, people):
    assert client.models["customers"] is client.models.customers
    assert names(client.models["customers"].list(sort="name:asc")) == ["Ada", "Bob", "Cy", "Dee"]


def test_bulk_create_writes_every_record_in_one_request(client, customers, wire):
    created = client.models.customers.create([{"name": f"n{i}", "total": i} for i in range(5)])

    assert [r["name"] for r in created] == [f"n{i}" for i in range(5)]
    assert all(isinstance(r, Record) and RECORD_ID.match(r.id) for r in created)
    assert len(wire.requests) == 1 and wire.requests[0].headers["idempotency-key"]
    assert sorted((row[0], row[1]) for row in rows(customers)) == sorted((r.id, r["name"]) for r in created)


def test_list_answers_data_and_pagination(client, people):
    page = client.models.customers.list(sort="name:asc", page=2, limit=3, fields=["id", "name"])

    assert isinstance(page, Page)
    assert [dict(r) for r in page] == [{"id": people[3].id, "name": "Dee"}]
    assert page.pagination == {"page": 2, "limit": 3, "total": 4, "pages": 2, "next_cursor": None}
    assert (page.page, page.limit, page.total, page.pages, page.next_cursor, len(page)) == (2, 3, 4, 2, None, 1)


FILTER_CASES = [
    ("status:active", ["Ada", "Cy", "Dee"]),
    (["status:active", "total:>100"], ["Ada", "Dee"]),
    ({"status": "active", "total__gt": 100}, ["Ada", "Dee"]),
    ({"total__gte": 150}, ["Ada", "Dee"]),
    ({"total__lt": 90}, ["Bob"]),
    ({"total__lte": 90}, ["Bob", "Cy"]),
    ({"status__ne": "active"}, ["Bob"]),
    ({"name__contains": "D"}, ["Ada", "Dee"]),
    ({"vip": True}, ["Ada"]),
    ({"joined": None}, ["Ada", "Bob", "Cy", "Dee"]),
    (["status:active", {"total__lt": 100}], ["Cy"]),
]


def test_filters_as_strings_and_dicts(client, people):
    # One set of records for every case: each case is one request.
    found = [names(client.models.customers.list(filter=filters, sort="name:asc")) for filters, _ in FILTER_CASES]

    assert found == [expected for _, expected in FILTER_CASES]


def test_a_dict_filter_is_sent_as_the_references_strings(client, people, wire):
    client.models.customers.list(filter={"status": "active", "total__gt": 100, "name__contains": "a"})

    assert wire.requests[-1].url.params.get_list("filter") == ["status:active", "total:>100", "name:~a"]


SORT_FORMS = ["total:desc", "-total", ["total:desc"], [("total", "desc")], ("total", "desc"),
              [{"field": "total", "direction": "desc"}]]


def test_sort_forms(client, people, wire):
    found = [names(client.models.customers.list(sort=sort)) for sort in SORT_FORMS]

    assert found == [["Dee", "Ada", "Cy", "Bob"]] * len(SORT_FORMS)
    assert [r.url.params.get_list("sort") for r in wire.requests[1:]] == [["total:desc"]] * len(SORT_FORMS)


def test_several_sort_keys_apply_in_order(client, people, wire):
    page = client.models.customers.list(sort=["status:desc", ("total", "asc")])

    assert names(page) == ["Bob", "Cy", "Ada", "Dee"]
    assert wire.requests[-1].url.params.get_list("sort") == ["status:desc", "total:asc"]


def test_iterate_walks_250_records_by_cursor_in_three_requests(client, customers, wire):
    client.models.customers.create([{"name": f"c{i:03d}", "total": i} for i in range(250)])
    first_request = len(wire.requests)

    seen = list(client.models.customers.iterate(limit=100, sort="total:asc"))

    requests = wire.requests[first_request:]
    assert len(requests) == 3
    assert [r["total"] for r in seen] == list(range(250))
    assert len({r.id for r in seen}) == 250 and {r.id for r in seen} == {row[0] for row in rows(customers)}
    assert "cursor" not in requests[0].url.params
    assert all(r.url.params["cursor"] and r.url.params["limit"] == "100" for r in requests[1:])


def test_iterate_is_lazy(client, customers, wire):
    client.models.customers.create([{"name": f"c{i}"} for i in range(5)])
    before = len(wire.requests)

    records = client.models.customers.iterate(limit=2, filter={"name__contains": "c"})
    assert len(wire.requests) == before
    first = next(records)

    assert first["name"].startswith("c") and len(wire.requests) == before + 1


def test_include_expands_a_relation(client, committed_schema, customers):
    from datamodels import services

    services.data_model_create(name="orders", fields=[
        {"name": "item", "type": "text"}, {"name": "customer", "type": "relation", "related_model": customers}])
    jane = client.models.customers.create({"name": "Jane"})
    order = client.models.orders.create({"item": "chair", "customer": jane.id})

    plain = client.models.orders.get(order.id)
    expanded = client.models.orders.get(order.id, include="customer", fields=["id", "customer"])

    assert plain["customer"] == jane.id
    assert expanded["customer"]["name"] == "Jane" and set(expanded) == {"id", "customer"}


def test_environment_gives_key_and_url(server_url, api_key, people, monkeypatch):
    monkeypatch.setenv("INFINITY_API_KEY", api_key)
    monkeypatch.setenv("INFINITY_URL", server_url + "/api/public/data")  # the reference's base URL works too

    with Client() as client:
        assert client.base_url == server_url
        assert client.models.customers.list().total == 4
