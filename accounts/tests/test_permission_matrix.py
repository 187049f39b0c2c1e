"""Who may do what on the records API: every caller × every operation, with the exact answer.

Callers: anonymous; API keys with one scope each, limited to one model, or owned by a
user with few permissions; JWT users holding one Django permission each, none, or
view on both models; a superuser. Operations on `customers` (which relates to
`companies`): list, get, create, replace, update, delete, reads that reach
`companies` through `include=` or a related-field filter, and a read of `companies`.
Vector search (`/{model}/search`) does not exist yet, so it is not in the matrix.

Expected answers are tables below (PocketBase-style scenarios). A successful read must
equal what an all-powerful caller reads; a refused one is the exact envelope, and a
refused write leaves both tables exactly as they were.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from datamodels import records
from datamodels.dynamic import current_schema

from .conftest import BASE, UNLIMITED, bearer, error, keyed, rows

pytestmark = pytest.mark.django_db

NOT_PROVIDED = "Authentication credentials were not provided."


def lacks(scope: str) -> tuple[int, str, str]:
    return 403, "FORBIDDEN", f'This API key lacks the "{scope}" scope'


def may_not(action: str, model: str = "customers") -> tuple[int, str, str]:
    return 403, "FORBIDDEN", f'You may not {action} records of "{model}"'


KEY_MAY_NOT_COMPANIES = (403, "FORBIDDEN", 'This API key may not access "companies"')
UNAUTHORIZED = (401, "UNAUTHORIZED", NOT_PROVIDED)

READS = ("list", "get", "include", "include_list", "related_filter", "other_model")
WRITES = ("create", "replace", "update", "delete")
OPERATIONS = READS + WRITES
OK = {"list": 200, "get": 200, "include": 200, "include_list": 200, "related_filter": 200, "other_model": 200,
      "create": 201, "replace": 200, "update": 200, "delete": 200}


def expect(**answers) -> dict:
    """Every operation succeeds unless named: `expect(create=lacks("write"))`."""
    unknown = set(answers) - set(OPERATIONS)
    assert not unknown, unknown
    return {op: answers.get(op, OK[op]) for op in OPERATIONS}


def only(allowed: set[str], refusal) -> dict:
    """Operations in `allowed` succeed; each other one gets `refusal(op)`."""
    return expect(**{op: refusal(op) for op in OPERATIONS if op not in allowed})


def user_refusal(op: str):
    """What a JWT user lacking every permission but the tested one is told for `op`."""
    if op == "other_model":
        return may_not("view", "companies")
    return may_not({"create": "add", "replace": "change", "update": "change", "delete": "delete"}.get(op, "view"))


def scope_refusal(op: str):
    return lacks({"create": "write", "replace": "write", "update": "write", "delete": "delete"}.get(op, "read"))


# Reads that reach `companies`, for a caller who may read `customers` but not `companies`.
REACHES_COMPANIES = ("include", "include_list", "related_filter", "other_model")

MATRIX = {
    "anonymous": expect(**{op: UNAUTHORIZED for op in OPERATIONS}),
    "read key": only(set(READS), scope_refusal),
    "write key": only({"create", "replace", "update"}, scope_refusal),
    "delete key": only({"delete"}, scope_refusal),
    "webhooks-only key": only(set(), scope_refusal),
    "key for customers only": expect(**{op: KEY_MAY_NOT_COMPANIES for op in REACHES_COMPANIES}),
    "superuser": expect(),
    "superuser key": expect(),
    "user with view": expect(
        create=may_not("add"), replace=may_not("change"), update=may_not("change"), delete=may_not("delete"),
        **{op: may_not("view", "companies") for op in REACHES_COMPANIES},
    ),
    "user with view on both models": expect(
        create=may_not("add"), replace=may_not("change"), update=may_not("change"), delete=may_not("delete"),
    ),
    "user with add": only({"create"}, user_refusal),
    "user with change": only({"replace", "update"}, user_refusal),
    "user with delete": only({"delete"}, user_refusal),
    "user without permissions": only(set(), user_refusal),
    # A key never does more than its owner may: all scopes, yet only what the owner holds.
    "all-scopes key of a user with view": expect(
        create=may_not("add"), replace=may_not("change"), update=may_not("change"), delete=may_not("delete"),
        **{op: may_not("view", "companies") for op in REACHES_COMPANIES},
    ),
    "read key of a user with add": expect(
        **{op: may_not("view") for op in READS if op != "other_model"},
        other_model=may_not("view", "companies"),
        create=lacks("write"), replace=lacks("write"), update=lacks("write"), delete=lacks("delete"),
    ),
}


@pytest.fixture
def world(customers, companies):
    """One company (Acme) and one customer (Ann) who belongs to it."""
    schema = current_schema()
    acme = records.record_create(entry=schema.get("companies"), data={"name": "Acme"})
    ann = records.record_create(entry=schema.get("customers"), data={"name": "Ann", "company": acme.pk})
    return {"acme": acme.pk, "ann": ann.pk, "customers": customers, "companies": companies}


def caller(name: str, make_api_key, make_user, superuser) -> APIClient:
    def key(**options):
        return keyed(make_api_key(rate_limit=UNLIMITED, **options)[1])

    def key_of(user, **options):
        return key(user=user, **options)

    builders = {
        "anonymous": APIClient,
        "read key": lambda: key(scopes=["read"]),
        "write key": lambda: key(scopes=["write"]),
        "delete key": lambda: key(scopes=["delete"]),
        "webhooks-only key": lambda: key(scopes=["webhooks"]),
        "key for customers only": lambda: key(models=["customers"]),
        "superuser": lambda: bearer(superuser),
        "superuser key": lambda: key(),
        "user with view": lambda: bearer(make_user("viewer", "view_customers")),
        "user with view on both models": lambda: bearer(make_user("reader", "view_customers", "view_companies")),
        "user with add": lambda: bearer(make_user("adder", "add_customers")),
        "user with change": lambda: bearer(make_user("changer", "change_customers")),
        "user with delete": lambda: bearer(make_user("deleter", "delete_customers")),
        "user without permissions": lambda: bearer(make_user("nobody")),
        "all-scopes key of a user with view": lambda: key_of(make_user("viewer", "view_customers")),
        "read key of a user with add": lambda: key_of(make_user("adder", "add_customers"), scopes=["read"]),
    }
    return builders[name]()


def send(client: APIClient, op: str, world: dict):
    ann = f"{BASE}/customers/{world['ann']}"
    requests = {
        "list": lambda: client.get(f"{BASE}/customers"),
        "get": lambda: client.get(ann),
        "include": lambda: client.get(f"{ann}?include=company"),
        "include_list": lambda: client.get(f"{BASE}/customers?include=company"),
        "related_filter": lambda: client.get(f"{BASE}/customers?filter=company.name:~acm"),
        "other_model": lambda: client.get(f"{BASE}/companies"),
        "create": lambda: client.post(f"{BASE}/customers", {"name": "Bea", "company": world["acme"]}, format="json"),
        "replace": lambda: client.put(ann, {"name": "Ann Replaced"}, format="json"),
        "update": lambda: client.patch(ann, {"name": "Ann Patched"}, format="json"),
        "delete": lambda: client.delete(ann),
    }
    return requests[op]()


def names(data_model) -> list[str]:
    """The `name` column of every row, straight from the table."""
    return sorted(row[3] for row in rows(data_model))


CASES = [(who, op) for who in MATRIX for op in OPERATIONS]


@pytest.mark.parametrize(("who", "op"), CASES, ids=[f"{who}-{op}" for who, op in CASES])
def test_matrix(who, op, world, make_api_key, make_user, superuser, unchanged):
    reference = send(keyed(make_api_key(rate_limit=UNLIMITED)[1]), op, world) if op in READS else None
    client = caller(who, make_api_key, make_user, superuser)
    expected = MATRIX[who][op]

    if isinstance(expected, tuple):
        with unchanged(world["customers"], world["companies"]):
            response = send(client, op, world)
        status, code, message = expected
        assert response.status_code == status, response.content
        assert response.json() == error(response, code, message)
        return

    response = send(client, op, world)
    assert response.status_code == expected, response.content
    if op in READS:
        assert response.json() == reference.json()
    else:
        assert_written(op, response, world)


def assert_written(op: str, response, world: dict) -> None:
    """The write took effect in the table, and the answer shows it."""
    customers = world["customers"]
    if op == "delete":
        assert response.json() == {"success": True, "message": "Record deleted successfully"}
        assert names(customers) == []
        return
    data = response.json()["data"]
    expected_name = {"create": "Bea", "replace": "Ann Replaced", "update": "Ann Patched"}[op]
    assert data["name"] == expected_name
    assert names(customers) == sorted({"create": ["Ann", "Bea"]}.get(op, [expected_name]))
    assert data["company"] == (None if op == "replace" else world["acme"])


def test_the_matrix_covers_every_caller_and_operation():
    assert all(set(answers) == set(OPERATIONS) for answers in MATRIX.values())


@pytest.mark.parametrize("path", ["include=company", "filter=company.name:~acm"])
def test_a_reached_model_is_checked_on_the_list_too_for_keys_limited_elsewhere(world, make_api_key, path):
    """A key for `companies` only may not read customers to reach companies."""
    client = keyed(make_api_key(rate_limit=UNLIMITED, models=["companies"])[1])

    response = client.get(f"{BASE}/customers?{path}")

    assert response.status_code == 403
    assert response.json() == error(response, "FORBIDDEN", 'This API key may not access "customers"')


def test_a_nested_include_needs_view_on_every_model_it_crosses(world, make_user, make_api_key):
    """customers → company → (back to) its customers: each hop is checked."""
    from datamodels import services

    services.field_create(
        data_model=world["companies"], name="key_customer", type="relation", related_model=world["customers"]
    )
    reader = make_user("reader", "view_customers", "view_companies")
    limited = keyed(make_api_key(rate_limit=UNLIMITED, user=reader, models=["customers", "companies"])[1])
    allowed = limited.get(f"{BASE}/customers/{world['ann']}?include=company.key_customer")
    assert allowed.status_code == 200, allowed.content

    viewer = bearer(make_user("viewer", "view_customers"))
    refused = viewer.get(f"{BASE}/customers/{world['ann']}?include=company.key_customer")
    assert refused.status_code == 403
    assert refused.json() == error(refused, "FORBIDDEN", 'You may not view records of "companies"')


def test_a_superusers_key_limited_to_a_model_is_refused_elsewhere(world, make_api_key, unchanged):
    client = keyed(make_api_key(rate_limit=UNLIMITED, models=["customers"])[1])

    with unchanged(world["customers"], world["companies"]):
        response = client.post(f"{BASE}/companies", {"name": "Initech"}, format="json")

    assert response.status_code == 403
    assert response.json() == error(response, "FORBIDDEN", 'This API key may not access "companies"')


def test_permissions_granted_later_apply_at_once(world, make_user):
    """Django caches permissions per user object only; each request loads them afresh."""
    from .conftest import grant

    user = make_user("late")
    client = bearer(user)
    assert client.get(f"{BASE}/customers").status_code == 403

    grant(user, "view_customers")

    assert client.get(f"{BASE}/customers").status_code == 200


def test_a_refused_bulk_create_writes_nothing(world, make_user, unchanged):
    client = bearer(make_user("viewer", "view_customers"))

    with unchanged(world["customers"]):
        response = client.post(f"{BASE}/customers", [{"name": "X"}, {"name": "Y"}], format="json")

    assert response.status_code == 403
    assert response.json() == error(response, "FORBIDDEN", 'You may not add records of "customers"')


def test_an_unknown_model_is_404_for_anyone_authenticated(world, make_user):
    response = bearer(make_user("nobody")).get(f"{BASE}/nothing_here")

    assert response.status_code == 404
    assert response.json() == error(response, "NOT_FOUND", 'Unknown model "nothing_here"')
