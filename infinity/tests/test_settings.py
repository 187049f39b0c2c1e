"""Settings checked at start: a bad environment variable stops every entry point with one line.

Each case runs `manage.py check` in a fresh process as a user would, with one variable
bad, and expects exit status 2 and exactly one line on stderr naming the variable, its
value (secrets hidden) and what is allowed; never a traceback. The processes of all
cases start together (module fixture), each case asserts its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings

from accounts.ratelimits import FORMAT_HINT

pytestmark = pytest.mark.django_db  # for the autouse fixtures of conftest.py (counters); the cases use none

ROOT = Path(settings.BASE_DIR)
UWSGI = Path(sys.executable).parent / "uwsgi"
OURS = ("INFINITY_", "DATABASE_URL", "REDIS_URL")
RATES = FORMAT_HINT.removeprefix("expected ")
HOSTS = ("comma-separated host names such as example.com, .example.com (with its subdomains), 10.0.0.5, [::1] "
         "or *; no scheme, port or path")
ORIGINS = ("comma-separated origins such as https://app.example.com or http://localhost:3000 "
           "(scheme://host[:port], no path)")
FLAG = "1, true, yes or on; or 0, false, no or off"

BAD = [
    ("INFINITY_DEBUG", "maybe", f"'maybe' is not allowed: expected {FLAG}"),
    ("INFINITY_SECRET_KEY", "too-short", "<hidden> is not allowed: expected a secret of at least 32 characters "
     "(unset: one is generated into INFINITY_VAR_DIR)"),
    ("INFINITY_ALLOWED_HOSTS", "https://example.com", f"'https://example.com' is not allowed: expected {HOSTS}"),
    ("INFINITY_ALLOWED_HOSTS", "example.com:8000", f"'example.com:8000' is not allowed: expected {HOSTS}"),
    ("INFINITY_VAR_DIR", "{file}/var", "'{file}/var' is not allowed: expected a folder Infinity can create and "
     "write into (Not a directory: {file}/var)"),
    ("DATABASE_URL", "mysql://infinity:s3cret@db.example.com/infinity", "'mysql://infinity:***@db.example.com/"
     "infinity' is not allowed: expected a PostgreSQL URL such as postgresql://user:password@host:5432/infinity"),
    ("DATABASE_URL", "postgresql://db.example.com:5432", "'postgresql://db.example.com:5432' is not allowed: "
     "expected a PostgreSQL URL such as postgresql://user:password@host:5432/infinity"),
    ("INFINITY_DB_NAME", 'my"db', "'my\"db' is not allowed: expected a database name of at most 48 letters, "
     "digits, _ or -, not starting with a digit or -"),
    ("INFINITY_SYNCHRONOUS_COMMIT", "sometimes", "'sometimes' is not allowed: expected one of on, off, local, "
     "remote_write, remote_apply"),
    ("REDIS_URL", "localhost:6379", "'localhost:6379' is not allowed: expected a Redis URL such as "
     "redis://localhost:6379/0 (or rediss://, unix://)"),
    ("INFINITY_CORS_ORIGINS", "app.example.com", f"'app.example.com' is not allowed: expected {ORIGINS}"),
    ("INFINITY_CORS_ORIGINS", "https://app.example.com/", f"'https://app.example.com/' is not allowed: "
     f"expected {ORIGINS}"),
    ("INFINITY_LOG_LEVEL", "loud", "'loud' is not allowed: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("INFINITY_ACCESS_TOKEN_MINUTES", "abc", "'abc' is not allowed: expected a whole number from 1 to 525600"),
    ("INFINITY_ACCESS_TOKEN_MINUTES", "9999999999999", "'9999999999999' is not allowed: expected a whole number "
     "from 1 to 525600"),
    ("INFINITY_REFRESH_TOKEN_DAYS", "0", "'0' is not allowed: expected a whole number from 1 to 3650"),
    ("INFINITY_RATE_LIMIT", "lots", f"'lots' is not allowed: expected {RATES}"),
    ("INFINITY_AUTH_RATE_LIMIT", "5/m,6/m", f"'5/m,6/m' is not allowed: expected {RATES}"),
    ("INFINITY_RATE_LIMIT_LEASE", "0", "'0' is not allowed: expected a whole number from 1 to 1000000"),
    ("INFINITY_KEY_CACHE_SECONDS", "inf", "'inf' is not allowed: expected a number from 0 to 86400"),
    ("INFINITY_KEY_CACHE_SECONDS", "-1", "'-1' is not allowed: expected a number from 0 to 86400"),
    ("INFINITY_MAX_BODY_BYTES", "-5", "'-5' is not allowed: expected a whole number from 1024 to 2147483647"),
    ("INFINITY_WEBHOOK_ALLOW_PRIVATE", "sometimes", f"'sometimes' is not allowed: expected {FLAG}"),
    ("INFINITY_IMPORT_MAX_BYTES", "1k", "'1k' is not allowed: expected a whole number from 1024 to 2147483647"),
    ("INFINITY_WEBHOOK_RETRY_SCHEDULE", "10,1m", "'10,1m' is not allowed: expected seconds before each retry, "
     "comma-separated (e.g. 10,60,300)"),
    ("INFINITY_WEBHOOK_DISABLE_AFTER", "0", "'0' is not allowed: expected a number from 1 to 1000000000"),
    ("INFINITY_WEBHOOK_KEEP_DAYS", "forever", "'forever' is not allowed: expected a number from 0 to 36500"),
    ("INFINITY_WEBHOOK_SWEEP_SECONDS", "0", "'0' is not allowed: expected a number from 0.05 to 3600"),
    ("INFINITY_WEBHOOK_CONCURRENCY", "0", "'0' is not allowed: expected a whole number from 1 to 1000"),
    ("INFINITY_CELERY_QUEUE", "my queue", "'my queue' is not allowed: expected a queue name of at most 100 letters, "
     "digits, '.', '_' or '-'"),
    ("INFINITY_EMBEDDINGS", "gpt", "'gpt' is not allowed: expected one of local, openai"),
    ("INFINITY_EMBEDDINGS_URL", "api.openai.com", "'api.openai.com' is not allowed: expected an http:// or "
     "https:// URL"),
    ("INFINITY_EMBEDDINGS_MODEL", "two words", "'two words' is not allowed: expected a model name"),
    ("INFINITY_EMBEDDINGS_DIMENSIONS", "-1", "'-1' is not allowed: expected a whole number from 0 to 16000"),
    ("INFINITY_EMBEDDINGS_TIMEOUT", "0", "'0' is not allowed: expected a number from 0.1 to 600"),
    ("INFINITY_EMBEDDINGS_ATTEMPTS", "0", "'0' is not allowed: expected a whole number from 1 to 20"),
    ("INFINITY_EMBEDDINGS_BATCH", "all", "'all' is not allowed: expected a whole number from 1 to 2048"),
    ("INFINITY_EMBEDDINGS_THREADS", "0", "'0' is not allowed: expected a whole number from 1 to 64"),
    ("INFINITY_WORKER_NICE", "20", "'20' is not allowed: expected a whole number from 0 to 19"),
]


def clean_environment(**env) -> dict:
    """This process's environment without any of our variables, plus `env`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    return {**environment, **env}


