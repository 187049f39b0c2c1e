"""Every write rule: refused bodies answer 400/409 in the envelope and change no row."""

from __future__ import annotations

import pytest

from .conftest import count, create, error_of, table_rows, url

# (field, value, message): one wrong value per type and rule, all on the `customers` model.
WRONG_VALUES = [
    ("name", 123, "Must be a string"),
    ("name", ["Ann"], "Must be a string"),
    ("name", "x" * 51, "Must be at most 50 characters"),
    ("notes", {"a": 1}, "Must be a string"),
    ("notes", True, "Must be a string"),
    ("email", 5, "Must be a string"),
    ("email", "not-an-email", "Must be a valid email address"),
    ("email", "ann@", "Must be a valid email address"),
    ("website", "ftp://files.example.com", "Must be a valid http(s) URL"),
    ("website", "example.com", "Must be a valid http(s) URL"),
    ("website", 42, "Must be a string"),
    ("status", "purple", "Must be one of: active, inactive, lead"),
    ("status", 1, "Must be one of: active, inactive, lead"),
    ("status", ["active"], "Must be one of: active, inactive, lead"),
    ("tags", "red", "Must be a list of strings"),
    ("tags", [1], "Must be a list of strings"),
    ("tags", ["red", "purple"], "Must only contain: red, green, blue"),
    ("age", "5", "Must be an integer"),
    ("age", 1.5, "Must be an integer"),
    ("age", True, "Must be an integer"),
    ("age", -1, "Must be at least 0"),
    ("age", 151, "Must be at most 150"),
    ("age", 2**63, "Must fit in 64 bits"),
    ("score", "7.5", "Must be a number"),
    ("score", False, "Must be a number"),
    ("score", [1], "Must be a number"),
    ("total", -0.01, "Must be at least 0"),
    ("total", "10", "Must be a number"),
    ("vip", "true", "Must be true or false"),
    ("vip", 1, "Must be true or false"),
    ("birthday", "2024-13-01", "Must be a date as YYYY-MM-DD"),
    ("birthday", "2024-02-30", "Must be a date as YYYY-MM-DD"),
    ("birthday", "2024-01-01T00:00:00Z", "Must be a date as YYYY-MM-DD"),
    ("birthday", "01/02/2024", "Must be a date as YYYY-MM-DD"),
    ("birthday", 20240101, "Must be a date as YYYY-MM-DD"),
    ("last_seen", "yesterday", "Must be an ISO 8601 date-time, e.g. 2024-01-01T00:00:00Z"),
    ("last_seen", 1700000000, "Must be an ISO 8601 date-time, e.g. 2024-01-01T00:00:00Z"),
    ("code", "abc", "Must match the pattern ^[A-Z]{3}$"),
    ("code", "ABCD", "Must match the pattern ^[A-Z]{3}$"),
    ("company", 7, "Must be a record id"),
    ("company", {"id": "rec_x"}, "Must be a record id"),
    ("projects", "rec_01ARZ3NDEKTSV4RRFFQ69G5FAV", "Must be a list of record ids"),
    ("projects", [1, 2], "Must be a list of record ids"),
    ("embedding", [1, 2], "Must have exactly 3 numbers"),
    ("embedding", [1, 2, 3, 4], "Must have exactly 3 numbers"),
    ("embedding", [1, "2", 3], "Must be a list of numbers"),
    ("embedding", "1,2,3", "Must be a list of numbers"),
    ("embedding", [1, True, 3], "Must be a list of numbers"),
]


@pytest.fixture
def existing(api, customers, companies, projects):
    """Two records (one with relations), so refused writes have rows they must not touch."""
    company = create(api, "companies", {"name": "Acme"})
    project = create(api, "projects", {"title": "apollo"})
    first = create(api, "customers", {
        "name": "Ann", "email": "ann@example.com", "company": company["id"], "projects": [project["id"]],
        "embedding": [1, 2, 3],
    })
    second = create(api, "customers", {"name": "Bob", "email": "bob@example.com"})
    return first, second


def refused(api, unchanged, customers, method, path, body, status, code, **extra) -> dict:
    """Send a write that must be refused; assert the tables are untouched; return the error."""
    with unchanged(customers):
        response = getattr(api, method)(path, body, format="json", **extra)
    return error_of(response, status, code)


