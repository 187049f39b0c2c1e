"""Celery tasks of search (with Redis): thin wrappers around `search.feed`."""

from celery import shared_task

from . import feed


@shared_task(name="search.embed_changes", ignore_result=True)
def embed_changes() -> None:
    """Drain the change feed's search work; safe to run often and concurrently (SKIP LOCKED)."""
    feed.drain()
