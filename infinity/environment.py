"""Settings from environment variables, parsed and checked once, when Django starts.

`infinity/settings.py` declares every variable once with `env`, an environs `Env`
(marshmallow fields underneath) with Infinity's own kinds of value added:

    ACCESS_MINUTES = env.whole("INFINITY_ACCESS_TOKEN_MINUTES", 15, low=1, high=525_600)

A bad value is collected, not raised; `env.check()`, after the declarations, raises
`SettingsError` with one line per bad variable, naming it, its value (passwords and
secrets masked) and what is allowed:

    INFINITY_ACCESS_TOKEN_MINUTES='abc' is not allowed: expected a whole number from 1 to 525600

`exit_on_bad_settings()` is what the entry points (manage.py, wsgi.py, asgi.py, the
Celery app) call first: it prints those lines to stderr and exits with status 2,
instead of a traceback or a server that answers 500.
"""

import os
import re
import sys
from urllib.parse import urlsplit

import dj_database_url
import environs
import marshmallow as ma
from django.core.exceptions import ImproperlyConfigured

EXIT_STATUS = 2  # like argparse's usage errors
UWSGI_FAILED_APP = 22  # a worker exiting with it makes a `need-app` uWSGI stop (and exit 22)
_PASSWORD_IN_URL = re.compile(r"(?<=://)([^:/@]*):[^@/]*@")
_SECRET_NAMES = ("SECRET_KEY", "_API_KEY", "PASSWORD", "_TOKEN", "_SECRET")


class SettingsError(ImproperlyConfigured):
    """One or more environment variables hold a value Infinity cannot use."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("\n".join(lines))


def exit_on_bad_settings() -> None:
    """Load the settings now; on a bad value print its line(s) to stderr and exit 2."""
    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # the first access imports infinity/settings.py
    except SettingsError as error:
        status, say = EXIT_STATUS, True
        try:  # in a uWSGI worker: the status that stops the master (`need-app`), not a respawn loop
            import uwsgi

            status, say = UWSGI_FAILED_APP, uwsgi.worker_id() <= 1  # said once, not once per worker
        except ImportError:
            pass
        if say:
            sys.stderr.write(f"{error}\n")
            sys.stderr.flush()
        raise SystemExit(status) from None


def shown(name: str, value: str) -> str:
    """`value` as an error line may show it: secrets hidden, URL passwords masked."""
    if name.endswith(_SECRET_NAMES):
        return "<hidden>"
    return repr(_PASSWORD_IN_URL.sub(r"\1:***@", value))


# --- the kinds of value ------------------------------------------------------------
# Each field's error messages are all one phrase saying what is allowed, whichever check
# failed (a letter in a number, a number out of range), so every line says it. An empty
# variable is an unset one (`X=` in a compose file, `${X:-}` in a shell): its default.


class _Allowed:
    """Mixin: every error of the field is `allowed`; an empty value gives the default."""

    def _allowed(self, allowed: str, kwargs: dict) -> dict:
        self.allowed = allowed
        kwargs["error_messages"] = {key: allowed for key in ("invalid", "too_large", "special")}
        return kwargs

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if isinstance(value, str) and not value.strip():
            value = ma.missing
        return super().deserialize(value, attr, data, **kwargs)


class WholeNumber(_Allowed, ma.fields.Integer):
    """A whole number from `low` to `high`."""

    def __init__(self, *, low: int, high: int, validate=None, **kwargs):
        allowed = f"a whole number from {low} to {high}"
        super().__init__(validate=ma.validate.Range(low, high, error=allowed), **self._allowed(allowed, kwargs))


def _plain(number: float) -> str:
    """1000000000 and 0.05, never 1e+09."""
    return str(int(number)) if float(number).is_integer() else f"{number:f}".rstrip("0")


class Number(_Allowed, ma.fields.Float):
    """A number (decimals allowed) from `low` to `high`."""

    def __init__(self, *, low: float, high: float, validate=None, **kwargs):
        allowed = f"a number from {_plain(low)} to {_plain(high)}"
        super().__init__(validate=ma.validate.Range(low, high, error=allowed), **self._allowed(allowed, kwargs))


class Flag(_Allowed, ma.fields.Boolean):
    """On or off: 1, true, yes, on (any of True, TRUE, ...) or 0, false, no, off."""

    def __init__(self, *, validate=None, **kwargs):
        super().__init__(**self._allowed("1, true, yes or on; or 0, false, no or off", kwargs))


class Choice(_Allowed, ma.fields.String):
    """One of `choices`, any case; the value is the choice as declared."""

    def __init__(self, *, choices: tuple[str, ...], validate=None, **kwargs):
        self.choices = {choice.lower(): choice for choice in choices}
        allowed = f"one of {', '.join(choices)}"
        super().__init__(**self._allowed(allowed, kwargs))

    def _deserialize(self, value, attr, data, **kwargs):
        choice = self.choices.get(str(value).strip().lower())
        if choice is None:
            raise self.make_error("invalid")
        return choice


class Folder(_Allowed, environs.fields.Path):
    """A folder path (created and checked for writing where it is used)."""

    def __init__(self, *, validate=None, **kwargs):
        super().__init__(**self._allowed("a folder path", kwargs))


class Text(_Allowed, ma.fields.String):
    """A string matching `pattern` (whole), described by `allowed`."""

    def __init__(self, *, pattern: str, allowed: str, validate=None, **kwargs):
        self.pattern = re.compile(pattern)
        super().__init__(**self._allowed(allowed, kwargs))

    def _deserialize(self, value, attr, data, **kwargs):
        if not self.pattern.fullmatch(value):
            raise self.make_error("invalid")
        return value


class RateLimit(_Allowed, ma.fields.String):
    """`N/unit[,N/unit...]`, read by the rate limiter's own parser; canonical text."""

    def __init__(self, *, validate=None, **kwargs):
        from accounts.ratelimits import FORMAT_HINT  # imported late: settings load before apps

        super().__init__(**self._allowed(FORMAT_HINT.removeprefix("expected "), kwargs))

    def _deserialize(self, value, attr, data, **kwargs):
        from accounts.ratelimits import format_rate_limit, parse_rate_limit

        try:
            return format_rate_limit(parse_rate_limit(value))
        except ValueError:
            raise self.make_error("invalid") from None


