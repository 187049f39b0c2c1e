"""Users with JWTs over HTTP: sign up, log in, refresh, log out, `me`, and Bearer on the records API.

Refused requests are checked to change nothing (no user, no token made or spent).
Signup and login share a per-IP limit of 5 a minute, so no test here sends more than
five of them from one address (the limit itself is tested in test_rate_limits).
"""

from __future__ import annotations

import logging
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.users import tokens_for

from .conftest import BASE, error, grant, rows

pytestmark = pytest.mark.django_db

SIGNUP, LOGIN, REFRESH, LOGOUT, ME = (f"/api/auth/{p}" for p in ("signup", "login", "refresh", "logout", "me"))
PASSWORD = "correct horse battery staple"
INVALID_TOKEN = "Invalid or expired access token"
def users() -> list[tuple]:
    return list(get_user_model().objects.order_by("pk").values_list("username", "email", "first_name"))


def signup(client, **body):
    return client.post(SIGNUP, body, format="json")


def login(client, email="ann@example.com", password=PASSWORD):
    return client.post(LOGIN, {"email": email, "password": password}, format="json")


@pytest.fixture
def ann(django_user_model):
    return django_user_model.objects.create_user("ann@example.com", "ann@example.com", PASSWORD, first_name="Ann")


def validation(response, *details) -> dict:
    return {"error": {"code": "VALIDATION_ERROR", "message": "Invalid field value", "details": list(details),
                      "request_id": response["X-Request-ID"]}}


def me_with(token: str):
    return APIClient().get(ME, HTTP_AUTHORIZATION=f"Bearer {token}")


# --- signup ---------------------------------------------------------------------------

def test_signup_creates_a_user_and_logs_them_in(client_api):
    response = signup(client_api, email="Ann@Example.com", password=PASSWORD, name="Ann Lee")

    assert response.status_code == 201
    body = response.json()
    user = get_user_model().objects.get()
    assert set(body) == {"user", "access", "refresh"}
    assert body["user"] == {"id": user.pk, "email": "ann@example.com", "name": "Ann Lee", "is_staff": False}
    assert (user.username, user.email, user.is_staff, user.is_superuser) == ("ann@example.com",) * 2 + (False,) * 2
    assert user.check_password(PASSWORD)
    assert "no-store" in response["Cache-Control"]
    assert me_with(body["access"]).json() == {"data": body["user"]}


def test_a_new_user_has_no_model_permissions(client_api, customers):
    access = signup(client_api, email="ann@example.com", password=PASSWORD).json()["access"]

    response = APIClient().get(f"{BASE}/customers", HTTP_AUTHORIZATION=f"Bearer {access}")

    assert response.status_code == 403
    assert response.json() == error(response, "FORBIDDEN", 'You may not view records of "customers"')


def test_name_defaults_to_the_email(client_api):
    response = signup(client_api, email="bo@example.com", password=PASSWORD)

    assert response.json()["user"]["name"] == "bo@example.com"


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({}, [{"field": "email", "message": "This field is required"},
              {"field": "password", "message": "This field is required"}]),
        ({"email": "not-an-email", "password": PASSWORD},
         [{"field": "email", "message": "Must be a valid email address"}]),
        ({"email": 42, "password": PASSWORD}, [{"field": "email", "message": "This field is required"}]),
        ({"email": "a" * 140 + "@example.com", "password": PASSWORD},
         [{"field": "email", "message": "Must be at most 150 characters"}]),
        ({"email": "ann@example.com", "password": ["x"]},
         [{"field": "password", "message": "This field is required"}]),
        ({"email": "ann@example.com", "password": PASSWORD, "name": "x" * 151},
         [{"field": "name", "message": "Must be a string of at most 150 characters"}]),
        ({"email": "ann@example.com", "password": "short"},
         [{"field": "password", "message": "This password is too short. It must contain at least 8 characters."}]),
        ({"email": "ann@example.com", "password": "password123"},
         [{"field": "password", "message": "This password is too common."}]),
        ({"email": "ann@example.com", "password": "83920174651"},
         [{"field": "password", "message": "This password is entirely numeric."}]),
        ({"email": "ann.lee.writer@example.com", "password": "ann.lee.writer"},
         [{"field": "password", "message": "The password is too similar to the email address."}]),
    ],
    ids=["empty", "bad-email", "email-not-a-string", "email-too-long", "password-not-a-string", "name-too-long",
         "too-short", "too-common", "numeric", "like-the-email"],
)
def test_bad_signups_are_400_and_create_nothing(client_api, body, details):
    response = signup(client_api, **body)

    assert response.status_code == 400
    assert response.json() == validation(response, *details)
    assert users() == []


