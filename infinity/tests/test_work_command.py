"""`manage.py work`: the background work of a deployment without Redis, as a user runs it."""

import os
import signal
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db(transaction=True)


def work(database_url, **env):
    environment = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": "", **env}
    return subprocess.Popen([sys.executable, "manage.py", "work"], cwd=settings.BASE_DIR, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_work_runs_every_registered_worker_until_sigterm(database_url):
    process = work(database_url)

    assert process.stdout.readline() == "Background work running (webhooks, search); stop with Ctrl-C.\n"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


def test_work_with_redis_says_celery_does_it(database_url):
    process = work(database_url, REDIS_URL="redis://127.0.0.1:6379/0")

    out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert err == "CommandError: REDIS_URL is set: Celery workers do the background work (celery -A infinity worker --beat)\n"
