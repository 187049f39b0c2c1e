"""`GET /api/auth/me` through `X-API-Key`: who may in, what 401s say, and last-use tracking."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import keycache
from accounts.models import ApiKey

pytestmark = pytest.mark.django_db

ME = "/api/auth/me"


def unauthorized(response, message):
    """The exact SPEC §5 envelope of a 401, tied to the response's own request id."""
    return {"error": {"code": "UNAUTHORIZED", "message": message, "request_id": response["X-Request-ID"]}}


def test_a_created_key_authenticates_as_its_owner(client_api, make_api_key, superuser):
    _, raw = make_api_key()

    response = client_api.get(ME, HTTP_X_API_KEY=raw)

    assert response.status_code == 200
    assert response.json() == {
        "data": {"id": superuser.pk, "email": "root@example.com", "name": "root", "is_staff": True}
    }


def test_name_is_the_full_name_when_there_is_one(client_api, make_api_key, django_user_model):
    user = django_user_model.objects.create_user("ann", "ann@example.com", first_name="Ann", last_name="Lee")
    _, raw = make_api_key(user=user)

    response = client_api.get(ME, HTTP_X_API_KEY=raw)

    assert response.status_code == 200
    assert response.json() == {"data": {"id": user.pk, "email": "ann@example.com", "name": "Ann Lee", "is_staff": False}}


def test_me_answers_only_get(key_client):
    response = key_client.post(ME, {}, format="json")

    assert response.status_code == 405
    assert response.json() == {
        "error": {
            "code": "METHOD_NOT_ALLOWED",
            "message": 'Method "POST" not allowed.',
            "request_id": response["X-Request-ID"],
        }
    }


def test_surrounding_whitespace_in_the_header_is_ignored(client_api, make_api_key):
    _, raw = make_api_key()

    assert client_api.get(ME, HTTP_X_API_KEY=f"  {raw} ").status_code == 200


def test_no_credentials_is_401_with_the_envelope(client_api):
    response = client_api.get(ME, HTTP_X_REQUEST_ID="trace-42")

    assert response.status_code == 401
    assert response["X-Request-ID"] == "trace-42"
    assert response["WWW-Authenticate"] == 'ApiKey realm="api"'
    assert response.json() == unauthorized(response, "Authentication credentials were not provided.")


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda raw: raw[:13] + ("A" * 43 if raw[13] != "A" else "B" * 43), id="wrong-secret"),
        pytest.param(lambda raw: "inf_zzzzzzzz" + raw[12:], id="unknown-prefix"),
        pytest.param(lambda raw: raw + "x", id="too-long"),
        pytest.param(lambda raw: raw[:12], id="prefix-only"),
        pytest.param(lambda raw: raw.replace("inf_", "sk_", 1), id="foreign-format"),
        pytest.param(lambda raw: "", id="empty"),
        pytest.param(lambda raw: "not a key", id="garbage"),
    ],
)
def test_a_bad_key_is_401_invalid(client_api, make_api_key, mangle):
    _, raw = make_api_key()

    response = client_api.get(ME, HTTP_X_API_KEY=mangle(raw))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'ApiKey realm="api"'
    assert response.json() == unauthorized(response, "Invalid API key")


def test_an_expired_key_is_401(client_api, make_api_key):
    key, raw = make_api_key(expires_days=1)
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client_api.get(ME, HTTP_X_API_KEY=raw)

    assert response.status_code == 401
    assert response.json() == unauthorized(response, "API key expired")


def test_a_key_that_has_not_expired_yet_works(client_api, make_api_key):
    _, raw = make_api_key(expires_days=1)

    assert client_api.get(ME, HTTP_X_API_KEY=raw).status_code == 200


def test_a_revoked_key_is_401(client_api, make_api_key):
    key, raw = make_api_key()
    assert client_api.get(ME, HTTP_X_API_KEY=raw).status_code == 200

    call_command("apikey", "revoke", key.prefix, stdout=StringIO())
    response = client_api.get(ME, HTTP_X_API_KEY=raw)

    assert response.status_code == 401
    assert response.json() == unauthorized(response, "API key revoked")


def test_a_wrong_secret_on_a_revoked_key_says_only_invalid(client_api, make_api_key):
    key, raw = make_api_key()
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())

    response = client_api.get(ME, HTTP_X_API_KEY=key.prefix + "_" + "A" * 43)

    assert response.json() == unauthorized(response, "Invalid API key")


def test_the_key_of_an_inactive_owner_is_401(client_api, make_api_key, superuser):
    _, raw = make_api_key()
    superuser.is_active = False
    superuser.save()

    response = client_api.get(ME, HTTP_X_API_KEY=raw)

    assert response.status_code == 401
    assert response.json() == unauthorized(response, "API key owner is inactive")


def test_last_used_at_is_written_once_a_minute_at_most(client_api, make_api_key):
    key, raw = make_api_key()
    assert key.last_used_at is None

    client_api.get(ME, HTTP_X_API_KEY=raw)
    key.refresh_from_db()
    first_use = key.last_used_at
    assert first_use is not None

    with CaptureQueriesContext(connection) as queries:
        assert client_api.get(ME, HTTP_X_API_KEY=raw).status_code == 200
    key.refresh_from_db()
    assert key.last_used_at == first_use
    key_writes = [q for q in queries if q["sql"].lstrip().upper().startswith('UPDATE "ACCOUNTS_APIKEY"')]
    assert not key_writes

    a_while_ago = timezone.now() - timedelta(minutes=2)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=a_while_ago)
    keycache.clear()  # as the cached copy expires after INFINITY_KEY_CACHE_SECONDS
    client_api.get(ME, HTTP_X_API_KEY=raw)
    key.refresh_from_db()
    assert key.last_used_at > a_while_ago + timedelta(minutes=1)


def test_a_failed_authentication_does_not_touch_last_used_at(client_api, make_api_key):
    key, raw = make_api_key()
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())

    client_api.get(ME, HTTP_X_API_KEY=raw)

    key.refresh_from_db()
    assert key.last_used_at is None


def test_only_the_hash_of_the_key_is_stored(make_api_key):
    key, raw = make_api_key()
    secret = raw[len(key.prefix) + 1 :]

    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(k)::text FROM accounts_apikey k WHERE id = %s", [key.pk])
        (row,) = cursor.fetchone()

    assert key.prefix in row
    assert secret not in row
    assert raw not in row
    assert len(key.key_hash) == 64


def test_keys_have_the_documented_format(make_api_key):
    key, raw = make_api_key()

    assert key.prefix.startswith("inf_") and len(key.prefix) == 12
    assert raw.startswith(key.prefix + "_")
    assert len(raw) == len(key.prefix) + 1 + 43