def writes(existing, body: dict, *, record: int = 0):
    """(method, path, body) for a create, a full replace and a partial update carrying `body`.

    POST and PUT also get the required `name` unless the body is about it.
    """
    full = body if "name" in body else {"name": "Cid", **body}
    target = url("customers", existing[record]["id"])
    return [("post", url("customers"), full), ("put", target, full), ("patch", target, body)]


def refused_everywhere(api, unchanged, customers, existing, body, status, code, **options) -> list[dict]:
    """Send `body` as POST, PUT and PATCH; each must be refused without a change; return the errors."""
    errors = []
    for method, path, sent in writes(existing, body, **options):
        errors.append(refused(api, unchanged, customers, method, path, sent, status, code))
    return errors


def raw_everywhere(api, unchanged, customers, existing, raw: str, methods=("post", "put", "patch")) -> list:
    """Send a raw JSON body as each write that must change nothing; return the responses."""
    responses = []
    for method, path, _ in writes(existing, {}):
        if method not in methods:
            continue
        with unchanged(customers):
            responses.append(getattr(api, method)(path, raw, content_type="application/json"))
    return responses


@pytest.mark.parametrize("field, value, message", WRONG_VALUES)
def test_wrong_value(api, unchanged, customers, existing, field, value, message):
    for error in refused_everywhere(api, unchanged, customers, existing, {field: value}, 400, "VALIDATION_ERROR"):
        assert error["details"] == [{"field": field, "message": message}]
        assert error["message"] == "Invalid field value"


@pytest.mark.parametrize("body", [{}, {"name": None}, {"name": ""}, {"email": "cid@example.com"}])
def test_missing_required_field(api, unchanged, customers, existing, body):
    error = refused(api, unchanged, customers, "post", url("customers"), body, 400, "VALIDATION_ERROR")
    assert error["details"] == [{"field": "name", "message": "This field is required"}]
    path = url("customers", existing[0]["id"])
    error = refused(api, unchanged, customers, "put", path, body, 400, "VALIDATION_ERROR")
    assert error["details"] == [{"field": "name", "message": "This field is required"}]


def test_required_field_cannot_be_cleared_by_patch(api, unchanged, customers, existing):
    path = url("customers", existing[0]["id"])
    for value in (None, ""):
        error = refused(api, unchanged, customers, "patch", path, {"name": value}, 400, "VALIDATION_ERROR")
        assert error["details"] == [{"field": "name", "message": "This field is required"}]


@pytest.mark.parametrize(
    "body, details",
    [
        ({"nickname": "c"}, [{"field": "nickname", "message": "Unknown field"}]),
        ({"Name": "c"}, [{"field": "Name", "message": "Unknown field"}]),
        ({"id": "rec_01ARZ3NDEKTSV4RRFFQ69G5FAV"}, [{"field": "id", "message": "id is read-only"}]),
        ({"created_at": "2024-01-01T00:00:00Z"}, [{"field": "created_at", "message": "created_at is read-only"}]),
        ({"updated_at": "2024-01-01T00:00:00Z"}, [{"field": "updated_at", "message": "updated_at is read-only"}]),
    ],
)
def test_unknown_and_read_only_keys_are_refused(api, unchanged, customers, existing, body, details):
    for error in refused_everywhere(api, unchanged, customers, existing, body, 400, "VALIDATION_ERROR"):
        assert error["details"] == details


def test_one_detail_per_field_in_field_order(api, unchanged, customers, existing):
    body = {"bogus": 1, "age": -5, "email": "nope", "vip": "yes", "embedding": [1]}
    error = refused(api, unchanged, customers, "post", url("customers"), body, 400, "VALIDATION_ERROR")
    assert error["details"] == [
        {"field": "bogus", "message": "Unknown field"},
        {"field": "name", "message": "This field is required"},
        {"field": "email", "message": "Must be a valid email address"},
        {"field": "age", "message": "Must be at least 0"},
        {"field": "vip", "message": "Must be true or false"},
        {"field": "embedding", "message": "Must have exactly 3 numbers"},
    ]


MISSING = "rec_01ARZ3NDEKTSV4RRFFQ69G5FAV"


