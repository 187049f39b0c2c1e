"""The admin "Settings page" for API keys: create (key shown once), view, revoke; keys on users."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from accounts.models import ApiKey
from datamodels.models import DataModel

pytestmark = pytest.mark.django_db

ADD = "/admin/accounts/apikey/add/"
CHANGELIST = "/admin/accounts/apikey/"
RAW_KEY = re.compile(r"inf_[0-9A-Za-z]{8}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def add_form(user, **overrides) -> dict:
    data = {
        "name": "dashboard",
        "user": str(user.pk),
        "scopes": ["read", "write"],
        "models": [],
        "rate_limit": "",
        "expires_at_0": "",
        "expires_at_1": "",
    }
    return {**data, **overrides}


def me(raw: str):
    return APIClient().get("/api/auth/me", HTTP_X_API_KEY=raw)


def test_the_add_form_offers_scopes_as_checkboxes_all_ticked(admin_client):
    html = admin_client.get(ADD).content.decode()

    for scope in ("read", "write", "delete", "webhooks"):
        assert re.search(rf'<input type="checkbox" name="scopes" value="{scope}"[^>]*checked', html)
    assert 'name="key_hash"' not in html and 'name="prefix"' not in html


def test_adding_a_key_shows_it_once_and_it_works(admin_client, superuser):
    customers = DataModel.objects.create(name="customers")

    response = admin_client.post(ADD, add_form(superuser, models=[str(customers.pk)], rate_limit="10/s"))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    (raw,) = set(RAW_KEY.findall(html))
    key = ApiKey.objects.get()
    assert raw.startswith(key.prefix + "_")
    assert (key.name, key.user, key.scopes, key.rate_limit) == ("dashboard", superuser, ["read", "write"], "10/s")
    assert list(key.models.all()) == [customers]
    assert me(raw).status_code == 200
    assert LogEntry.objects.filter(object_id=str(key.pk)).count() == 1
    for page in (CHANGELIST, f"{CHANGELIST}{key.pk}/change/", f"/admin/auth/user/{superuser.pk}/change/"):
        shown = admin_client.get(page).content.decode()
        assert key.prefix in shown
        assert raw not in shown and key.key_hash not in shown


def test_the_add_form_takes_counts_past_nine_digits(admin_client, superuser):
    response = admin_client.post(ADD, add_form(superuser, rate_limit="10000000000/m"))

    assert response.status_code == 200
    assert ApiKey.objects.get().rate_limit == "10000000000/m"


def test_a_bad_add_form_shows_errors_and_creates_nothing(admin_client, superuser):
    response = admin_client.post(ADD, add_form(superuser, scopes=[], rate_limit="lots", expires_at_0="2001-01-01"))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["scopes"] == ["This field is required."]
    assert errors["rate_limit"][0].startswith("Invalid rate limit 'lots'")
    assert ApiKey.objects.count() == 0


def test_the_service_rules_reach_the_add_form(admin_client, superuser, django_user_model):
    gone = django_user_model.objects.create_user("gone", is_active=False)

    response = admin_client.post(ADD, add_form(gone, expires_at_0="2001-01-01", expires_at_1="00:00:00"))

    errors = response.context["adminform"].form.errors
    assert errors["user"] == ["User 'gone' is inactive"]
    assert errors["expires_at"] == ["Expiry must be a time in the future"]
    assert ApiKey.objects.count() == 0


def test_a_key_page_is_view_only(admin_client, make_api_key):
    key, _ = make_api_key(name="original")

    response = admin_client.post(f"{CHANGELIST}{key.pk}/change/", {"name": "renamed"})

    assert response.status_code == 403
    key.refresh_from_db()
    assert key.name == "original"


def test_the_revoke_action_revokes_the_selected_keys(admin_client, make_api_key):
    first, first_raw = make_api_key(name="one")
    second, second_raw = make_api_key(name="two")
    kept, kept_raw = make_api_key(name="three")

    response = admin_client.post(
        CHANGELIST, {"action": "revoke_selected", "_selected_action": [str(first.pk), str(second.pk)]}
    )

    assert response.status_code == 302
    assert ApiKey.objects.filter(revoked_at__isnull=False).count() == 2
    assert me(first_raw).status_code == 401
    assert me(second_raw).status_code == 401
    assert me(kept_raw).status_code == 200
    assert "Revoked 2 API key(s)." in admin_client.get(response["Location"]).content.decode()


def test_the_user_page_lists_the_users_keys_read_only(admin_client, superuser, make_api_key):
    key, _ = make_api_key(name="mine")

    html = admin_client.get(f"/admin/auth/user/{superuser.pk}/change/").content.decode()

    assert key.prefix in html and "mine" in html
    assert 'name="api_keys-0-name"' not in html
    assert admin_client.get("/admin/auth/user/add/").status_code == 200


def test_staff_without_superuser_rights_can_only_create_keys_for_themselves(client, superuser, django_user_model):
    staff = django_user_model.objects.create_user("staff", "staff@example.com", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="add_apikey"))
    client.force_login(staff)

    refused = client.post(ADD, add_form(superuser))
    created = client.post(ADD, add_form(staff))

    assert "user" in refused.context["adminform"].form.errors
    assert created.status_code == 200
    assert list(ApiKey.objects.values_list("user__username", flat=True)) == ["staff"]
