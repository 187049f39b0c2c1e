"""CORS (django-cors-headers) for the origins in INFINITY_CORS_ORIGINS, over HTTP.

Browsers enforce CORS; the server's part is to answer preflights and to mark responses
(errors and 429s included) readable by allowed origins, exposing the headers clients
need: X-RateLimit-*, Retry-After, X-Request-ID, ETag.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from .conftest import BASE, bearer, keyed

pytestmark = pytest.mark.django_db

APP = "https://app.example.com"
EXPOSED = {"x-request-id", "etag", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
           "retry-after", "idempotent-replayed"}
@pytest.fixture(autouse=True)
def allowed_origins(settings):
    settings.CORS_ALLOWED_ORIGINS = [APP, "http://localhost:5173"]


def preflight(path: str, origin: str = APP, method: str = "GET", headers: str = "authorization"):
    return APIClient().options(path, HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
                               HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers)


def listed(header_value: str) -> set[str]:
    return {item.strip().lower() for item in header_value.split(",")}


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_a_preflight_from_an_allowed_origin_is_answered(customers, method):
    response = preflight(f"{BASE}/customers", method=method, headers="authorization, content-type")

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    assert method.lower() in listed(response["Access-Control-Allow-Methods"])
    assert {"authorization", "content-type"} <= listed(response["Access-Control-Allow-Headers"])
    assert response["Access-Control-Max-Age"] == "86400"


def test_a_preflight_needs_no_credentials_and_counts_nothing(customers):
    response = preflight(f"{BASE}/customers")

    assert response.content == b""
    assert "X-RateLimit-Limit" not in response


def test_responses_to_an_allowed_origin_expose_the_api_headers(customers, superuser):
    response = bearer(superuser).get(f"{BASE}/customers", HTTP_ORIGIN=APP)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    assert listed(response["Access-Control-Expose-Headers"]) == EXPOSED
    assert "origin" in listed(response["Vary"])


def test_errors_are_readable_by_an_allowed_origin_too(customers):
    response = APIClient().get(f"{BASE}/customers", HTTP_ORIGIN="http://localhost:5173")

    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == "http://localhost:5173"


def test_a_429_is_readable_so_the_client_sees_retry_after(customers, limited_key):
    _, raw = limited_key("1/h")
    client = keyed(raw)
    client.get(f"{BASE}/customers", HTTP_ORIGIN=APP)

    response = client.get(f"{BASE}/customers", HTTP_ORIGIN=APP)

    assert response.status_code == 429
    assert response["Access-Control-Allow-Origin"] == APP
    assert "retry-after" in listed(response["Access-Control-Expose-Headers"])


@pytest.mark.parametrize("origin", ["https://evil.example.com", "https://app.example.com.evil.example", "null"])
def test_other_origins_get_no_cors_headers(customers, superuser, origin):
    assert "Access-Control-Allow-Origin" not in preflight(f"{BASE}/customers", origin=origin)
    response = bearer(superuser).get(f"{BASE}/customers", HTTP_ORIGIN=origin)
    assert "Access-Control-Allow-Origin" not in response


def test_auth_endpoints_and_health_are_cors_enabled(db):
    assert preflight("/api/auth/login", method="POST", headers="content-type")["Access-Control-Allow-Origin"] == APP
    assert APIClient().get("/api/health", HTTP_ORIGIN=APP)["Access-Control-Allow-Origin"] == APP


def test_credentials_are_not_allowed_cross_origin(customers):
    """Tokens travel in headers, never cookies: browsers must not send cookies cross-site."""
    assert "Access-Control-Allow-Credentials" not in preflight(f"{BASE}/customers")


@pytest.mark.parametrize("header", ["x-api-key", "idempotency-key", "if-match", "if-none-match", "x-request-id"])
def test_a_preflight_allows_the_headers_the_api_reads(customers, header):
    response = preflight(f"{BASE}/customers", method="POST", headers=f"content-type, {header}")

    assert header in listed(response["Access-Control-Allow-Headers"])


def settings_in_a_fresh_process(**env) -> dict:
    """CORS settings as a new process computes them from its environment."""
    code = ("import json, django; from django.conf import settings; django.setup(); "
            "print(json.dumps({'origins': settings.CORS_ALLOWED_ORIGINS, "
            "'all': getattr(settings, 'CORS_ALLOW_ALL_ORIGINS', False)}))")
    environment = {k: v for k, v in os.environ.items() if k != "INFINITY_CORS_ORIGINS"}
    environment.update(DJANGO_SETTINGS_MODULE="infinity.settings", **env)
    done = subprocess.run([sys.executable, "-c", code], env=environment, cwd=django_settings.BASE_DIR,
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_origins_come_from_the_environment():
    assert settings_in_a_fresh_process(INFINITY_CORS_ORIGINS=" https://a.example.com ,https://b.example.com:8443,") == {
        "origins": ["https://a.example.com", "https://b.example.com:8443"], "all": False,
    }


def test_no_origin_is_allowed_by_default():
    assert settings_in_a_fresh_process() == {"origins": [], "all": False}


def test_a_refused_oversized_body_still_carries_cors_headers(customers, superuser, settings):
    """A browser can only read the 413 (and tell the user why) when CORS headers are on it."""
    settings.INFINITY = {**settings.INFINITY, "MAX_BODY_BYTES": 50}

    response = bearer(superuser).post(f"{BASE}/customers", {"name": "x" * 100}, format="json", HTTP_ORIGIN=APP)

    assert response.status_code == 413
    assert response["Access-Control-Allow-Origin"] == APP
