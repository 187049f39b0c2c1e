"""Fixtures shared by every app's tests: an HTTP client and a superuser."""

import pytest
from rest_framework.test import APIClient

pytest_plugins = ["infinity.testing.browser"]


@pytest.fixture
def client_api():
    """A DRF test client: requests go through the full middleware stack."""
    return APIClient()


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "s3cret-pass-123")


@pytest.fixture
def make_api_key(superuser):
    """Creates API keys through `apikey_create`: `make_api_key(scopes=["read"])` -> (ApiKey, raw key).

    Keys belong to `superuser` and are named "test key" unless told otherwise.
    """
    from accounts.services import apikey_create

    def make(**options):
        options.setdefault("user", superuser)
        options.setdefault("name", "test key")
        return apikey_create(**options)

    return make


@pytest.fixture
def key_client(client_api, make_api_key):
    """An APIClient that sends a fresh all-scopes key of `superuser` in X-API-Key."""
    _, raw = make_api_key()
    client_api.credentials(HTTP_X_API_KEY=raw)
    return client_api


def pytest_configure(config):
    """Rate-limit keys of this test run get their own prefix, so a shared Redis is never flushed."""
    import os

    from django.conf import settings

    settings.CACHES["ratelimit"]["KEY_PREFIX"] = f"rl-test-{os.getpid()}"


@pytest.fixture(autouse=True)
def fresh_rate_limit_counters(django_db_setup, django_db_blocker):
    """Each test counts from zero. Redis keeps counters across tests and so does the
    counter table in transactional tests (it is not a Django model, so not flushed);
    this process's leases on them go too."""
    from django.conf import settings
    from django.core.cache import caches

    from accounts import ratelimits

    ratelimits._leases.clear()  # what this process reserved from the counters cleared below
    cache = caches["ratelimit"]
    if settings.REDIS_URL:
        client = cache._cache.get_client(write=True)
        prefix = settings.CACHES["ratelimit"]["KEY_PREFIX"]
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
    else:
        with django_db_blocker.unblock():
            cache.clear()


@pytest.fixture(autouse=True)
def fresh_key_cache():
    """No test trusts a key another test authenticated (its rows were rolled back)."""
    from accounts import keycache

    keycache.clear()


@pytest.fixture
def database_url(db) -> str:
    """A DATABASE_URL for this run's test database, for servers started in other processes."""
    from urllib.parse import quote

    from django.db import connection

    settings = connection.settings_dict
    port = f":{settings['PORT']}" if settings["PORT"] else ""
    credentials = f"{quote(settings['USER'])}:{quote(settings['PASSWORD'] or '')}"
    return f"postgres://{credentials}@{quote(settings['HOST'], safe='')}{port}/{settings['NAME']}"