def test_a_duplicate_email_is_409_whatever_its_case(client_api, ann):
    response = signup(client_api, email="ANN@example.COM", password=PASSWORD)

    assert response.status_code == 409
    assert response.json() == error(response, "CONFLICT", "An account with this email already exists")
    assert users() == [("ann@example.com", "ann@example.com", "Ann")]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code", "message"),
    [
        ("email=a%40example.com&password=x", "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE",
         'Unsupported media type "application/x-www-form-urlencoded" in request.'),
        ('{"email": "a@example.com"', "application/json", 400, "BAD_REQUEST",
         "JSON parse error - Expecting ',' delimiter: line 1 column 26 (char 25)"),
        ('["a@example.com"]', "application/json", 400, "BAD_REQUEST", "The body must be a JSON object"),
    ],
    ids=["form-encoded", "malformed-json", "array"],
)
def test_unparseable_signups_change_nothing(client_api, content, content_type, status, code, message):
    response = client_api.post(SIGNUP, content, content_type=content_type)

    assert response.status_code == status
    assert response.json() == error(response, code, message)
    assert users() == []


# --- login ------------------------------------------------------------------------

def test_login_answers_the_user_and_a_token_pair(client_api, ann):
    response = login(client_api, email=" ANN@example.com ")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"user", "access", "refresh"}
    assert body["user"] == {"id": ann.pk, "email": "ann@example.com", "name": "Ann", "is_staff": False}
    assert "no-store" in response["Cache-Control"]
    assert me_with(body["access"]).status_code == 200


@pytest.mark.parametrize(
    ("email", "password"),
    [("ann@example.com", "wrong password!"), ("nobody@example.com", PASSWORD)],
    ids=["wrong-password", "unknown-email"],
)
def test_bad_credentials_get_the_same_401(client_api, ann, email, password):
    response = login(client_api, email=email, password=password)

    assert response.status_code == 401
    assert response.json() == error(response, "UNAUTHORIZED", "Invalid email or password")
    assert OutstandingToken.objects.count() == 0


def test_an_inactive_user_cannot_log_in(client_api, ann):
    ann.is_active = False
    ann.save()

    response = login(client_api)

    assert response.status_code == 401
    assert response.json() == error(response, "UNAUTHORIZED", "Invalid email or password")


def test_login_needs_both_fields(client_api):
    response = client_api.post(LOGIN, {"email": "ann@example.com"}, format="json")

    assert response.status_code == 400
    assert response.json() == validation(response, {"field": "password", "message": "This field is required"})


# --- refresh and logout --------------------------------------------------------------

def test_refresh_rotates_and_the_old_refresh_token_dies(client_api, ann):
    first = tokens_for(ann)

    response = client_api.post(REFRESH, {"refresh": first["refresh"]}, format="json")

    assert response.status_code == 200
    second = response.json()
    assert set(second) == {"access", "refresh"} and second["refresh"] != first["refresh"]
    assert "no-store" in response["Cache-Control"]
    assert me_with(second["access"]).status_code == 200
    again = client_api.post(REFRESH, {"refresh": first["refresh"]}, format="json")
    assert again.status_code == 401
    assert again.json() == error(again, "UNAUTHORIZED", "Invalid or expired refresh token")
    assert client_api.post(REFRESH, {"refresh": second["refresh"]}, format="json").status_code == 200


