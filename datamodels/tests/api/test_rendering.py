"""Records read the same whoever writes their JSON.

Pages are written by PostgreSQL (`row_to_json`, one text per record); reads by id,
creates, `include` and vector fields by the Python renderer. Every value of every
field type must come out the same both ways, down to the timestamp's characters.
"""

from __future__ import annotations

import pytest

from .conftest import create, url

TRICKY = {
    "name": 'Zoë "quoted" \\ back\tslash \u0001 €',
    "email": "zoe@example.com",
    "website": "https://example.com/a?b=c&d=e",
    "status": "active",
    "tags": ["red", "blue"],
    "age": 0,
    "score": 1e16,
    "total": 12.3,
    "vip": True,
    "birthday": "0099-01-05",
    "last_seen": "0001-01-01T00:00:00.500000Z",
    "notes": "line\nbreak",
    "meta": {"z": 1, "a": [1.5, "x", None, {"deep": True}], "big": 12345678901234567890},
    "code": "ABC",
}


@pytest.fixture
def linked(api, customers, companies, projects):
    """A customer with every field set (tricky values), a company and two projects."""
    company = create(api, "companies", {"name": "Acme"})
    first, second = (create(api, "projects", {"title": t})["id"] for t in ("p1", "p2"))
    return create(api, "customers", {**TRICKY, "company": company["id"], "projects": [second, first],
                                      "embedding": [0.1, 0.2, 0.3]})


def test_a_read_by_id_shows_what_the_create_answered(api, linked):
    read = api.get(url("customers", linked["id"]))

    assert read.status_code == 200
    assert read.json() == {"data": linked}
    assert read.json()["data"]["last_seen"] == "0001-01-01T00:00:00.500000Z"
    assert read.json()["data"]["projects"] == linked["projects"]  # in the order they were linked


@pytest.mark.parametrize("params", [{}, {"sort": "name:asc"}, {"filter": "vip:true"}, {"limit": 1}])
def test_a_page_shows_what_the_create_answered(api, linked, params):
    page = api.get(url("customers", **params))

    assert page.status_code == 200
    assert page.json()["data"] == [linked]
    assert b'"total":12.3,' in page.content  # a float, as the create wrote it (not numeric "12.30")


def test_timestamps_keep_six_digits_of_microseconds_or_none(api, customers):
    values = ["2024-01-02T03:04:05Z", "2024-01-02T03:04:05.100000Z", "2024-01-02T03:04:05.000001Z"]
    created = [create(api, "customers", {"name": v, "last_seen": v}) for v in values]

    page = api.get(url("customers", sort="created_at:asc")).json()["data"]

    assert [r["last_seen"] for r in page] == values
    assert page == created


def test_empty_values_read_as_the_create_answered(api, customers):
    record = create(api, "customers", {"name": "Empty"})

    assert api.get(url("customers", record["id"])).json()["data"] == record
    assert api.get(url("customers")).json()["data"] == [record]


def test_fields_include_and_vectors_read_the_same_through_either_writer(api, linked):
    picked = api.get(url("customers", linked["id"], fields="id,name,last_seen,projects")).json()["data"]
    included = api.get(url("customers", linked["id"], include="company")).json()["data"]
    vector = api.get(url("customers", linked["id"], fields="embedding")).json()["data"]

    assert picked == {key: linked[key] for key in ("id", "name", "last_seen", "projects")}
    assert {**included, "company": included["company"]["id"]} == linked
    assert vector["embedding"] == pytest.approx([0.1, 0.2, 0.3])