def run(command: list[str], **env) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=clean_environment(**env), cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def manage(*args, **env) -> subprocess.CompletedProcess:
    return run([sys.executable, "manage.py", *args], **env)


@pytest.fixture(scope="module")
def a_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("settings") / "a-file"
    path.write_text("not a folder")
    return path


@pytest.fixture(scope="module")
def checked(a_file) -> dict:
    """`manage.py check` with each bad value, run side by side: {(name, value): result}."""
    def one(case):
        name, value, _ = case
        return manage("check", **{name: value.format(file=a_file)})

    with ThreadPoolExecutor(max_workers=4) as pool:
        return {case[:2]: done for case, done in zip(BAD, pool.map(one, BAD))}


@pytest.mark.parametrize(("name", "value", "line"), BAD, ids=[f"{name}={value}" for name, value, _ in BAD])
def test_a_bad_value_stops_manage_py_with_one_line(checked, a_file, name, value, line):
    done = checked[(name, value)]

    assert done.returncode == 2
    assert done.stderr == f"{name}={line.format(file=a_file)}\n"
    assert done.stdout == ""


def test_every_bad_variable_gets_its_line():
    done = manage("check", INFINITY_DEBUG="maybe", INFINITY_RATE_LIMIT_LEASE="many")

    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"INFINITY_DEBUG='maybe' is not allowed: expected {FLAG}",
        "INFINITY_RATE_LIMIT_LEASE='many' is not allowed: expected a whole number from 1 to 1000000",
    ]