@pytest.mark.parametrize(
    "body, details",
    [
        ({"company": MISSING}, [{"field": "company", "message": f"No such record: {MISSING}"}]),
        ({"company": "not-an-id"}, [{"field": "company", "message": "No such record: not-an-id"}]),
        ({"projects": [MISSING]}, [{"field": "projects", "message": f"No such record: {MISSING}"}]),
    ],
)
def test_relation_to_a_missing_record(api, unchanged, customers, existing, body, details):
    for error in refused_everywhere(api, unchanged, customers, existing, body, 400, "VALIDATION_ERROR"):
        assert error["details"] == details


def test_relation_to_a_record_of_another_model(api, unchanged, customers, existing):
    project = create(api, "projects", {"title": "gemini"})
    error = refused(api, unchanged, customers, "post", url("customers"),
                    {"name": "Cid", "company": project["id"]}, 400, "VALIDATION_ERROR")
    assert error["details"] == [{"field": "company", "message": f"No such record: {project['id']}"}]


def test_relation_with_one_missing_among_existing(api, unchanged, customers, existing):
    present = existing[0]["projects"][0]
    error = refused(api, unchanged, customers, "post", url("customers"),
                    {"name": "Cid", "projects": [present, MISSING]}, 400, "VALIDATION_ERROR")
    assert error["details"] == [{"field": "projects", "message": f"No such record: {MISSING}"}]


def test_unique_clash_is_a_conflict(api, unchanged, customers, existing):
    body = {"email": "ann@example.com"}
    for error in refused_everywhere(api, unchanged, customers, existing, body, 409, "CONFLICT", record=1):
        assert error["details"] == [{"field": "email", "message": "Must be unique: this value is already used"}]


def test_a_record_may_keep_its_own_unique_value(api, customers, existing):
    response = api.put(url("customers", existing[0]["id"]), {"name": "Ann", "email": "ann@example.com"},
                       format="json")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "raw", ['{"name": "Cid"', "{name: 'Cid'}", "{'name': 'Cid'}", '{"name": NaN}', '{"age": Infinity}', "\x00", "[{]"],
)
def test_malformed_json_is_a_bad_request(api, unchanged, customers, existing, raw):
    for response in raw_everywhere(api, unchanged, customers, existing, raw):
        assert "details" not in error_of(response, 400, "BAD_REQUEST")


def test_an_empty_body_is_an_empty_object(api, unchanged, customers, existing):
    for response in raw_everywhere(api, unchanged, customers, existing, "", ("post", "put")):
        error = error_of(response, 400, "VALIDATION_ERROR")
        assert error["details"] == [{"field": "name", "message": "This field is required"}]


@pytest.mark.parametrize("raw", ['"Cid"', "42", "3.5", "true", "null"])
def test_a_body_that_is_not_an_object_is_a_bad_request(api, unchanged, customers, existing, raw):
    for response in raw_everywhere(api, unchanged, customers, existing, raw):
        assert "details" not in error_of(response, 400, "BAD_REQUEST")


@pytest.mark.parametrize("method", ["put", "patch"])
def test_an_array_body_cannot_update(api, unchanged, customers, existing, method):
    with unchanged(customers):
        response = getattr(api, method)(url("customers", existing[0]["id"]), [{"name": "X"}], format="json")
    error_of(response, 400, "BAD_REQUEST")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "A\u0000B"}, "name"),
        ({"name": "Cid", "notes": "x\u0000"}, "notes"),
        ({"name": "Cid", "meta": {"k": "v\u0000"}}, "meta"),
        ({"name": "Cid", "meta": {"k\u0000": 1}}, "meta"),
        ({"name": "Cid", "company": "rec_\u0000"}, "company"),
        ({"name": "Cid", "projects": ["rec_\u0000"]}, "projects"),
    ],
)
def test_nul_characters_are_refused_not_a_server_error(api, unchanged, customers, existing, body, field):
    error = refused(api, unchanged, customers, "post", url("customers"), body, 400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == [field]


def test_values_are_stored_as_validated(api, customers, existing):
    """A sanity check that the snapshot helper sees writes at all."""
    before = table_rows(customers)
    create(api, "customers", {"name": "Cid"})
    assert table_rows(customers) != before and count(customers) == 3


def test_a_week_date_is_not_a_date(api, unchanged, customers, existing):
    body = {"name": "Cid", "birthday": "2024-W01-1"}
    error = refused(api, unchanged, customers, "post", url("customers"), body, 400, "VALIDATION_ERROR")
    assert error["details"] == [{"field": "birthday", "message": "Must be a date as YYYY-MM-DD"}]
