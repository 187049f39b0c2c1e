"""`manage.py apikey create|list|revoke`: manage API keys from the shell (SPEC §2).

`create` prints the raw key as the last line of stdout, so `| tail -n 1` captures it;
it is shown this once and only its hash is stored. Bad input exits non-zero with a
one-line reason and writes nothing.
"""

from datetime import UTC

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import SCOPES
from accounts.selectors import apikey_list
from accounts.services import apikey_create, apikey_revoke, default_owner
from infinity.exceptions import InfinityError

LIST_COLUMNS = ("PREFIX", "NAME", "OWNER", "SCOPES", "MODELS", "EXPIRES", "REVOKED", "LAST USED")


class Command(BaseCommand):
    """Create, list and revoke API keys."""

    help = "Create, list and revoke API keys."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="{create,list,revoke}")
        create = actions.add_parser(
            "create",
            help="Create a key and print it (shown once).",
            description="Create an API key; the raw key is the last line of output, shown only this once.",
        )
        _add_create_arguments(create)
        actions.add_parser("list", help="List keys (never their secrets).", description="List every API key.")
        revoke = actions.add_parser("revoke", help="Revoke a key by its prefix.", description="Revoke an API key.")
        revoke.add_argument("prefix", metavar="PREFIX", help="The key's visible prefix, e.g. inf_ab12cd34.")

    def handle(self, *args, action, **options):
        try:
            {"create": self.create_key, "list": self.list_keys, "revoke": self.revoke_key}[action](**options)
        except InfinityError as exc:
            raise CommandError(_one_line(exc)) from exc

    @transaction.atomic  # the default owner may be created first; a bad option must undo it
    def create_key(self, *, name, user, scopes, models, rate_limit, expires, **_):
        owner = _find_user(user) if user else default_owner()
        key, raw = apikey_create(
            user=owner,
            name=name,
            scopes=_split(scopes),
            models=_split(models),
            rate_limit=rate_limit,
            expires_days=expires,
        )
        self.stdout.write(f"Created API key {key.prefix} ({key.name}) for {owner.get_username()}: {_describe(key)}")
        self.stdout.write("Store it now; it is not shown again:")
        self.stdout.write(raw)

    def list_keys(self, **_):
        rows = [_row(key) for key in apikey_list()]
        if not rows:
            self.stdout.write("No API keys.")
            return
        widths = [max(len(row[i]) for row in [LIST_COLUMNS, *rows]) for i in range(len(LIST_COLUMNS))]
        for row in [LIST_COLUMNS, *rows]:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())

    def revoke_key(self, *, prefix, **_):
        key = apikey_revoke(prefix=prefix)
        self.stdout.write(f"Revoked API key {key.prefix} ({key.name}) at {_when(key.revoked_at)}")


def _add_create_arguments(parser) -> None:
    add = parser.add_argument
    add("--name", required=True, metavar="N", help="What the key is for.")
    add("--user", metavar="USERNAME", help="Username of the owner (default: the first active superuser).")
    add("--scopes", metavar=",".join(SCOPES), help=f"Comma-separated subset of {','.join(SCOPES)} (default: all).")
    add("--models", metavar="a,b", help="Comma-separated names of the data models it may touch (default: all).")
    add("--rate-limit", default="", metavar="100/m,5000/d", help="Its own rate limit (default: the global one).")
    add("--expires", type=int, metavar="DAYS", help="Expire after DAYS days (default: never).")


def _find_user(username: str):
    user = get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    if user is None:
        raise CommandError(f"Unknown user {username!r}")
    return user


def _split(text: str | None) -> list[str] | None:
    """`a, b` gives ["a", "b"]; an absent option stays None so the service applies its default."""
    if text is None:
        return None
    return [item.strip() for item in text.split(",") if item.strip()]


def _describe(key) -> str:
    models = ", ".join(model.name for model in key.models.all()) or "all"
    return (
        f"scopes {', '.join(key.scopes)}; models {models}; rate limit {key.effective_rate_limit}; "
        f"expires {_when(key.expires_at)}"
    )


def _row(key) -> tuple[str, ...]:
    return (
        key.prefix,
        key.name,
        key.user.get_username(),
        ",".join(key.scopes),
        ",".join(model.name for model in key.models.all()) or "all",
        _when(key.expires_at),
        _when(key.revoked_at, "no"),
        _when(key.last_used_at),
    )


def _when(moment, absent: str = "never") -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else absent


def _one_line(exc: InfinityError) -> str:
    details = "; ".join(f"{item['field']}: {item['message']}" for item in exc.details)
    return f"{exc.message}: {details}" if details else exc.message
