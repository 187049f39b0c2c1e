"""Owners managing their API keys at /api/auth/keys over HTTP, and what a key may then do.

Keys are managed with a user's access token (a key cannot mint or revoke keys); the
raw key appears once, in the creation response. Refusals create and revoke nothing.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey

from .conftest import BASE, UNLIMITED, bearer, error, grant, keyed

pytestmark = pytest.mark.django_db

KEYS = "/api/auth/keys"
ME = "/api/auth/me"
KEY_FIELDS = {"prefix", "name", "scopes", "models", "rate_limit", "expires_at", "revoked_at", "last_used_at",
              "created_at"}


@pytest.fixture
def ann(make_user, customers):
    """A user who may view `customers` (and nothing more)."""
    return make_user("ann", "view_customers")


@pytest.fixture
def as_ann(ann):
    return bearer(ann)


def keys() -> list[tuple]:
    return list(ApiKey.objects.order_by("pk").values_list("user__username", "name", "revoked_at"))


def invalid(response, *details) -> dict:
    return {"error": {"code": "VALIDATION_ERROR", "message": "Invalid API key settings", "details": list(details),
                      "request_id": response["X-Request-ID"]}}


def test_creating_a_key_shows_it_once(as_ann, ann, customers):
    response = as_ann.post(KEYS, {"name": "laptop", "scopes": ["read"], "models": ["customers"]}, format="json")

    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    data = response.json()["data"]
    key = ApiKey.objects.get()
    assert set(data) == KEY_FIELDS | {"key"}
    assert {k: data[k] for k in ("prefix", "name", "scopes", "models", "rate_limit", "expires_at", "revoked_at",
                                 "last_used_at")} == {
        "prefix": key.prefix, "name": "laptop", "scopes": ["read"], "models": ["customers"],
        "rate_limit": "100/m,5000/d", "expires_at": None, "revoked_at": None, "last_used_at": None,
    }
    assert data["key"].startswith(key.prefix + "_") and key.user == ann
    listed = as_ann.get(KEYS)
    assert listed.status_code == 200
    assert listed.json() == {"data": [{k: v for k, v in data.items() if k != "key"}]}
    assert data["key"] not in listed.content.decode() and key.key_hash not in listed.content.decode()
    assert keyed(data["key"]).get(f"{BASE}/customers").status_code == 200


def test_defaults_are_every_scope_every_model_no_expiry(as_ann):
    data = as_ann.post(KEYS, {"name": "all"}, format="json").json()["data"]

    assert (data["scopes"], data["models"], data["expires_at"]) == (["read", "write", "delete", "webhooks"], [], None)


def test_expires_days_sets_an_expiry_and_an_expired_key_is_refused(as_ann, customers, unchanged):
    data = as_ann.post(KEYS, {"name": "short", "expires_days": 1}, format="json").json()["data"]
    key = ApiKey.objects.get()
    assert timedelta(hours=23) < key.expires_at - timezone.now() <= timedelta(days=1)
    assert data["expires_at"] is not None

    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with unchanged(customers):
        response = keyed(data["key"]).post(f"{BASE}/customers", {"name": "Eve"}, format="json")

    assert response.status_code == 401
    assert response.json() == error(response, "UNAUTHORIZED", "API key expired")


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({}, [{"field": "name", "message": "Give the key a name"}]),
        ({"name": "x", "scopes": ["read", "admin"]},
         [{"field": "scopes", "message": "Unknown scope admin; allowed: read, write, delete, webhooks"}]),
        ({"name": "x", "scopes": "read"}, [{"field": "scopes", "message": "Scopes must be a list of scope names"}]),
        ({"name": "x", "scopes": []},
         [{"field": "scopes", "message": "Give at least one scope of read, write, delete, webhooks"}]),
        ({"name": "x", "models": ["nope"]}, [{"field": "models", "message": "Unknown model nope"}]),
        ({"name": "x", "rate_limit": "lots"}, [{"field": "rate_limit", "message": (
            "Invalid rate limit 'lots': expected N/unit[,N/unit...] with N a whole number from 1 to "
            "9223372036854775807 and unit s, m, h or d, each unit once, e.g. 100/m,5000/d")}]),
        ({"name": "x", "rate_limit": 100},
         [{"field": "rate_limit", "message": "Rate limit must be a string such as 100/m,5000/d"}]),
        ({"name": "x", "expires_days": 0},
         [{"field": "expires_days", "message": "Expiry must be a whole number of days from 1 to 36500"}]),
        ({"name": " ", "scopes": ["x"], "expires_days": "3"}, [
            {"field": "name", "message": "Give the key a name"},
            {"field": "scopes", "message": "Unknown scope x; allowed: read, write, delete, webhooks"},
            {"field": "expires_days", "message": "Expiry must be a whole number of days from 1 to 36500"},
        ]),
    ],
    ids=["no-name", "unknown-scope", "scopes-not-a-list", "no-scope", "unknown-model", "bad-rate-limit",
         "rate-limit-not-a-string", "zero-days", "several-at-once"],
)
def test_bad_key_settings_are_400_and_create_nothing(as_ann, body, details):
    response = as_ann.post(KEYS, body, format="json")

    assert response.status_code == 400
    assert response.json() == invalid(response, *details)
    assert keys() == []


@pytest.mark.parametrize(
    ("rate", "stored"),
    [
        ("10/m", "10/m,5000/d"),
        ("10/m,1000/d", "10/m,1000/d"),
        (" 100/m , 5000/d", "100/m,5000/d"),
        ("10/h", "100/m,10/h,5000/d"),
        ("2/s", "2/s,100/m,5000/d"),
    ],
)
def test_an_owners_rate_limit_applies_on_top_of_the_default(as_ann, rate, stored):
    response = as_ann.post(KEYS, {"name": "slow", "rate_limit": rate}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["data"]["rate_limit"] == stored
    assert ApiKey.objects.get().rate_limit == stored


@pytest.mark.parametrize("rate", ["1000/m", "6000/d", "10/m,5001/d"])
def test_owners_may_not_loosen_their_keys_rate_limit(as_ann, rate):
    response = as_ann.post(KEYS, {"name": "fast", "rate_limit": rate}, format="json")

    assert response.status_code == 400
    assert response.json() == invalid(response, {"field": "rate_limit", "message": (
        f"Rate limit {rate} allows more than the default 100/m,5000/d; only an administrator can raise it")})
    assert keys() == []


def test_staff_who_may_add_keys_in_the_admin_may_loosen_it(make_user):
    staff = make_user("staff", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="add_apikey"))

    response = bearer(staff).post(KEYS, {"name": "batch", "rate_limit": "1000/m"}, format="json")

    assert response.status_code == 201
    assert response.json()["data"]["rate_limit"] == "1000/m"


def test_a_limit_may_count_as_far_as_the_64_bit_counters(make_user):
    """Counts past 9 digits are kept (the counters are bigint / Redis INCRBY) and enforced."""
    staff = make_user("staff", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="add_apikey"))
    huge = "9223372036854775807/s,10000000000/d"

    response = bearer(staff).post(KEYS, {"name": "batch", "rate_limit": huge}, format="json")
    too_big = bearer(staff).post(KEYS, {"name": "batch", "rate_limit": "9223372036854775808/s"}, format="json")

    assert response.status_code == 201
    assert response.json()["data"]["rate_limit"] == huge
    used = APIClient().get("/api/auth/me", HTTP_X_API_KEY=response.json()["data"]["key"])
    assert (used.status_code, used["X-RateLimit-Limit"], used["X-RateLimit-Remaining"]) == (
        200, "10000000000", "9999999999")
    assert too_big.status_code == 400
    assert too_big.json()["error"]["details"][0]["message"].endswith(
        "with N a whole number from 1 to 9223372036854775807 and unit s, m, h or d, each unit once, e.g. 100/m,5000/d")
    assert ApiKey.objects.filter(name="batch").count() == 1


def test_revoking_a_key_stops_it(as_ann, customers):
    data = as_ann.post(KEYS, {"name": "old"}, format="json").json()["data"]
    assert keyed(data["key"]).get(ME).status_code == 200

    response = as_ann.delete(f"{KEYS}/{data['prefix']}")

    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "API key revoked"}
    refused = keyed(data["key"]).get(f"{BASE}/customers")
    assert refused.status_code == 401
    assert refused.json() == error(refused, "UNAUTHORIZED", "API key revoked")
    assert as_ann.get(KEYS).json()["data"][0]["revoked_at"] is not None


def test_owners_see_and_revoke_only_their_own_keys(as_ann, make_user, make_api_key):
    bob = make_user("bob")
    bobs_key, bobs_raw = make_api_key(user=bob, name="bob's")
    as_ann.post(KEYS, {"name": "ann's"}, format="json")

    listed = as_ann.get(KEYS).json()["data"]
    response = as_ann.delete(f"{KEYS}/{bobs_key.prefix}")

    assert [k["name"] for k in listed] == ["ann's"]
    assert response.status_code == 404
    assert response.json() == error(response, "NOT_FOUND", "No such API key")
    assert keyed(bobs_raw).get(ME).status_code == 200
    assert ("bob", "bob's", None) in keys()


def test_an_unknown_prefix_is_404(as_ann):
    response = as_ann.delete(f"{KEYS}/inf_nope1234")

    assert response.status_code == 404
    assert response.json() == error(response, "NOT_FOUND", "No such API key")


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_api_key_cannot_manage_keys(make_api_key, method):
    key, raw = make_api_key(rate_limit=UNLIMITED)
    path = f"{KEYS}/{key.prefix}" if method == "delete" else KEYS

    response = getattr(keyed(raw), method)(path, {"name": "minted"}, format="json")

    assert response.status_code == 403
    assert response.json() == error(
        response, "FORBIDDEN", "API keys cannot manage API keys: log in and use an access token"
    )
    assert keys() == [("root", "test key", None)]


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_callers_cannot_manage_keys(method):
    response = getattr(APIClient(), method)(KEYS, {"name": "x"}, format="json")

    assert response.status_code == 401
    assert response.json() == error(response, "UNAUTHORIZED", "Authentication credentials were not provided.")
    assert keys() == []


def test_a_key_body_that_is_not_an_object_is_400(as_ann):
    response = as_ann.post(KEYS, ["laptop"], format="json")

    assert response.status_code == 400
    assert response.json() == error(response, "BAD_REQUEST", "The body must be a JSON object")
    assert keys() == []


def test_a_key_never_does_more_than_its_owner(as_ann, ann, customers, unchanged):
    raw = as_ann.post(KEYS, {"name": "everything"}, format="json").json()["data"]["key"]

    with unchanged(customers):
        response = keyed(raw).post(f"{BASE}/customers", {"name": "Eve"}, format="json")

    assert response.status_code == 403
    assert response.json() == error(response, "FORBIDDEN", 'You may not add records of "customers"')
    grant(ann, "add_customers")
    assert keyed(raw).post(f"{BASE}/customers", {"name": "Eve"}, format="json").status_code == 201


def test_the_keys_of_a_deactivated_user_are_refused_and_change_nothing(as_ann, ann, customers, unchanged):
    grant(ann, "add_customers")
    raw = as_ann.post(KEYS, {"name": "k"}, format="json").json()["data"]["key"]
    ann.is_active = False
    ann.save()

    with unchanged(customers):
        response = keyed(raw).post(f"{BASE}/customers", {"name": "Eve"}, format="json")

    assert response.status_code == 401
    assert response.json() == error(response, "UNAUTHORIZED", "API key owner is inactive")


def test_keys_never_reach_the_logs(as_ann, customers, caplog):
    caplog.set_level(logging.DEBUG)
    raw = as_ann.post(KEYS, {"name": "k"}, format="json").json()["data"]["key"]
    secret = raw.split("_", 2)[2]

    keyed(raw).get(f"{BASE}/customers")  # 200
    keyed(raw).post(f"{BASE}/customers", {"name": "Eve"}, format="json")  # 403, logged
    keyed(raw[:-1] + ("A" if raw[-1] != "A" else "B")).get(ME)  # 401, logged
    as_ann.delete(f"{KEYS}/{raw[:12]}")
    keyed(raw).get(ME)  # 401 revoked, logged

    assert caplog.records
    assert secret not in caplog.text and secret[:-1] not in caplog.text


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"name": "lap\x00top"}, {"field": "name", "message": "Name must not contain NUL characters"}),
        ({"name": "laptop", "models": ["cust\x00omers"]}, {"field": "models", "message": "Unknown model cust\x00omers"}),
    ],
    ids=["name", "models"],
)
def test_nul_characters_in_key_settings_are_refused_by_field(as_ann, ann, body, detail):
    response = as_ann.post(KEYS, body, format="json")

    assert response.status_code == 400
    assert response.json() == invalid(response, detail)
    assert keys() == []
