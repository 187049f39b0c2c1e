"""`make run` (manage.py serve) under load: 64 concurrent clients, real HTTP, no errors.

The server is started as `make run` starts it (`manage.py serve`, INFINITY_DEBUG=1: uWSGI
over this run's test database) and driven by the loop `make run-load` drives for 60 s
(bench/serve_load.py), here for a few seconds. Ctrl-C then stops it cleanly.
"""

from __future__ import annotations

import os
import urllib.request

import pytest
from django.conf import settings
from django.db import connection

from accounts.services import apikey_create
from bench.serve_load import FIELDS, drive, free_port, report, start_serve, stop_serve
from datamodels import services
from datamodels.tests.conftest import _schema_state_after_flush, committed_schema  # noqa: F401 (fixtures)
from infinity.management.commands.serve import routine

CLIENTS, SECONDS = 64, 10


@pytest.fixture
def gadgets(committed_schema, superuser):  # noqa: F811 (the fixture imported above)
    model = services.data_model_create(name="gadgets", fields=FIELDS)
    _, key = apikey_create(user=superuser, name="load", rate_limit="1000000000/m")
    return model, key


@pytest.fixture
def served(committed_schema, database_url, tmp_path):  # noqa: F811
    """`manage.py serve` on this run's test database; yields its port and process. Committed:
    what the server writes (its `admin` user on first start) is flushed after the test."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # counters in the test database
    env.update(DATABASE_URL=database_url, INFINITY_VAR_DIR=str(tmp_path / "var"))  # not the developer's var/
    port = free_port()
    with open(tmp_path / "serve.log", "w") as log:
        process = start_serve(port, env, log)
        try:
            yield port, process
        finally:
            stop_serve(process)


def test_64_clients_get_no_error(gadgets, served):
    model, key = gadgets
    port, process = served

    tally = drive(port, key, model.name, clients=CLIENTS, seconds=SECONDS)

    print(report(tally, CLIENTS, SECONDS))
    assert tally.errors == 0, report(tally, CLIENTS, SECONDS)
    assert len(tally.cycles) == CLIENTS  # every client got whole cycles through
    assert tally.answers[("POST", 201)] == tally.answers[("DELETE", 200)] == sum(tally.cycles.values())
    with connection.cursor() as cursor:  # every create was deleted again
        cursor.execute(f'SELECT count(*) FROM "{model.db_table}"')
        assert cursor.fetchone() == (0,)


def test_the_admin_and_its_static_files_are_served_and_ctrl_c_stops_it(served):
    port, process = served

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/") as page:
        assert page.status == 200 and b"csrfmiddlewaretoken" in page.read()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/admin/css/base.css") as css:
        assert css.status == 200 and css.headers["Content-Type"].startswith("text/css")

    assert stop_serve(process) == 0


def test_the_banner_says_where_and_how_to_log_in(committed_schema, superuser, database_url, tmp_path):  # noqa: F811
    env = {**os.environ, "DATABASE_URL": database_url, "INFINITY_VAR_DIR": str(tmp_path / "var")}
    port = free_port()
    with open(tmp_path / "serve.log", "w") as log:
        process = start_serve(port, env, log)
    assert stop_serve(process) == 0

    workers = max(2, min(8, 2 * (os.cpu_count() or 1)))
    assert process.banner == (
        f"\nInfinity {settings.VERSION} (uWSGI, {workers} workers; Ctrl-C stops it)\n"
        f"  API:   http://127.0.0.1:{port}/api/public/data/{{model}}\n"
        f"  Admin: http://127.0.0.1:{port}/admin/\n"
        "  Login: your superuser (manage.py changepassword USERNAME to reset a password)\n")


@pytest.mark.parametrize("line, shown", [
    ("WSGI app 0 (mountpoint='') ready in 1 seconds on interpreter 0x7f81d1d76ef8 pid: 15127 (default app)\n", False),
    ("Respawned uWSGI worker 3 (new pid: 4242)\n", False),
    ("...The work of process 4241 is done. Seeya!\n", False),
    ("worker 2 killed successfully (pid: 4240)\n", False),
    ("GET /api/public/data/gadgets 500 12ms\n", True),
    ("Traceback (most recent call last):\n", True),
    ("*** HARAKIRI ON WORKER 2 (pid: 4240, try: 1) ***\n", True),
])
def test_uwsgis_routine_lines_stay_out_of_the_terminal_and_the_rest_is_shown(line, shown):
    # A worker that loads its app after the first answer (lazy-apps) printed its "ready" line
    # into the banner; renewed workers (max-requests) would print theirs at any time.
    assert routine(line) is (not shown)
