"""Representations of accounts objects in the API, and the shapes of its bodies for OpenAPI.

`UserSerializer` and `ApiKeySerializer` render responses. The request serializers
below only describe bodies in `/api/schema`: the views hand bodies to the services,
which validate them (one `details` entry per bad field), so these never validate.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import MinimumLengthValidator, get_default_password_validators
from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import SCOPES, ApiKey
from accounts.services import MAX_EXPIRES_DAYS
from accounts.users import MAX_NAME
from datamodels.api.openapi import MODEL_NAME_MARK

# The email is the username too, whose column is the shorter of the two.
EMAIL_MAX_LENGTH = min(get_user_model()._meta.get_field(name).max_length for name in ("username", "email"))
# The rules `accounts.users` and `accounts.services` apply, as patterns `/api/schema` shows (the
# serializers never validate: see the module docstring). PostgreSQL text cannot hold U+0000.
NO_NUL = RegexValidator(r"^[^\x00]*$")
KEY_NAME = RegexValidator(r"^[^\x00]*[^\s\x00][^\x00]*$")  # stripped, it must not be empty
NOT_ONLY_DIGITS = RegexValidator(r"\D")
PASSWORD_MIN_LENGTH = max([v.min_length for v in get_default_password_validators()
                           if isinstance(v, MinimumLengthValidator)] or [1])
RATE_LIMIT_HELP = "`N/unit[,N/unit...]` with unit `s`, `m`, `h` or `d`, e.g. `100/m,5000/d`."


def _rate_limit_pattern() -> str:
    """Blank, or windows as `accounts.ratelimits` parses them, each unit once (written in s, m, h, d order)."""
    window, sep = "[1-9][0-9]{0,8}/%s", "\\s*,\\s*"
    units = "smhd"
    chains = []
    for mask in range(1, 16):
        chains.append(sep.join(window % unit for bit, unit in enumerate(units) if mask & (1 << bit)))
    return f"^\\s*(?:(?:{'|'.join(chains)})\\s*)?$"


RATE_LIMIT = RegexValidator(_rate_limit_pattern())


class UserSerializer(serializers.Serializer):
    """A user as `GET /api/auth/me` shows it: id, email, display name, staff flag."""

    id = serializers.IntegerField(read_only=True)
    # Not an EmailField: users made in the admin or by `createsuperuser` may have none.
    email = serializers.CharField(read_only=True, help_text="The login email; empty for users made without one.")
    name = serializers.SerializerMethodField(help_text="The full name, else the username.")
    is_staff = serializers.BooleanField(read_only=True)

    def get_name(self, user) -> str:
        return user.get_full_name() or user.get_username()


class ApiKeySerializer(serializers.Serializer):
    """An API key as its owner sees it: never the hash, the raw key only at creation."""

    prefix = serializers.CharField(read_only=True, help_text="The visible part of the key, e.g. `inf_ab12cd34`.")
    name = serializers.CharField(read_only=True)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=SCOPES), read_only=True)
    models = serializers.SerializerMethodField(help_text="Data models the key may touch; empty means all.")
    rate_limit = serializers.CharField(source="effective_rate_limit", read_only=True,
                                       help_text=f"The limit in force. {RATE_LIMIT_HELP}")
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    revoked_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_used_at = serializers.DateTimeField(read_only=True, allow_null=True,
                                             help_text="Updated at most once a minute.")
    created_at = serializers.DateTimeField(read_only=True)

    def get_models(self, key) -> list[str]:
        return sorted(m.name for m in key.models.all())


# --- request bodies (documentation only) ---------------------------------------------

@extend_schema_field({"type": "string", MODEL_NAME_MARK: True})
class DataModelNameField(serializers.CharField):
    """The name of a data model: `/api/schema` lists those the caller may read."""


class SignupRequestSerializer(serializers.Serializer):
    """The body of `POST /api/auth/signup`."""

    email = serializers.EmailField(max_length=EMAIL_MAX_LENGTH, help_text="The login, stored lower-case; an "
                                   "email already taken (in any case) is a 409 `CONFLICT`.")
    password = serializers.CharField(min_length=PASSWORD_MIN_LENGTH, validators=[NOT_ONLY_DIGITS], help_text=(
        f"Must pass Django's password validators: at least {PASSWORD_MIN_LENGTH} characters, not only digits, "
        "not a common password, not too similar to the email or name."))
    name = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=MAX_NAME,
                                 validators=[NO_NUL], help_text="Display name; the email when omitted.")


class LoginRequestSerializer(serializers.Serializer):
    """The body of `POST /api/auth/login`."""

    email = serializers.CharField(min_length=1, help_text="Compared case-insensitively.")
    password = serializers.CharField(min_length=1)


class RefreshRequestSerializer(serializers.Serializer):
    """The body of `POST /api/auth/refresh` and `POST /api/auth/logout`."""

    refresh = serializers.CharField(min_length=1, help_text="A refresh token from signup, login or the last refresh.")


class ApiKeyCreateRequestSerializer(serializers.Serializer):
    """The body of `POST /api/auth/keys`."""

    name = serializers.CharField(max_length=ApiKey._meta.get_field("name").max_length, validators=[KEY_NAME],
                                 help_text="Anything but blank.")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=SCOPES), required=False, allow_null=True,
                                   min_length=1, help_text="Every scope when omitted.")
    models = serializers.ListField(child=DataModelNameField(), required=False, allow_null=True,
                                   help_text="Data-model names; every model when omitted or empty.")
    rate_limit = serializers.CharField(required=False, allow_null=True, allow_blank=True, validators=[RATE_LIMIT],
                                       help_text=f"{RATE_LIMIT_HELP} Applied on top of the default "
                                       "`INFINITY_RATE_LIMIT`, so it can only tighten it (staff who may add keys "
                                       "in the admin may loosen it). Empty: the default.")
    expires_days = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                            max_value=MAX_EXPIRES_DAYS, help_text="Never expires when omitted.")


# --- response bodies (documentation only) --------------------------------------------

class TokenPairSerializer(serializers.Serializer):
    """An access token and a refresh token."""

    access = serializers.CharField(read_only=True, help_text="Send as `Authorization: Bearer <access>`.")
    refresh = serializers.CharField(read_only=True, help_text="Works once, for `/api/auth/refresh`.")


class SessionSerializer(TokenPairSerializer):
    """The user who signed up or logged in, with their token pair."""

    user = UserSerializer(read_only=True)


class LogoutResponseSerializer(serializers.Serializer):
    """The answer to a logout."""

    success = serializers.BooleanField(read_only=True)


class UserResponseSerializer(serializers.Serializer):
    """`{"data": <user>}`."""

    data = UserSerializer(read_only=True)


class ApiKeyListSerializer(serializers.Serializer):
    """`{"data": [<key>, ...]}`: the caller's keys, newest first, revoked ones included."""

    data = ApiKeySerializer(many=True, read_only=True)


class NewApiKeySerializer(ApiKeySerializer):
    """A key just created, with its raw value."""

    key = serializers.CharField(read_only=True, help_text="The raw key, shown this once; send it as `X-API-Key`.")


class ApiKeyCreatedSerializer(serializers.Serializer):
    """`{"data": <key with its raw value>}`."""

    data = NewApiKeySerializer(read_only=True)


class ApiKeyRevokedSerializer(serializers.Serializer):
    """The answer to a revocation."""

    success = serializers.BooleanField(read_only=True)
    message = serializers.CharField(read_only=True)
