"""`manage.py apikey create|list|revoke` as an operator runs it (SPEC §2)."""

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from accounts.models import ApiKey
from datamodels.models import DataModel

pytestmark = pytest.mark.django_db

RAW_KEY = re.compile(r"inf_[0-9A-Za-z]{8}_[A-Za-z0-9_-]{43}")


def apikey(*args) -> str:
    out = StringIO()
    call_command("apikey", *args, stdout=out)
    return out.getvalue()


def create(*args) -> tuple[ApiKey, str]:
    """Runs `apikey create`; returns the new key and the raw key from the last line of output."""
    raw = apikey("create", *args).splitlines()[-1]
    assert RAW_KEY.fullmatch(raw)
    return ApiKey.objects.get(prefix=raw[:12]), raw


def me(raw: str):
    return APIClient().get("/api/auth/me", HTTP_X_API_KEY=raw)


@pytest.fixture
def customers():
    # A key only references the definition row, so no table is needed behind it.
    return DataModel.objects.create(name="customers")


@pytest.fixture
def orders():
    return DataModel.objects.create(name="orders")


def test_create_with_defaults_prints_a_key_that_works(superuser):
    key, raw = create("--name", "ci")

    assert me(raw).status_code == 200
    assert me(raw).json()["data"]["id"] == superuser.pk
    assert (key.name, key.user, key.scopes, key.rate_limit, key.expires_at) == (
        "ci",
        superuser,
        ["read", "write", "delete", "webhooks"],
        "",
        None,
    )
    assert list(key.models.all()) == []


def test_create_with_every_option(superuser, django_user_model, customers, orders):
    django_user_model.objects.create_user("bob", "bob@example.com")

    key, raw = create(
        "--name", "etl", "--user", "bob", "--scopes", "write, read", "--models", "orders,customers",
        "--rate-limit", "5000/d, 10/s", "--expires", "30",
    )  # fmt: skip

    assert key.user.username == "bob"
    assert key.scopes == ["read", "write"]
    assert sorted(model.name for model in key.models.all()) == ["customers", "orders"]
    assert key.rate_limit == "10/s,5000/d"
    assert 29 < (key.expires_at - key.created_at).total_seconds() / 86400 <= 30
    assert me(raw).json()["data"]["email"] == "bob@example.com"


def test_create_takes_counts_past_nine_digits(superuser):
    key, raw = create("--name", "batch", "--rate-limit", "20000000000/d")

    assert key.rate_limit == "20000000000/d"
    assert (me(raw)["X-RateLimit-Limit"], me(raw)["X-RateLimit-Remaining"]) == ("20000000000", "19999999998")


def test_create_without_a_superuser_makes_admin_with_an_unusable_password():
    key, raw = create("--name", "first")

    owner = get_user_model().objects.get(username="admin")
    assert key.user == owner
    assert owner.is_superuser and owner.is_staff
    assert not owner.has_usable_password()
    assert me(raw).status_code == 200


def test_create_prefers_an_existing_superuser_over_creating_admin(superuser):
    create("--name", "x")

    assert not get_user_model().objects.filter(username="admin").exists()


