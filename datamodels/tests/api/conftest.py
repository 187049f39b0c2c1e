"""Fixtures for the records API tests: an authenticated client, sample models, table snapshots.

Every test talks HTTP to `/api/public/data/...` through the whole middleware stack
against real PostgreSQL; tables are inspected with raw SQL, never through the code
under test, so a refused request can be shown to have changed nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
from django.db import connection
from rest_framework.test import APIClient

from datamodels import services

BASE = "/api/public/data"
RECORD_ID = re.compile(r"^rec_[0-9A-HJKMNP-TV-Z]{26}$")
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
# A generous limit of our own, so a test's many requests never meet the rate limiter.
TEST_RATE_LIMIT = "100000000/m"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The users behind the keys need a password; the real hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _real_key(user) -> str | None:
    """A raw API key from `accounts.services.apikey_create`, or None while accounts cannot make one."""
    try:
        from accounts.services import apikey_create
    except ImportError:
        return None
    try:
        _, raw = apikey_create(user=user, name="records api tests", rate_limit=TEST_RATE_LIMIT)
    except TypeError:  # an apikey_create without rate limits
        _, raw = apikey_create(user=user, name="records api tests")
    return raw


@pytest.fixture
def api(superuser) -> APIClient:
    """A client authenticated with a real `X-API-Key` (falls back to force_authenticate)."""
    client = APIClient()
    raw = _real_key(superuser)
    if raw is None:
        client.force_authenticate(superuser)
        client.auth_mode = "force_authenticate"
    else:
        client.credentials(HTTP_X_API_KEY=raw)
        client.auth_mode = "api_key"
    return client


@pytest.fixture
def other_api(django_user_model) -> APIClient:
    """A second caller: another user with a key of their own."""
    user = django_user_model.objects.create_superuser("other", "other@example.com", "s3cret-pass-456")
    client = APIClient()
    raw = _real_key(user)
    if raw is None:
        client.force_authenticate(user)
    else:
        client.credentials(HTTP_X_API_KEY=raw)
    return client


# --- sample models ----------------------------------------------------------------

@pytest.fixture
def companies(db):
    return services.data_model_create(
        name="companies",
        fields=[
            {"name": "name", "type": "text", "required": True},
            {"name": "country", "type": "text"},
        ],
    )


@pytest.fixture
def projects(db):
    return services.data_model_create(
        name="projects",
        fields=[{"name": "title", "type": "text", "required": True}, {"name": "budget", "type": "integer"}],
    )


def customer_fields(companies, projects) -> list[dict]:
    """One field of every type, with every option the validation rules need."""
    return [
        {"name": "name", "type": "text", "required": True, "max_length": 50},
        {"name": "email", "type": "email", "unique": True},
        {"name": "website", "type": "url"},
        {"name": "status", "type": "select", "choices": ["active", "inactive", "lead"], "default": "lead"},
        {"name": "tags", "type": "multi_select", "choices": ["red", "green", "blue"]},
        {"name": "age", "type": "integer", "min_value": 0, "max_value": 150},
        {"name": "score", "type": "number"},
        {"name": "total", "type": "number", "decimal_places": 2, "min_value": 0},
        {"name": "vip", "type": "boolean", "default": False},
        {"name": "birthday", "type": "date"},
        {"name": "last_seen", "type": "datetime"},
        {"name": "notes", "type": "long_text"},
        {"name": "meta", "type": "json"},
        {"name": "code", "type": "text", "regex": "^[A-Z]{3}$"},
        {"name": "company", "type": "relation", "related_model": companies},
        {"name": "projects", "type": "relation", "related_model": projects, "many": True},
        {"name": "embedding", "type": "vector", "dimensions": 3},
    ]


@pytest.fixture
def customers(companies, projects):
    """`customers`: every field type; relations to `companies` (to-one) and `projects` (to-many)."""
    return services.data_model_create(name="customers", fields=customer_fields(companies, projects))


# Every field of `customers` as a fresh record shows it when the body names only `name`.
CUSTOMER_DEFAULTS = {
    "name": None, "email": None, "website": None, "status": "lead", "tags": None, "age": None, "score": None,
    "total": None, "vip": False, "birthday": None, "last_seen": None, "notes": None, "meta": None, "code": None,
    "company": None, "projects": [],
}


# --- talking to the API -----------------------------------------------------------

def url(model: str, record_id: str | None = None, **params) -> str:
    path = f"{BASE}/{model}" + (f"/{record_id}" if record_id else "")
    if not params:
        return path
    return f"{path}?{urlencode(params, doseq=True)}"


def create(api, model: str, data: dict) -> dict:
    """POST one record that must be accepted; returns its JSON."""
    response = api.post(url(model), data, format="json")
    assert response.status_code == 201, response.content
    return response.json()["data"]


def error_of(response, status: int, code: str) -> dict:
    """Assert an error envelope with this status and code; return its `error` object."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert error["request_id"] == response["X-Request-ID"]
    assert isinstance(error["message"], str) and error["message"]
    return error


# --- looking at tables directly -------------------------------------------------

def fetch(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def table_rows(data_model) -> list[tuple]:
    """Every row of a model's table and of its join tables, in a stable order."""
    rows = [("row", *row) for row in fetch(f'SELECT * FROM "{data_model.db_table}" ORDER BY id')]
    for field in data_model.fields.filter(type="relation", many=True):
        rows += [("join", field.name, *row) for row in
                 fetch(f'SELECT source_id, target_id FROM "{field.join_table}" ORDER BY source_id, target_id')]
    return rows


def count(data_model) -> int:
    return fetch(f'SELECT count(*) FROM "{data_model.db_table}"')[0][0]


@pytest.fixture
def unchanged():
    """`with unchanged(model, ...):` asserts the tables hold exactly the same rows afterwards."""

    @contextmanager
    def check(*data_models):
        before = [table_rows(m) for m in data_models]
        yield
        assert [table_rows(m) for m in data_models] == before

    return check


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