DUMP = ("import json; from django.conf import settings as s; print(json.dumps({"
        "'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, 'db': [s.DATABASES['default'][k] for k in ('ENGINE', 'HOST', "
        "'PORT', 'NAME', 'USER', 'PASSWORD', 'CONN_MAX_AGE')], 'options': s.DATABASES['default'].get('OPTIONS'), "
        "'redis': s.REDIS_URL, 'cache': s.CACHES['ratelimit']['BACKEND'], 'origins': s.CORS_ALLOWED_ORIGINS, "
        "'log': s.LOGGING['root']['level'], 'access': s.SIMPLE_JWT['ACCESS_TOKEN_LIFETIME'].total_seconds(), "
        "'refresh': s.SIMPLE_JWT['REFRESH_TOKEN_LIFETIME'].days, 'infinity': s.INFINITY, "
        "'upload': s.DATA_UPLOAD_MAX_MEMORY_SIZE, 'key': s.SECRET_KEY, 'var': str(s.VAR_DIR)}))")

GOOD = {
    "INFINITY_DEBUG": "TRUE",
    "INFINITY_SECRET_KEY": "k" * 40,
    "INFINITY_ALLOWED_HOSTS": " api.example.com, .example.org ,[::1],*,",
    "DATABASE_URL": "postgresql://app:p%40ss@db.example.com:6543/infinity_prod",
    "INFINITY_DB_NAME": "ignored_with_database_url",
    "INFINITY_SYNCHRONOUS_COMMIT": "OFF",
    "REDIS_URL": "redis://:secret@cache.example.com:6380/2",
    "INFINITY_CORS_ORIGINS": "https://app.example.com, http://localhost:3000",
    "INFINITY_LOG_LEVEL": "info",
    "INFINITY_ACCESS_TOKEN_MINUTES": "60",
    "INFINITY_REFRESH_TOKEN_DAYS": "30",
    "INFINITY_RATE_LIMIT": " 5000/d, 100/m ",
    "INFINITY_AUTH_RATE_LIMIT": "10000000000/m",
    "INFINITY_RATE_LIMIT_LEASE": "1",
    "INFINITY_KEY_CACHE_SECONDS": "0.5",
    "INFINITY_MAX_BODY_BYTES": "1048576",
    "INFINITY_WEBHOOK_ALLOW_PRIVATE": "yes",
    "INFINITY_EMBEDDINGS": "openai",
    "INFINITY_IMPORT_MAX_BYTES": "2048",
}
# The webhook and embedding settings at their defaults (each one's bad values are cases of BAD).
OTHER_DEFAULTS = {
    "IMPORT_MAX_BYTES": None, "WEBHOOK_RETRY_SCHEDULE": "10,60,300,1800,7200,21600,43200",
    "WEBHOOK_DISABLE_AFTER": 259200.0, "WEBHOOK_KEEP_DAYS": 14.0, "WEBHOOK_SWEEP_SECONDS": 5.0,
    "WEBHOOK_CONCURRENCY": 8, "EMBEDDINGS_URL": "https://api.openai.com/v1",
    "EMBEDDINGS_MODEL": "text-embedding-3-small", "EMBEDDINGS_API_KEY": "", "EMBEDDINGS_DIMENSIONS": 0,
    "EMBEDDINGS_TIMEOUT": 10.0, "EMBEDDINGS_ATTEMPTS": 3, "EMBEDDINGS_BATCH": 64, "EMBEDDINGS_THREADS": 1,
    "WORKER_NICE": 10,
}


