"""A user's API keys on their admin page: listed, revocable (after a confirmation), and a
link to the key add form pre-filled with that user. Driven with Django's test client.
"""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission

from accounts.models import ApiKey

from .conftest import keyed

pytestmark = pytest.mark.django_db

ME = "/api/auth/me"
RAW_KEY = re.compile(r"inf_[0-9A-Za-z]{8}_[A-Za-z0-9_-]{43}")


def user_page(user) -> str:
    return f"/admin/auth/user/{user.pk}/change/"


def revoke_page(key) -> str:
    return f"/admin/accounts/apikey/{key.pk}/revoke/"


def hrefs(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]+)"', html)]


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", "s3cret-pass-000")


def test_the_user_page_lists_keys_with_revoke_links_and_an_add_link(admin_client, bob, make_api_key):
    live, _ = make_api_key(user=bob, name="laptop")
    dead, _ = make_api_key(user=bob, name="old phone")
    ApiKey.objects.filter(pk=dead.pk).update(revoked_at="2024-01-01T00:00:00Z")
    make_api_key(name="root's own")

    response = admin_client.get(user_page(bob))

    assert response.status_code == 200
    html = response.content.decode()
    links = hrefs(html)
    assert f"{revoke_page(live)}?next=%2Fadmin%2Fauth%2Fuser%2F{bob.pk}%2Fchange%2F" in links
    assert not [link for link in links if link.startswith(revoke_page(dead))]
    assert f"/admin/accounts/apikey/add/?user={bob.pk}" in links
    assert "laptop" in html and "old phone" in html and "root&#x27;s own" not in html


def test_the_add_link_pre_fills_the_owner_and_the_key_is_shown_once(admin_client, bob):
    form = admin_client.get(f"/admin/accounts/apikey/add/?user={bob.pk}")
    assert form.context["adminform"].form.initial["user"] == str(bob.pk)

    created = admin_client.post("/admin/accounts/apikey/add/", {
        "name": "for bob", "user": str(bob.pk), "scopes": ["read"], "models": [], "rate_limit": "",
        "expires_at_0": "", "expires_at_1": "",
    })

    assert created.status_code == 200
    (raw,) = set(RAW_KEY.findall(created.content.decode()))
    assert ApiKey.objects.get().user == bob
    assert user_page(bob) in hrefs(created.content.decode())
    assert keyed(raw).get(ME).json()["data"]["id"] == bob.pk
    assert raw not in admin_client.get(user_page(bob)).content.decode()


def test_revoking_asks_first_then_revokes_and_returns_to_the_user(admin_client, bob, make_api_key):
    key, raw = make_api_key(user=bob, name="laptop")
    back = user_page(bob)

    confirm = admin_client.get(f"{revoke_page(key)}?next={back}")
    assert confirm.status_code == 200
    assert "Yes, revoke it" in confirm.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is None and keyed(raw).get(ME).status_code == 200

    response = admin_client.post(revoke_page(key), {"next": back})

    assert response.status_code == 302 and response["Location"] == back
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert keyed(raw).get(ME).status_code == 401
    assert f"Revoked API key {key.prefix}." in admin_client.get(back).content.decode()
    assert LogEntry.objects.filter(object_id=str(key.pk), change_message="Revoked.").count() == 1


def test_revoking_twice_keeps_the_first_time(admin_client, make_api_key):
    key, _ = make_api_key()
    admin_client.post(revoke_page(key))
    key.refresh_from_db()
    first = key.revoked_at

    page = admin_client.get(revoke_page(key)).content.decode()
    admin_client.post(revoke_page(key))

    key.refresh_from_db()
    assert key.revoked_at == first
    assert "was already revoked" in page and "Yes, revoke it" not in page


def test_next_must_stay_on_this_site(admin_client, make_api_key):
    key, _ = make_api_key()

    response = admin_client.post(revoke_page(key), {"next": "https://evil.example.com/"})

    assert response["Location"] == f"/admin/accounts/apikey/{key.pk}/change/"


def test_the_key_page_links_to_revoking_it(admin_client, make_api_key):
    key, _ = make_api_key()

    html = admin_client.get(f"/admin/accounts/apikey/{key.pk}/change/").content.decode()

    assert revoke_page(key) in hrefs(html)


def test_revoking_needs_the_change_permission(client, make_api_key, django_user_model):
    key, raw = make_api_key()
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_apikey"))
    client.force_login(viewer)

    assert client.get(revoke_page(key)).status_code == 403
    assert client.post(revoke_page(key)).status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None


def test_staff_get_the_add_link_only_on_their_own_page(client, bob, django_user_model):
    staff = django_user_model.objects.create_user("staff", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["add_apikey", "view_user", "change_user"]))
    client.force_login(staff)

    own = hrefs(client.get(user_page(staff)).content.decode())
    other = hrefs(client.get(user_page(bob)).content.decode())

    assert f"/admin/accounts/apikey/add/?user={staff.pk}" in own
    assert not [link for link in other if link.startswith("/admin/accounts/apikey/add/?")]


def test_no_add_link_without_the_add_permission_or_for_inactive_users(client, admin_client, bob, django_user_model):
    bob.is_active = False
    bob.save()
    staff = django_user_model.objects.create_user("staff", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "change_user"]))
    client.force_login(staff)

    for html in (client.get(user_page(staff)).content.decode(), admin_client.get(user_page(bob)).content.decode()):
        assert not [link for link in hrefs(html) if link.startswith("/admin/accounts/apikey/add/?")]


def test_an_unknown_key_redirects_like_any_missing_object(admin_client):
    response = admin_client.get("/admin/accounts/apikey/999999/revoke/")

    assert response.status_code == 302 and response["Location"] == "/admin/"
