"""INFINITY_SYNCHRONOUS_COMMIT: whether a commit waits for its WAL to reach the disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.django_db

SHOW = ("import django; django.setup(); from django.db import connection; "
        "cursor = connection.cursor(); cursor.execute('SHOW synchronous_commit'); print(cursor.fetchone()[0])")


def run_in_a_fresh_process(**env) -> subprocess.CompletedProcess:
    """`SHOW synchronous_commit` on a connection of a new process, made with `env`, to this test's database."""
    environment = {k: v for k, v in os.environ.items() if k != "INFINITY_SYNCHRONOUS_COMMIT"}
    name = connection.settings_dict["NAME"]
    if environment.get("DATABASE_URL"):
        parts = urlsplit(environment["DATABASE_URL"])
        environment["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
    else:
        environment["INFINITY_DB_NAME"] = name
    environment.update(DJANGO_SETTINGS_MODULE="infinity.settings", **env)
    return subprocess.run([sys.executable, "-c", SHOW], env=environment, cwd=settings.BASE_DIR,
                          capture_output=True, text=True, timeout=60)


def test_commits_wait_for_the_disk_by_default():
    done = run_in_a_fresh_process()
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["on"]


def test_commits_can_return_before_the_disk():
    done = run_in_a_fresh_process(INFINITY_SYNCHRONOUS_COMMIT="off")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["off"]


def test_an_unknown_value_stops_the_process_with_a_clear_message():
    done = run_in_a_fresh_process(INFINITY_SYNCHRONOUS_COMMIT="sometimes")
    assert done.returncode != 0  # django.setup() itself raises; manage.py says it in one line (test_settings)
    assert ("INFINITY_SYNCHRONOUS_COMMIT='sometimes' is not allowed: expected one of on, off, local, remote_write, "
            "remote_apply") in done.stderr
    assert done.stdout == ""


def test_it_keeps_the_connection_options_of_database_url():
    """`?options=` in DATABASE_URL (a search_path, say) survives; the setting comes after it."""
    code = ("import django, json; from django.conf import settings; django.setup(); "
            "print(json.dumps(settings.DATABASES['default'].get('OPTIONS', {})))")
    environment = {k: v for k, v in os.environ.items() if k != "INFINITY_SYNCHRONOUS_COMMIT"}
    environment.update(DJANGO_SETTINGS_MODULE="infinity.settings", INFINITY_SYNCHRONOUS_COMMIT="off",
                       DATABASE_URL="postgresql://infinity@db.example.com:5432/infinity?options=-c%20search_path%3Dapp")
    done = subprocess.run([sys.executable, "-c", code], env=environment, cwd=settings.BASE_DIR,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"options": "-c search_path=app -c synchronous_commit=off"}
