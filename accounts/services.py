"""Writes and checks for API keys: create, revoke, authenticate; and the default key owner.

A raw key is `<prefix>_<secret>`, e.g. `inf_ab12cd34_<43 url-safe characters>`. The
prefix is stored and shown; of the whole key only a SHA-256 hash is kept. A fast hash
is right here (unlike passwords) because the secret carries 256 bits of randomness, so
there is nothing to brute-force. Every failure raises a domain exception from
`infinity.exceptions`, which the API renders as the error envelope.
"""

import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import keycache
from accounts.models import SCOPES, ApiKey
from accounts.ratelimits import format_rate_limit, parse_rate_limit, rate_capped
from datamodels.models import DataModel
from infinity.exceptions import NotFound, Unauthorized, ValidationFailed

KEY_PREFIX = "inf_"
PREFIX_RANDOM_LENGTH = 8
SECRET_BYTES = 32
MAX_EXPIRES_DAYS = 36500  # a century; beyond it datetime arithmetic overflows soon enough
LAST_USED_RESOLUTION = timedelta(minutes=1)
DEFAULT_OWNER_USERNAME = "admin"

_BASE62 = string.ascii_letters + string.digits
_RAW_KEY = re.compile(rf"(?P<prefix>{KEY_PREFIX}[0-9A-Za-z]{{{PREFIX_RANDOM_LENGTH}}})_[A-Za-z0-9_-]{{43}}")
# Compared against when the prefix is unknown, so such a key costs the same work as a wrong secret.
_DUMMY_HASH = hashlib.sha256(b"infinity: no such API key").hexdigest()


@dataclass(frozen=True)
class ApiKeyOptions:
    """The validated, normalised settings of a key about to be created."""

    name: str
    scopes: list[str]
    models: list[DataModel]
    rate_limit: str
    expires_at: datetime | None


def default_owner() -> AbstractUser:
    """The first active superuser; a superuser `admin` with an unusable password if there is none."""
    users = get_user_model()._default_manager
    owner = users.filter(is_superuser=True, is_active=True).order_by("pk").first()
    if owner is not None:
        return owner
    if users.filter(**{get_user_model().USERNAME_FIELD: DEFAULT_OWNER_USERNAME}).exists():
        # Never promote an existing ordinary user to superuser behind the admin's back.
        raise ValidationFailed(
            "No active superuser to own the key and the username 'admin' is taken; name an owner",
            details=[{"field": "user", "message": "Name the user who owns the key"}],
        )
    return users.create_superuser(DEFAULT_OWNER_USERNAME, email="", password=None)


def apikey_validate(
    *,
    user: AbstractUser | None,
    name: str,
    scopes: Iterable[str] | None = None,
    models: Iterable[str] | None = None,
    rate_limit: str | None = "",
    expires_days: int | None = None,
    expires_at: datetime | None = None,
    rate_ceiling: str | None = None,
) -> ApiKeyOptions:
    """Check the settings of a new key without writing; one `details` entry per bad field.

    With `rate_ceiling`, the key's own rate limit applies on top of it (see `rate_capped`).
    """
    errors: list[dict] = []

    def check(field, clean, *args):
        try:
            return clean(*args)
        except ValueError as exc:
            errors.append({"field": field, "message": str(exc)})
            return None

    check("user", _check_owner, user)
    options = ApiKeyOptions(
        name=check("name", _clean_name, name),
        scopes=check("scopes", _clean_scopes, scopes),
        models=check("models", _clean_models, models),
        rate_limit=check("rate_limit", _clean_rate_limit, rate_limit, rate_ceiling),
        expires_at=check("expires_at" if expires_at else "expires_days", _clean_expiry, expires_days, expires_at),
    )
    if errors:
        raise ValidationFailed("Invalid API key settings", details=errors)
    return options