def test_logout_kills_the_refresh_token(client_api, ann):
    pair = tokens_for(ann)

    response = client_api.post(LOGOUT, {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert BlacklistedToken.objects.count() == 1
    for path in (REFRESH, LOGOUT):
        dead = client_api.post(path, {"refresh": pair["refresh"]}, format="json")
        assert dead.status_code == 401
        assert dead.json() == error(dead, "UNAUTHORIZED", "Invalid or expired refresh token")
    assert BlacklistedToken.objects.count() == 1


def expired_refresh(user) -> str:
    token = RefreshToken.for_user(user)
    token.set_exp(from_time=timezone.now() - timedelta(days=30), lifetime=timedelta(days=1))
    return str(token)


@pytest.mark.parametrize("path", [REFRESH, LOGOUT])
@pytest.mark.parametrize(
    "token",
    [
        lambda user: "not-a-token",
        lambda user: tokens_for(user)["access"],
        expired_refresh,
        lambda user: jwt.encode({"token_type": "refresh", "user_id": str(user.pk), "jti": "x",
                                 "exp": 4102444800}, "someone else's secret, long enough for HS256", algorithm="HS256"),
    ],
    ids=["garbage", "an-access-token", "expired", "foreign-signature"],
)
def test_bad_refresh_tokens_are_401_and_change_nothing(client_api, ann, path, token):
    response = client_api.post(path, {"refresh": token(ann)}, format="json")

    assert response.status_code == 401
    assert response.json() == error(response, "UNAUTHORIZED", "Invalid or expired refresh token")
    assert BlacklistedToken.objects.count() == 0


@pytest.mark.parametrize("path", [REFRESH, LOGOUT])
def test_a_missing_refresh_token_is_400(client_api, path):
    response = client_api.post(path, {}, format="json")

    assert response.status_code == 400
    assert response.json() == validation(response, {"field": "refresh", "message": "This field is required"})


# --- Bearer tokens ----------------------------------------------------------------

def test_me_with_a_bearer_token(ann):
    response = me_with(tokens_for(ann)["access"])

    assert response.status_code == 200
    assert response.json() == {"data": {"id": ann.pk, "email": "ann@example.com", "name": "Ann", "is_staff": False}}


def test_a_bearer_token_works_on_every_records_endpoint(ann, customers):
    grant(ann, "view_customers", "add_customers", "change_customers", "delete_customers")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for(ann)['access']}")

    created = client.post(f"{BASE}/customers", {"name": "Bea"}, format="json")
    record = f"{BASE}/customers/{created.json()['data']['id']}"
    answers = [
        created.status_code,
        client.get(f"{BASE}/customers").status_code,
        client.get(record).status_code,
        client.put(record, {"name": "Bea Replaced"}, format="json").status_code,
        client.patch(record, {"name": "Bea Patched"}, format="json").status_code,
        client.delete(record).status_code,
        client.get(record).status_code,
    ]

    assert answers == [201, 200, 200, 200, 200, 200, 404]


def access_token(user, **claims) -> str:
    token = AccessToken.for_user(user)
    for claim, value in claims.items():
        token[claim] = value
    return str(token)


def expired_access(user) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(from_time=timezone.now() - timedelta(hours=1), lifetime=timedelta(minutes=15))
    return str(token)


BAD_ACCESS_TOKENS = {
    "garbage": lambda user: "garbage",
    "truncated": lambda user: tokens_for(user)["access"][:-5],
    "expired": expired_access,
    "a-refresh-token": lambda user: tokens_for(user)["refresh"],
    "foreign-signature": lambda user: jwt.encode(
        {"token_type": "access", "user_id": str(user.pk), "jti": "x", "exp": 4102444800},
        "not our secret, though long enough for HS256", algorithm="HS256"),
    "alg-none": lambda user: jwt.encode(
        {"token_type": "access", "user_id": str(user.pk), "jti": "x", "exp": 4102444800}, None, algorithm="none"),
}


@pytest.mark.parametrize("make_token", BAD_ACCESS_TOKENS.values(), ids=BAD_ACCESS_TOKENS.keys())
def test_bad_access_tokens_are_401_and_write_nothing(ann, customers, unchanged, make_token):
    grant(ann, "add_customers")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(ann)}")

    with unchanged(customers):
        response = client.post(f"{BASE}/customers", {"name": "Eve"}, format="json")

    unauthorized_without_detail(response)
    assert "X-RateLimit-Limit" not in response  # nobody was identified, so nothing was counted


