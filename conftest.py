"""Fixtures shared by every app's tests: an HTTP client and a superuser."""

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def client_api():
    """A DRF test client: requests go through the full middleware stack."""
    return APIClient()


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "s3cret-pass-123")
