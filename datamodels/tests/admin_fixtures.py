"""Fixtures of the admin tests (builder and records browser): a logged-in client, fresh schema cache."""

import pytest

from datamodels import dynamic

PASSWORD = "s3cret-pass-123"  # the root conftest's `superuser`


@pytest.fixture(autouse=True)
def fresh_schema_cache():
    """Each test's rolled-back transaction reuses schema version numbers, so drop cached classes."""
    dynamic._cache.update(version=None, schema=None)
    yield
    dynamic._cache.update(version=None, schema=None)


@pytest.fixture
def admin_client(client, superuser):
    client.login(username="root", password=PASSWORD)
    return client
