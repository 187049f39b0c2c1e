"""Create, read, replace, update and delete one record over HTTP, as the API reference shows them."""

from __future__ import annotations

import pytest

from datamodels import services

from .conftest import CUSTOMER_DEFAULTS, ISO_Z, RECORD_ID, count, create, error_of, fetch, parse_iso, url

FULL = {
    "name": "Ann Lee",
    "email": "ann@example.com",
    "website": "https://ann.example.com",
    "status": "active",
    "tags": ["red", "blue"],
    "age": 42,
    "score": 7.25,
    "total": 1234.5,
    "vip": True,
    "birthday": "1982-03-04",
    "last_seen": "2024-05-06T07:08:09Z",
    "notes": "Long\nnotes",
    "meta": {"nested": [1, "two", None, True]},
    "code": "ABC",
}


@pytest.fixture
def company(api, companies):
    return create(api, "companies", {"name": "Acme", "country": "NL"})


@pytest.fixture
def two_projects(api, projects):
    return [create(api, "projects", {"title": title, "budget": 10}) for title in ("apollo", "gemini")]


def test_create_answers_201_with_every_field(api, customers, company, two_projects):
    body = {**FULL, "company": company["id"], "projects": [p["id"] for p in two_projects]}
    response = api.post(url("customers"), body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert list(response.json()) == ["data"]
    assert RECORD_ID.match(data["id"])
    assert ISO_Z.match(data["created_at"]) and data["created_at"] == data["updated_at"]
    assert list(data)[:3] == ["id", "created_at", "updated_at"]
    assert {k: v for k, v in data.items() if k not in ("id", "created_at", "updated_at")} == body
    assert count(customers) == 1


def test_create_sets_timestamps_to_now_in_utc(api, customers):
    from django.utils import timezone

    before = timezone.now()
    data = create(api, "customers", {"name": "Ann"})
    after = timezone.now()
    assert before <= parse_iso(data["created_at"]) <= after


def test_create_fills_defaults_and_shows_empty_values(api, customers):
    data = create(api, "customers", {"name": "Ann"})
    assert {k: v for k, v in data.items() if k not in ("id", "created_at", "updated_at")} == {
        **CUSTOMER_DEFAULTS, "name": "Ann",
    }
    assert data["projects"] == []
    assert "embedding" not in data


@pytest.mark.parametrize(
    "field, sent, shown",
    [
        ("age", 42, 42),
        ("age", 42.0, 42),
        ("score", 3, 3.0),
        ("score", 0.1, 0.1),
        ("total", 19.99, 19.99),
        ("total", 5, 5.0),
        ("birthday", "2000-02-29", "2000-02-29"),
        ("last_seen", "2024-01-02T03:04:05+02:00", "2024-01-02T01:04:05Z"),
        ("last_seen", "2024-01-02T03:04:05.123456Z", "2024-01-02T03:04:05.123456Z"),
        ("meta", [1, {"a": None}], [1, {"a": None}]),
        ("meta", "just a string", "just a string"),
        ("tags", [], []),
        ("tags", ["green", "green"], ["green"]),
    ],
)
def test_values_come_back_as_json_of_their_type(api, customers, field, sent, shown):
    data = create(api, "customers", {"name": "Ann", field: sent})
    assert data[field] == shown
    assert type(data[field]) is type(shown)
    assert api.get(url("customers", data["id"])).json()["data"][field] == shown


def test_numbers_are_json_numbers_in_the_raw_body(api, customers):
    response = api.post(url("customers"), {"name": "Ann", "age": 7, "total": 12.5, "score": 1.5}, format="json")
    raw = response.content.decode()
    assert '"age":7' in raw and '"total":12.5' in raw and '"score":1.5' in raw


def test_get_answers_the_record(api, customers):
    created = create(api, "customers", {**FULL})
    response = api.get(url("customers", created["id"]))
    assert response.status_code == 200
    assert response.json() == {"data": created}


def test_vectors_are_left_out_unless_named_in_fields(api, customers):
    created = create(api, "customers", {"name": "Ann", "embedding": [0.5, 1, -2]})
    assert "embedding" not in created
    assert "embedding" not in api.get(url("customers", created["id"])).json()["data"]
    assert "embedding" not in api.get(url("customers")).json()["data"][0]
    single = api.get(url("customers", created["id"], fields="id,embedding")).json()["data"]
    assert single == {"id": created["id"], "embedding": [0.5, 1.0, -2.0]}
    listed = api.get(url("customers", fields="name,embedding")).json()["data"]
    assert listed == [{"name": "Ann", "embedding": [0.5, 1.0, -2.0]}]


@pytest.mark.parametrize("record_id", ["rec_01ARZ3NDEKTSV4RRFFQ69G5FAV", "nope", "rec_", "x" * 300, "rec_%00"])
def test_missing_or_malformed_id_is_not_found(api, customers, record_id):
    create(api, "customers", {"name": "Ann"})
    for method in ("get", "put", "patch", "delete"):
        response = getattr(api, method)(url("customers", record_id), {"name": "B"}, format="json")
        error = error_of(response, 404, "NOT_FOUND")
        assert "details" not in error
    assert count(customers) == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_unknown_model_is_not_found(api, customers, method):
    response = getattr(api, method)(url("nosuchmodel"), {"name": "Ann"}, format="json")
    error_of(response, 404, "NOT_FOUND")


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_unknown_model_with_record_id_is_not_found(api, customers, method):
    record = create(api, "customers", {"name": "Ann"})
    response = getattr(api, method)(url("nosuchmodel", record["id"]), {"name": "B"}, format="json")
    error_of(response, 404, "NOT_FOUND")


def test_a_model_created_after_the_client_started_is_served_at_once(api, customers):
    assert api.get(url("customers")).status_code == 200
    error_of(api.get(url("latecomers")), 404, "NOT_FOUND")
    services.data_model_create(name="latecomers", fields=[{"name": "title", "type": "text"}])
    created = create(api, "latecomers", {"title": "hello"})
    assert created["title"] == "hello"
    assert api.get(url("latecomers")).json()["data"] == [created]


def test_a_field_added_later_is_served_at_once(api, customers):
    record = create(api, "customers", {"name": "Ann"})
    services.field_create(data_model=customers, name="nickname", type="text")
    assert api.get(url("customers", record["id"])).json()["data"]["nickname"] is None
    patched = api.patch(url("customers", record["id"]), {"nickname": "annie"}, format="json")
    assert patched.json()["data"]["nickname"] == "annie"


# --- PUT ------------------------------------------------------------------------

def test_put_replaces_and_resets_omitted_optional_fields_to_default(api, customers, company, two_projects):
    created = create(api, "customers", {
        **FULL, "company": company["id"], "projects": [p["id"] for p in two_projects], "embedding": [1, 2, 3],
    })
    response = api.put(url("customers", created["id"]), {"name": "Bob"}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert list(response.json()) == ["data"]
    assert data["id"] == created["id"] and data["created_at"] == created["created_at"]
    assert parse_iso(data["updated_at"]) > parse_iso(created["updated_at"])
    assert {k: v for k, v in data.items() if k not in ("id", "created_at", "updated_at")} == {
        **CUSTOMER_DEFAULTS, "name": "Bob",
    }
    assert api.get(url("customers", created["id"], fields="embedding")).json()["data"] == {"embedding": None}
    assert api.get(url("customers", created["id"])).json()["data"] == data


def test_put_requires_required_fields(api, customers, unchanged):
    created = create(api, "customers", {**FULL})
    with unchanged(customers):
        response = api.put(url("customers", created["id"]), {"email": "new@example.com"}, format="json")
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert error["details"] == [{"field": "name", "message": "This field is required"}]


def test_put_with_every_field_sets_them(api, customers, company):
    created = create(api, "customers", {"name": "Ann"})
    body = {**FULL, "company": company["id"], "projects": []}
    data = api.put(url("customers", created["id"]), body, format="json").json()["data"]
    assert {k: v for k, v in data.items() if k not in ("id", "created_at", "updated_at")} == body


# --- PATCH ----------------------------------------------------------------------

def test_patch_changes_only_the_given_fields(api, customers, two_projects):
    created = create(api, "customers", {**FULL, "projects": [two_projects[0]["id"]]})
    response = api.patch(url("customers", created["id"]), {"status": "inactive", "age": None}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data == {**created, "status": "inactive", "age": None, "updated_at": data["updated_at"]}
    assert parse_iso(data["updated_at"]) > parse_iso(created["updated_at"])
    assert data["created_at"] == created["created_at"]


def test_patch_replaces_a_to_many_list(api, customers, two_projects):
    first, second = (p["id"] for p in two_projects)
    created = create(api, "customers", {"name": "Ann", "projects": [first]})
    data = api.patch(url("customers", created["id"]), {"projects": [second, first]}, format="json").json()["data"]
    assert data["projects"] == [second, first]
    data = api.patch(url("customers", created["id"]), {"projects": []}, format="json").json()["data"]
    assert data["projects"] == []
    assert fetch(f'SELECT count(*) FROM "{customers.fields.get(name="projects").join_table}"') == [(0,)]


def test_patch_with_an_empty_body_only_touches_updated_at(api, customers):
    created = create(api, "customers", {**FULL})
    data = api.patch(url("customers", created["id"]), {}, format="json").json()["data"]
    assert data == {**created, "updated_at": data["updated_at"]}


# --- DELETE ---------------------------------------------------------------------

def test_delete_answers_exactly_the_reference_body(api, customers):
    created = create(api, "customers", {"name": "Ann"})
    other = create(api, "customers", {"name": "Bob"})
    response = api.delete(url("customers", created["id"]))
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "Record deleted successfully"}
    error_of(api.get(url("customers", created["id"])), 404, "NOT_FOUND")
    error_of(api.delete(url("customers", created["id"])), 404, "NOT_FOUND")
    assert [r["id"] for r in api.get(url("customers")).json()["data"]] == [other["id"]]


def test_deleting_a_related_record_clears_the_relations(api, customers, company, two_projects):
    first, second = (p["id"] for p in two_projects)
    created = create(api, "customers", {"name": "Ann", "company": company["id"], "projects": [first, second]})
    assert api.delete(url("companies", company["id"])).status_code == 200
    assert api.delete(url("projects", first)).status_code == 200
    data = api.get(url("customers", created["id"])).json()["data"]
    assert data["company"] is None and data["projects"] == [second]


def test_deleting_a_record_removes_its_join_rows(api, customers, two_projects):
    created = create(api, "customers", {"name": "Ann", "projects": [p["id"] for p in two_projects]})
    assert api.delete(url("customers", created["id"])).status_code == 200
    assert fetch(f'SELECT count(*) FROM "{customers.fields.get(name="projects").join_table}"') == [(0,)]
    assert api.get(url("projects", two_projects[0]["id"])).status_code == 200