class CommaList(_Allowed, ma.fields.String):
    """Comma-separated items, each a whole match of `item`; blanks dropped; at least `least`."""

    def __init__(self, *, item: str, allowed: str, least: int = 0, validate=None, **kwargs):
        self.item, self.least = re.compile(item), least
        super().__init__(**self._allowed(allowed, kwargs))

    def _deserialize(self, value, attr, data, **kwargs):
        items = [part.strip() for part in value.split(",") if part.strip()]
        if len(items) < self.least or not all(self.item.fullmatch(part) for part in items):
            raise self.make_error("invalid")
        return items


class PostgresUrl(_Allowed, ma.fields.String):
    """A PostgreSQL URL, as Django's DATABASES entry (dj-database-url)."""

    def __init__(self, *, conn_max_age: int, validate=None, **kwargs):
        self.conn_max_age = conn_max_age
        allowed = "a PostgreSQL URL such as postgresql://user:password@host:5432/infinity"
        super().__init__(**self._allowed(allowed, kwargs))

    def _deserialize(self, value, attr, data, **kwargs):
        parts = urlsplit(value.strip())
        if parts.scheme not in ("postgres", "postgresql", "pgsql") or not parts.path.strip("/"):
            raise self.make_error("invalid")
        try:
            config = dj_database_url.parse(value.strip(), conn_max_age=self.conn_max_age)
        except ValueError:
            raise self.make_error("invalid") from None
        return {**config, "ENGINE": "django.db.backends.postgresql"}


class RedisUrl(_Allowed, ma.fields.String):
    """A Redis URL: redis://, rediss:// (TLS) or unix:// (a socket)."""

    def __init__(self, *, validate=None, **kwargs):
        allowed = "a Redis URL such as redis://localhost:6379/0 (or rediss://, unix://)"
        super().__init__(**self._allowed(allowed, kwargs))

    def _deserialize(self, value, attr, data, **kwargs):
        from redis.connection import parse_url

        value = value.strip()
        try:
            parse_url(value)
        except ValueError:
            raise self.make_error("invalid") from None
        if urlsplit(value).scheme != "unix" and not urlsplit(value).hostname:
            raise self.make_error("invalid")
        return value


class Env(environs.Env):
    """environs' Env with Infinity's kinds of value; bad values are collected for `check()`."""

    def __init__(self):
        super().__init__(eager=False)
        for name, field in (("whole", WholeNumber), ("number", Number), ("flag", Flag), ("choice", Choice),
                            ("folder", Folder), ("text", Text), ("rate_limit", RateLimit), ("comma_list", CommaList),
                            ("postgres_url", PostgresUrl), ("redis_url", RedisUrl)):
            self.add_parser_from_field(name, field)

    def check(self) -> None:
        """Raise `SettingsError`, one line per bad variable, if any declared so far is bad."""
        try:
            self.seal()
        except environs.EnvValidationError as error:
            lines = [self.line(name, messages) for name, messages in error.error_messages.items()]
            raise SettingsError(lines) from None

    @staticmethod
    def line(name: str, messages: list[str], value: str | None = None) -> str:
        """`NAME='value' is not allowed: expected ...`, `value` defaulting to the variable's own."""
        value = os.environ.get(name, "") if value is None else value
        return f"{name}={shown(name, value)} is not allowed: expected {'; '.join(messages)}"