def test_create_refuses_to_promote_an_ordinary_admin_user(django_user_model):
    django_user_model.objects.create_user("admin", "a@example.com")

    with pytest.raises(CommandError, match="name an owner"):
        apikey("create", "--name", "x")

    assert not django_user_model.objects.get(username="admin").is_superuser


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["create", "--name", "x", "--user", "nobody"], "Unknown user 'nobody'"),
        (["create", "--name", "x", "--scopes", "read,admin"], "scopes: Unknown scope admin"),
        (["create", "--name", "x", "--scopes", ","], "scopes: Give at least one scope"),
        (["create", "--name", "x", "--models", "customers,ghosts"], "models: Unknown model ghosts"),
        (["create", "--name", "x", "--rate-limit", "100/x"], "rate_limit: Invalid rate limit '100/x'"),
        (["create", "--name", "x", "--rate-limit", "0/m"], "rate_limit: Invalid rate limit '0/m'"),
        (["create", "--name", "x", "--rate-limit", "1/m,2/m"], "rate_limit: .* gives the /m window twice"),
        (["create", "--name", "x", "--rate-limit", "100"], "rate_limit: Invalid rate limit '100'"),
        (["create", "--name", "x", "--expires", "0"], "expires_days: Expiry must be a whole number of days"),
        (["create", "--name", "x", "--expires", "-3"], "expires_days: Expiry must be a whole number of days"),
        (["create", "--name", "x", "--expires", "soon"], "argument --expires: invalid int value: 'soon'"),
        (["create", "--name", "   "], "name: Give the key a name"),
        (["create"], "the following arguments are required: --name"),
        (["revoke", "inf_nothere"], "No API key with prefix 'inf_nothere'"),
        (["revoke"], "the following arguments are required: PREFIX"),
        ([], "the following arguments are required: {create,list,revoke}"),
        (["rotate"], "invalid choice: 'rotate'"),
    ],
)
def test_bad_input_is_a_one_line_error_and_writes_nothing(args, reason, customers):
    users_before = get_user_model().objects.count()

    with pytest.raises(CommandError, match=reason) as error:
        apikey(*args)

    assert "\n" not in str(error.value)
    assert ApiKey.objects.count() == 0
    # Not even the default `admin` owner, which create makes before validating the rest.
    assert get_user_model().objects.count() == users_before


def test_an_error_names_every_bad_option_at_once(superuser):
    with pytest.raises(CommandError) as error:
        apikey("create", "--name", "x", "--scopes", "root", "--rate-limit", "fast")

    assert str(error.value).startswith("Invalid API key settings: scopes: Unknown scope root")
    assert "; rate_limit: Invalid rate limit 'fast'" in str(error.value)


def test_create_for_an_inactive_user_is_refused(django_user_model):
    django_user_model.objects.create_user("gone", is_active=False)

    with pytest.raises(CommandError, match="user: User 'gone' is inactive"):
        apikey("create", "--name", "x", "--user", "gone")

    assert ApiKey.objects.count() == 0


def test_list_shows_keys_but_never_their_hash_or_secret(superuser, customers):
    key, raw = create("--name", "reporting", "--scopes", "read", "--models", "customers", "--expires", "7")
    revoked, _ = create("--name", "old")
    apikey("revoke", revoked.prefix)
    me(raw)

    output = apikey("list")

    lines = output.splitlines()
    assert lines[0].split() == ["PREFIX", "NAME", "OWNER", "SCOPES", "MODELS", "EXPIRES", "REVOKED", "LAST", "USED"]
    row = next(line for line in lines if line.startswith(key.prefix)).split()
    assert row[:5] == [key.prefix, "reporting", "root", "read", "customers"]
    assert row[5] == key.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert row[6] == "no"
    assert row[7] != "never"
    old = next(line for line in lines if line.startswith(revoked.prefix)).split()
    assert old[2:8] == ["root", "read,write,delete,webhooks", "all", "never", old[6], "never"]
    assert old[6] != "no"
    assert key.key_hash not in output and revoked.key_hash not in output
    assert raw not in output and raw[13:] not in output


def test_list_without_keys():
    assert apikey("list") == "No API keys.\n"


def test_revoke_is_idempotent_and_keeps_the_first_time(superuser):
    key, raw = create("--name", "x")

    output = apikey("revoke", key.prefix)
    key.refresh_from_db()
    first = key.revoked_at
    apikey("revoke", key.prefix)
    key.refresh_from_db()

    assert output == f"Revoked API key {key.prefix} (x) at {first.strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
    assert first is not None and key.revoked_at == first
    assert me(raw).status_code == 401


@pytest.mark.parametrize("args", [["--help"], ["create", "--help"], ["list", "--help"], ["revoke", "--help"]])
def test_every_subcommand_has_help(args, capsys):
    with pytest.raises(SystemExit) as exit_:
        call_command("apikey", *args)

    assert exit_.value.code == 0
    assert "usage: " in capsys.readouterr().out