@transaction.atomic
def apikey_create(
    *,
    user: AbstractUser,
    name: str,
    scopes: Iterable[str] | None = None,
    models: Iterable[str] | None = None,
    rate_limit: str | None = "",
    expires_days: int | None = None,
    expires_at: datetime | None = None,
    rate_ceiling: str | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its raw value, which is never available again.

    `scopes` defaults to all; `models` are data-model names (none means every model);
    `rate_limit` empty means the global default; give `expires_days` or `expires_at`;
    `rate_ceiling` caps `rate_limit` (owners serving themselves may only tighten it).
    """
    options = apikey_validate(
        user=user,
        name=name,
        scopes=scopes,
        models=models,
        rate_limit=rate_limit,
        expires_days=expires_days,
        expires_at=expires_at,
        rate_ceiling=rate_ceiling,
    )
    prefix = _unused_prefix()
    raw = f"{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    key = ApiKey.objects.create(
        user=user,
        name=options.name,
        prefix=prefix,
        key_hash=_hash(raw),
        scopes=options.scopes,
        rate_limit=options.rate_limit,
        expires_at=options.expires_at,
    )
    key.models.set(options.models)
    return key, raw


def apikey_revoke(*, prefix: str) -> ApiKey:
    """Revoke the key with this prefix; revoking it again keeps the first revocation time."""
    key = ApiKey.objects.filter(prefix=prefix).first()
    if key is None:
        raise NotFound(f"No API key with prefix {prefix!r}")
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    keycache.clear()
    key.refresh_from_db(fields=["revoked_at"])
    return key


def apikey_authenticate(raw: str) -> ApiKey:
    """The live key behind a raw value, with its user loaded; `Unauthorized` otherwise."""
    match = _RAW_KEY.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        raise Unauthorized("Invalid API key")
    digest = _hash(raw)
    key = keycache.get(digest)
    if key is None:
        key = _lookup(match["prefix"], digest)
        keycache.put(digest, key)
    _check_live(key)
    _touch_last_used(key)
    return key


def _lookup(prefix: str, digest: str) -> ApiKey:
    key = ApiKey.objects.select_related("user").filter(prefix=prefix).first()
    stored_hash = key.key_hash if key is not None else _DUMMY_HASH
    # Check the secret before saying anything about the key's state: a prefix alone is public.
    if not hmac.compare_digest(digest, stored_hash) or key is None:
        raise Unauthorized("Invalid API key")
    return key


def _check_live(key: ApiKey) -> None:
    if key.revoked_at is not None:
        raise Unauthorized("API key revoked")
    if key.is_expired:
        raise Unauthorized("API key expired")
    if not key.user.is_active:
        raise Unauthorized("API key owner is inactive")


def _touch_last_used(key: ApiKey) -> None:
    """Record use at most once per LAST_USED_RESOLUTION, so most requests write nothing."""
    now = timezone.now()
    stale = now - LAST_USED_RESOLUTION
    if key.last_used_at is not None and key.last_used_at >= stale:
        return
    # Conditional, so concurrent requests on a stale key still write the row only once.
    updated = (
        ApiKey.objects.filter(pk=key.pk)
        .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale))
        .update(last_used_at=now)
    )
    if updated:
        key.last_used_at = now


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _unused_prefix() -> str:
    # 62**8 prefixes make a clash rare; the unique index is the final guard.
    while True:
        prefix = KEY_PREFIX + "".join(secrets.choice(_BASE62) for _ in range(PREFIX_RANDOM_LENGTH))
        if not ApiKey.objects.filter(prefix=prefix).exists():
            return prefix


def _check_owner(user: AbstractUser | None) -> None:
    if user is None or user.pk is None:
        raise ValueError("An API key needs an owner")
    if not user.is_active:
        raise ValueError(f"User {user.get_username()!r} is inactive")


def _clean_name(name: str) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise ValueError("Give the key a name")
    max_length = ApiKey._meta.get_field("name").max_length
    if len(name) > max_length:
        raise ValueError(f"Name is longer than {max_length} characters")
    if "\x00" in name:
        raise ValueError("Name must not contain NUL characters")
    return name


def _clean_scopes(scopes: Iterable[str] | None) -> list[str]:
    if scopes is None:
        return list(SCOPES)
    scopes = set(_string_list(scopes, "Scopes must be a list of scope names"))
    unknown = sorted(scopes - set(SCOPES))
    if unknown:
        raise ValueError(f"Unknown scope {', '.join(unknown)}; allowed: {', '.join(SCOPES)}")
    if not scopes:
        raise ValueError(f"Give at least one scope of {', '.join(SCOPES)}")
    return [scope for scope in SCOPES if scope in scopes]


def _clean_models(names: Iterable[str] | None) -> list[DataModel]:
    if names is None:
        return []
    names = list(dict.fromkeys(_string_list(names, "Models must be a list of model names")))
    # PostgreSQL cannot compare text holding NUL; no model name has one.
    found = {model.name: model for model in DataModel.objects.filter(name__in=[n for n in names if "\x00" not in n])}
    unknown = [name for name in names if name not in found]
    if unknown:
        raise ValueError(f"Unknown model {', '.join(unknown)}")
    return [found[name] for name in names]


def _string_list(values: Iterable[str], message: str) -> list[str]:
    # A bare string is iterable too, and would silently become a list of characters; a JSON object
    # (a dict) would become its keys.
    if isinstance(values, (str, dict)) or not isinstance(values, Iterable):
        raise ValueError(message)
    values = list(values)
    if not all(isinstance(value, str) for value in values):
        raise ValueError(message)
    return values


def _clean_rate_limit(text: str | None, ceiling: str | None = None) -> str:
    if text is None or (isinstance(text, str) and not text.strip()):
        return ""
    if not isinstance(text, str):
        raise ValueError("Rate limit must be a string such as 100/m,5000/d")
    text = format_rate_limit(parse_rate_limit(text))
    return rate_capped(text, ceiling) if ceiling else text


def _clean_expiry(days: int | None, at: datetime | None) -> datetime | None:
    if days is not None and at is not None:
        raise ValueError("Give an expiry in days or as a date, not both")
    if at is not None:
        if timezone.is_naive(at) or at <= timezone.now():
            raise ValueError("Expiry must be a time in the future")
        return at
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_EXPIRES_DAYS:
        raise ValueError(f"Expiry must be a whole number of days from 1 to {MAX_EXPIRES_DAYS}")
    return timezone.now() + timedelta(days=days)
