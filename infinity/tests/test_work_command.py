"""`manage.py work`: the background work of a deployment without Redis, as a user runs it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


@pytest.mark.parametrize("nice", ["10", "0"])
def test_the_background_threads_run_at_the_worker_nice_value(database_url, nice):
    # The webhook and search loops run below the requests' priority (INFINITY_WORKER_NICE);
    # the process's main thread, which only waits, keeps its own.
    process = work(database_url, INFINITY_WORKER_NICE=nice)
    try:
        assert process.stdout.readline().startswith("Background work running")
        deadline, values = time.monotonic() + 10, []
        while time.monotonic() < deadline and values.count(int(nice)) < 3:
            values = [_nice(task) for task in Path(f"/proc/{process.pid}/task").iterdir() if task.name != str(process.pid)]
            time.sleep(0.1)
        assert values.count(int(nice)) >= 2  # the webhook loop and the search loop at least
        assert _nice(Path(f"/proc/{process.pid}/task/{process.pid}")) == 0
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _nice(task: Path) -> int:
    return int((task / "stat").read_text().rsplit(")", 1)[1].split()[16])  # field 19: nice


def test_work_with_redis_says_celery_does_it(database_url):
    process = work(database_url, REDIS_URL="redis://127.0.0.1:6379/0")

    out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert err == "CommandError: REDIS_URL is set: Celery workers do the background work (celery -A infinity worker --beat)\n"