def unauthorized_without_detail(response) -> None:
    """A 401 in the envelope; the exact sentence is checked by the tests below."""
    assert response.status_code == 401
    body = response.json()
    assert set(body["error"]) == {"code", "message", "request_id"}
    assert (body["error"]["code"], body["error"]["request_id"]) == ("UNAUTHORIZED", response["X-Request-ID"])


def deactivate(user) -> None:
    user.is_active = False
    user.save()


GONE_USERS = {
    "deactivated": (deactivate, "User is inactive"),
    "deleted": (lambda user: user.delete(), "User not found"),
}


@pytest.mark.parametrize(("change", "message"), GONE_USERS.values(), ids=GONE_USERS.keys())
def test_the_token_of_a_deactivated_or_deleted_user_is_401(ann, customers, unchanged, change, message):
    grant(ann, "add_customers")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for(ann)['access']}")
    change(ann)

    with unchanged(customers):
        response = client.post(f"{BASE}/customers", {"name": "Eve"}, format="json")

    unauthorized_without_detail(response)


def test_a_malformed_authorization_header_is_401(ann):
    unauthorized_without_detail(APIClient().get(ME, HTTP_AUTHORIZATION="Bearer two parts"))


@pytest.mark.parametrize("make_token", BAD_ACCESS_TOKENS.values(), ids=BAD_ACCESS_TOKENS.keys())
def test_bad_access_tokens_say_so_in_a_sentence(ann, make_token):
    response = me_with(make_token(ann))

    assert response.json() == error(response, "UNAUTHORIZED", INVALID_TOKEN)


@pytest.mark.parametrize(("change", "message"), GONE_USERS.values(), ids=GONE_USERS.keys())
def test_the_token_of_a_gone_user_says_why(ann, change, message):
    token = tokens_for(ann)["access"]
    change(ann)

    response = me_with(token)

    assert response.json() == error(response, "UNAUTHORIZED", message)


def test_a_malformed_authorization_header_says_why(ann):
    response = APIClient().get(ME, HTTP_AUTHORIZATION="Bearer two parts")

    assert response.json() == error(
        response, "UNAUTHORIZED", "Authorization header must contain two space-delimited values"
    )


def test_a_wrong_content_type_on_a_records_write_is_415_and_writes_nothing(ann, customers, unchanged):
    grant(ann, "add_customers")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for(ann)['access']}")

    with unchanged(customers):
        response = client.post(f"{BASE}/customers", "name=Eve", content_type="text/plain")

    assert response.status_code == 415
    assert response.json() == error(
        response, "UNSUPPORTED_MEDIA_TYPE", 'Unsupported media type "text/plain" in request.'
    )
    assert rows(customers) == []


def test_tokens_and_passwords_never_reach_the_logs(client_api, ann, caplog):
    caplog.set_level(logging.DEBUG)
    pair = login(client_api).json()
    secrets = [PASSWORD, pair["access"], pair["refresh"]]
    rotated = client_api.post(REFRESH, {"refresh": pair["refresh"]}, format="json").json()
    secrets += [rotated["access"], rotated["refresh"]]
    me_with(rotated["access"])
    me_with(pair["refresh"])  # a refresh token where an access token belongs: refused, and logged as such
    client_api.post(LOGOUT, {"refresh": rotated["refresh"]}, format="json")
    client_api.post(LOGIN, {"email": "ann@example.com", "password": "wrong " + PASSWORD}, format="json")

    assert caplog.records  # the refusals above were logged...
    assert not [s for s in secrets + ["wrong " + PASSWORD] if s in caplog.text]  # ...without a secret


def test_the_access_token_lifetime_is_short():
    assert settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] <= timedelta(minutes=15)


# --- NUL characters, which PostgreSQL cannot store or compare -----------------------

def test_a_name_with_a_nul_character_is_refused_and_nobody_signs_up(client_api, db):
    response = signup(client_api, email="nul@example.com", password=PASSWORD, name="An\x00n")

    assert response.status_code == 400
    assert response.json() == validation(response, {"field": "name", "message": "Must not contain NUL characters"})
    assert users() == []


def test_logging_in_with_a_nul_in_the_email_is_just_wrong_credentials(client_api, ann):
    response = login(client_api, email="ann@example.com\x00")

    assert response.status_code == 401
    assert response.json() == error(response, "UNAUTHORIZED", "Invalid email or password")
