"""Fixtures for the accounts tests: callers with settled rate-limit windows, JWT clients, sample models.

Rate limits are counted in fixed windows that django-ratelimit aligns per caller (a
caller's windows end at `crc32(identity) % period` past the period's start). A test
that counts down must not straddle a window's end, so the fixtures hand out callers
(keys, users, client IPs) whose windows have at least `MARGIN` seconds left: no test
depends on when it runs. (Counters start from zero in every test: see the root conftest.)
"""

from __future__ import annotations

import itertools
import time
from contextlib import contextmanager

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django_ratelimit.core import _get_window
from rest_framework.test import APIClient

from accounts.ratelimits import parse_rate_limit
from accounts.users import tokens_for
from datamodels import dynamic, services
from datamodels.models import SchemaState
from datamodels.permissions import APP_LABEL

BASE = "/api/public/data"
# Far above what any test sends, for callers whose limit is not under test.
UNLIMITED = "100000000/m"
MARGIN = 30  # seconds a caller's windows must still have to run


@pytest.fixture(autouse=True)
def fresh_schema_cache():
    """Forget generated classes: rolled-back tests reuse schema version numbers."""
    dynamic._cache.update(version=None, schema=None)
    yield
    dynamic._cache.update(version=None, schema=None)


def seconds_left(identity: str, rate: str) -> int:
    """The fewest seconds any window of `rate` has left for `identity` right now."""
    now = int(time.time())
    return min(_get_window(identity, seconds) - now for _, seconds in parse_rate_limit(rate))


def window_end(identity: str, seconds: int) -> int:
    """Unix time at which `identity`'s current window of `seconds` ends (X-RateLimit-Reset)."""
    return _get_window(identity, seconds)


@pytest.fixture
def limited_key(make_api_key):
    """`limited_key("3/h", scopes=[...])` → (ApiKey, raw): a new key whose windows are far from ending.

    An empty rate means the key follows the global INFINITY_RATE_LIMIT.
    """

    def make(rate: str = "", **options):
        while True:
            key, raw = make_api_key(rate_limit=rate, **options)
            if seconds_left(f"key:{key.prefix}", key.effective_rate_limit) >= MARGIN:
                return key, raw
            key.delete()

    return make


@pytest.fixture
def settled_user(make_user):
    """`settled_user("ann", rate)`: a user whose per-user windows of `rate` are far from ending."""
    names = itertools.count(1)

    def make(username: str, rate: str, *codenames: str):
        while True:
            user = make_user(f"{username}{next(names)}", *codenames)
            if seconds_left(f"user:{user.pk}", rate) >= MARGIN:
                return user
            user.delete()

    return make


_ips = itertools.count(1)


def settled_ip(identity_prefix: str, rate: str) -> str:
    """A client IP (TEST-NET-3) whose windows for `identity_prefix + ip` are far from ending."""
    while True:
        n = next(_ips)
        ip = f"203.0.{n // 250 % 250}.{n % 250 + 1}"
        if seconds_left(f"{identity_prefix}{ip}", rate) >= MARGIN:
            return ip


# --- users and their clients -----------------------------------------------------

def bearer(user) -> APIClient:
    """A client sending `Authorization: Bearer <access token>` of `user`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for(user)['access']}")
    return client


def keyed(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    return client


def grant(user, *codenames: str) -> None:
    """Give `user` permissions such as `view_customers` through a group, as the admin does."""
    group, _ = Group.objects.get_or_create(name=f"group of {user.get_username()}")
    for codename in codenames:
        group.permissions.add(Permission.objects.get(content_type__app_label=APP_LABEL, codename=codename))
    user.groups.add(group)


@pytest.fixture
def make_user(django_user_model):
    """`make_user("ann", "view_customers", ...)`: an active user holding those data permissions."""

    def make(username: str, *codenames: str, **fields):
        user = django_user_model.objects.create_user(
            username, f"{username}@example.com", "s3cret-pass-789", **fields
        )
        grant(user, *codenames)
        return user

    return make


# --- sample data models -------------------------------------------------------------

@pytest.fixture
def companies(db):
    return services.data_model_create(name="companies", fields=[{"name": "name", "type": "text", "required": True}])


@pytest.fixture
def customers(companies):
    """`customers` (name, company → companies)."""
    return services.data_model_create(
        name="customers",
        fields=[
            {"name": "name", "type": "text", "required": True},
            {"name": "company", "type": "relation", "related_model": companies},
        ],
    )


def fetch(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def rows(data_model) -> list[tuple]:
    """Every row of a model's table, read with SQL (never through the code under test)."""
    return fetch(f'SELECT * FROM "{data_model.db_table}" ORDER BY id')


@pytest.fixture
def unchanged():
    """`with unchanged(model, ...):` asserts the models' tables hold the same rows afterwards."""

    @contextmanager
    def check(*data_models):
        before = [rows(m) for m in data_models]
        yield
        assert [rows(m) for m in data_models] == before

    return check


def error(response, code: str, message: str) -> dict:
    """The exact SPEC §5 envelope of an error without details, tied to the response's request id."""
    return {"error": {"code": code, "message": message, "request_id": response["X-Request-ID"]}}


@pytest.fixture(scope="module")
def _schema_state_after_flush(django_db_blocker):
    """Put back the schema-state row that flushing a transactional test's tables removes."""
    yield
    with django_db_blocker.unblock():
        SchemaState.objects.get_or_create(pk=1, defaults={"version": 1})
