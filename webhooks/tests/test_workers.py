"""Real worker processes: `manage.py serve`'s in-process worker, `manage.py webhooks work`, and
Celery on Redis (when `REDIS_URL` is set): killed mid-delivery, two at once, broker down at commit.

Records are written in this process and committed; workers are other processes on this
run's test database, delivering to a receiver in this process. Every wait is bounded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest
from django.conf import settings

from datamodels import changes
from webhooks.models import Delivery

from .conftest import free_port, kill_group, make_hook, start_worker, stop

pytestmark = [pytest.mark.django_db(transaction=True)]
BASE = "/api/public/data/orders"
REDIS_URL = os.environ.get("REDIS_URL", "")
KINDS = ["process", pytest.param("celery", marks=pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL"))]


@pytest.fixture
def workers(database_url, tmp_path):
    """`workers(kind)` starts a worker process of that kind; all are killed afterwards."""
    started = []
    queue = f"infinity-test-{uuid.uuid4().hex[:8]}"  # a shared Redis: our tasks stay ours

    def start(kind: str, **extra) -> subprocess.Popen:
        celery = kind == "celery"
        if celery:
            extra.setdefault("REDIS_URL", REDIS_URL)
            extra.setdefault("INFINITY_CELERY_QUEUE", queue)
        process = start_worker(database_url, celery=celery, beat_file=tmp_path / f"beat-{len(started)}", **extra)
        started.append(process)
        return process

    yield start
    for process in started:
        stop(process)


def wait_until(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_manage_py_serve_delivers_with_no_second_command(api, orders, receiver, database_url):
    make_hook(api, receiver.url)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "INFINITY_WEBHOOK_ALLOW_PRIVATE": "1", "REDIS_URL": ""}
    server = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port)], cwd=settings.BASE_DIR,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        record = api.post(BASE, {"name": "served"}, format="json").json()["data"]
        [got] = receiver.wait_for(1, timeout=60)
        assert got.json["data"] == record
    finally:
        stop(server)


@pytest.mark.parametrize("kind", KINDS)
def test_a_worker_killed_mid_delivery_delivers_after_restart(api, orders, receiver, workers, kind):
    make_hook(api, receiver.url)
    receiver.hold.clear()  # the first request hangs until we let it go
    worker = workers(kind)
    api.post(BASE, {"name": "survivor"}, format="json")
    [first] = receiver.wait_for(1, timeout=60)
    kill_group(worker)  # SIGKILL in the middle of the request
    receiver.hold.set()
    # The killed attempt was never recorded: the change waits in the feed to be taken again
    # (its first attempt is made in the transaction that takes it), and is sent again under
    # the same delivery id.
    assert changes.changes_pending(consumer="webhooks") == 1 and not Delivery.objects.exists()
    workers(kind)
    second = receiver.wait_for(2, timeout=60)[1]
    assert second.headers["x-infinity-delivery"] == first.headers["x-infinity-delivery"]
    assert second.body == first.body
    assert wait_until(lambda: Delivery.objects.filter(status="delivered").count() == 1)


@pytest.mark.parametrize("kind", KINDS)
def test_two_workers_never_send_one_attempt_twice(api, orders, receiver, workers, kind):
    make_hook(api, receiver.url)
    receiver.script = [(200, {}, 0.02)] * 60  # slow enough for both workers to be busy at once
    workers(kind), workers(kind)
    for batch in range(3):
        assert api.post(BASE, [{"name": f"{batch}-{i}"} for i in range(20)], format="json").status_code == 201
    receiver.wait_for(60, timeout=90)
    assert wait_until(lambda: Delivery.objects.filter(status="delivered").count() == 60)
    time.sleep(1)  # anything sent twice would have arrived by now
    counts = Counter(r.headers["x-infinity-delivery"] for r in receiver.requests)
    assert len(counts) == 60 and set(counts.values()) == {1}


@pytest.mark.skipif(not REDIS_URL or not shutil.which("redis-server"), reason="needs REDIS_URL and redis-server")
def test_a_broker_down_at_commit_delays_the_delivery_never_loses_it(api, orders, receiver, workers, tmp_path):
    """Our own Redis on a free port: stopped while the change commits, started again later."""
    port = free_port()

    def redis():
        return subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", str(tmp_path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    broker = redis()
    try:
        url = f"redis://127.0.0.1:{port}/0"
        make_hook(api, receiver.url)
        workers("celery", REDIS_URL=url)
        time.sleep(3)  # the worker is up and listening
        stop(broker)
        record = api.post(BASE, {"name": "while down"}, format="json")
        assert record.status_code == 201  # the write never needs the broker
        time.sleep(2)
        assert receiver.requests == [] and Delivery.objects.count() == 0
        broker = redis()
        [got] = receiver.wait_for(1, timeout=90)
        assert got.json["data"]["name"] == "while down"
    finally:
        stop(broker)

