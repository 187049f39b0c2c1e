"""Celery side of search (with Redis): each worker process runs the embedding worker thread,
and `search.embed_changes` drains the feed on demand. Both are thin: `search.feed` works."""

from celery import shared_task
from celery.signals import worker_ready

from . import feed, worker


@shared_task(name="search.embed_changes", ignore_result=True)
def embed_changes() -> None:
    """Drain the change feed's search work; safe to run often and concurrently (SKIP LOCKED)."""
    feed.drain()


@worker_ready.connect
def _start_worker(**_):
    worker.start(force=True)