def test_good_values_are_parsed_once_and_pass_the_checks(tmp_path):
    env = {**GOOD, "INFINITY_VAR_DIR": str(tmp_path / "var")}

    checked = manage("check", **env)
    dumped = manage("shell", "--no-imports", "-c", DUMP, **env)

    assert (checked.returncode, checked.stderr) == (0, ""), checked.stderr
    assert dumped.returncode == 0, dumped.stderr
    assert json.loads(dumped.stdout) == {
        "debug": True, "hosts": ["api.example.com", ".example.org", "[::1]", "*"],
        "db": ["django.db.backends.postgresql", "db.example.com", 6543, "infinity_prod", "app", "p@ss", 60],
        "options": {"options": "-c synchronous_commit=off"},
        "redis": "redis://:secret@cache.example.com:6380/2", "cache": "accounts.counters.RedisCounterCache",
        "origins": ["https://app.example.com", "http://localhost:3000"], "log": "INFO",
        "access": 3600.0, "refresh": 30,
        "infinity": {"RATE_LIMIT": "100/m,5000/d", "AUTH_RATE_LIMIT": "10000000000/m", "RATE_LIMIT_LEASE": 1,
                     "KEY_CACHE_SECONDS": 0.5, "MAX_BODY_BYTES": 1048576, "WEBHOOK_ALLOW_PRIVATE": True,
                     "EMBEDDINGS": "openai", **OTHER_DEFAULTS, "IMPORT_MAX_BYTES": 2048},
        "upload": 1048576, "key": "k" * 40, "var": str(tmp_path / "var"),
    }
    assert not (tmp_path / "var" / "secret_key").exists()  # a key was given: none generated


def test_empty_and_unset_variables_take_the_defaults(tmp_path):
    empty = {name: "" for name in (*GOOD, "INFINITY_VAR_DIR")}

    done = manage("shell", "--no-imports", "-c", DUMP, **empty)

    assert done.returncode == 0, done.stderr
    values = json.loads(done.stdout)
    assert (values["debug"], values["hosts"], values["db"][0], values["redis"], values["origins"]) == (
        False, ["localhost", "127.0.0.1", "[::1]", "testserver"], "infinity.embedded_db", "", [])
    assert values["infinity"] == {"RATE_LIMIT": "100/m,5000/d", "AUTH_RATE_LIMIT": "5/m", "RATE_LIMIT_LEASE": 50,
                                  "KEY_CACHE_SECONDS": 5.0, "MAX_BODY_BYTES": 10485760,
                                  "WEBHOOK_ALLOW_PRIVATE": False, "EMBEDDINGS": "local", **OTHER_DEFAULTS}
    assert (values["access"], values["refresh"], values["log"], values["var"]) == (
        900.0, 7, "WARNING", str(ROOT / "var"))


def test_the_production_server_does_not_start_on_a_bad_value():
    """uWSGI stops (no respawning workers, no server answering 500), with the line said once."""
    done = run([str(UWSGI), "--ini", "infinity/uwsgi.ini", "--http-socket", "127.0.0.1:0", "--processes", "2"],
               INFINITY_RATE_LIMIT="lots")

    assert done.returncode == 22
    assert done.stderr.count(f"INFINITY_RATE_LIMIT='lots' is not allowed: expected {RATES}\n") == 1
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("module", ["infinity.asgi", "infinity.celery"])
def test_the_asgi_app_and_the_celery_app_do_not_load_on_a_bad_value(module):
    done = run([sys.executable, "-c", f"import {module}"], INFINITY_MAX_BODY_BYTES="-5")

    assert done.returncode == 2
    assert done.stderr == ("INFINITY_MAX_BODY_BYTES='-5' is not allowed: expected a whole number from 1024 to "
                           "2147483647\n")
