"""JWT sessions: `Client.login` signs in, and the access token is refreshed before or when it expires."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from infinity_client import AsyncClient, Client, Unauthorized

EMAIL, PASSWORD = "pat@example.com", "a-long-enough-passphrase-42"


@pytest.fixture
def pat(committed_schema, django_user_model):
    """A superuser with a password the server can check (its own hasher; few rounds, so quick here)."""
    user = django_user_model.objects.create_superuser(EMAIL, EMAIL)
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, "saltsaltsalt", iterations=1000)
    user.save(update_fields=["password"])
    return user


def paths(wire, start: int = 0) -> list[tuple[str, str, int]]:
    return [(q.method, q.url.path, r.status_code) for q, r in zip(wire.requests[start:], wire.responses[start:])]


def expired_access_token(user) -> str:
    """An access token the server signed alike (same key), whose `exp` has passed."""
    token = AccessToken.for_user(user)
    token.set_exp(from_time=timezone.now() - dt.timedelta(hours=1), lifetime=dt.timedelta(minutes=1))
    return str(token)


def test_login_then_refresh_before_and_after_expiry(server_url, customers, pat, wire):
    with Client.login(EMAIL, PASSWORD, base_url=server_url, event_hooks=wire.hooks()) as client:
        assert client.user["email"] == EMAIL and client.me()["email"] == EMAIL
        assert client.models.customers.list().total == 0
        sent = wire.requests[-1].headers
        assert sent["authorization"] == f"Bearer {client.tokens.access}" and "x-api-key" not in sent

        # An access token past its `exp` is replaced before the call.
        first_refresh = client.tokens.refresh
        client.tokens.update(expired_access_token(pat), None)
        mark = len(wire.requests)
        assert client.models.customers.list().total == 0
        assert paths(wire, mark) == [("POST", "/api/auth/refresh", 200), ("GET", "/api/public/data/customers", 200)]
        assert client.tokens.refresh != first_refresh  # rotated
        assert not client.tokens.expiring()

        # One the client cannot read is tried, refused, refreshed and tried again, once.
        client.tokens.access, client.tokens.expires_at = "not-a-token", None
        mark = len(wire.requests)
        assert client.models.customers.create({"name": "by pat"})["name"] == "by pat"
        assert paths(wire, mark) == [("POST", "/api/public/data/customers", 401), ("POST", "/api/auth/refresh", 200),
                                     ("POST", "/api/public/data/customers", 201)]
        assert wire.requests[mark].headers["idempotency-key"] == wire.requests[-1].headers["idempotency-key"]

        refresh = client.tokens.refresh
        client.logout()
        with pytest.raises(Unauthorized):  # that refresh token is dead on the server
            client.request("POST", "/api/auth/refresh", json={"refresh": refresh})


def test_a_wrong_password_raises_unauthorized(server_url, pat, wire):
    with pytest.raises(Unauthorized) as caught:
        Client.login(EMAIL, "wrong password", base_url=server_url, event_hooks=wire.hooks())

    assert caught.value.code == "UNAUTHORIZED" and paths(wire) == [("POST", "/api/auth/login", 401)]


def test_async_login_refreshes_too(server_url, customers, pat, wire):
    async def scenario():
        client = await AsyncClient.login(EMAIL, PASSWORD, base_url=server_url, event_hooks=wire.async_hooks())
        async with client:
            client.tokens.update(expired_access_token(pat), None)
            page = await client.models.customers.list()
            return page, await client.me()

    page, me = asyncio.run(scenario())

    assert page.total == 0 and me["email"] == EMAIL
    assert [p for p in paths(wire)] == [("POST", "/api/auth/login", 200), ("POST", "/api/auth/refresh", 200),
                                        ("GET", "/api/public/data/customers", 200), ("GET", "/api/auth/me", 200)]
