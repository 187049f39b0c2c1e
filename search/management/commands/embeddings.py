"""`manage.py embeddings backfill [MODEL] [--field F] [--stale]`: compute the vectors of
computed vector fields that are missing (and, with `--stale`, those computed from other
text, source fields or backend), in batches, with a progress bar. `manage.py embeddings
work` runs the embedding worker (`search.worker`) in the foreground.

Each batch is committed on its own, so an interrupted run loses at most one batch:
running it again carries on with the records still waiting. The logic lives in
`search.services`.
"""

from __future__ import annotations

import sys
import threading
import time

from django.core.management.base import BaseCommand, CommandError

from datamodels.dynamic import current_schema
from search import services, sources, worker
from search.backends import EmbeddingUnavailable


class Command(BaseCommand):
    """Backfill computed vectors."""

    help = "Compute missing (or stale) vectors of vector fields with source_fields."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="{backfill,work}")
        actions.add_parser("work", help="Keep computed vectors up to date with the change feed, until stopped.")
        backfill = actions.add_parser("backfill", help="(Re)compute missing or stale vectors.")
        backfill.add_argument("model", nargs="?", metavar="MODEL", help="Only this data model (default: all).")
        backfill.add_argument("--field", metavar="F", help="Only this vector field of MODEL.")
        backfill.add_argument("--stale", action="store_true",
                              help="Also recompute vectors made from other text, source fields or backend.")
        backfill.add_argument("--batch", type=int, default=256, metavar="N", help="Records per batch (default 256).")

    def handle(self, *args, action, **options):
        if action == "work":
            self.stdout.write("Embedding worker running; stop with Ctrl-C.")
            try:
                worker.run(threading.Event())
            except KeyboardInterrupt:
                pass
            return
        self.backfill(**options)

    def backfill(self, *, model, field, stale, batch, **_):
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        targets = _targets(model, field)
        if not targets:
            self.stdout.write("No vector field with source_fields to fill.")
        for entry, vector in targets:
            self._backfill(entry, vector, stale=stale, size=batch)

    def _backfill(self, entry, vector, *, stale: bool, size: int) -> None:
        name = f"{entry.name}.{vector.name}"
        services.forget_deleted(entry, vector)
        total = services.pending_count(entry, vector, stale=stale)
        bar = Progress(name, total, self.stderr)
        embedded = emptied = 0
        after = ""
        while True:
            try:
                ids, result = services.backfill_batch(entry, vector, stale=stale, after=after, size=size)
            except EmbeddingUnavailable as exc:
                bar.close()
                raise CommandError(f"{name}: stopped after {embedded + emptied} record(s): {exc.message}") from exc
            if not ids:
                break
            after = ids[-1]
            embedded, emptied = embedded + result.embedded, emptied + result.emptied
            bar.update(len(ids))
        bar.close()
        self.stdout.write(f"{name}: {embedded} vector(s) computed, {emptied} record(s) without text.")


def _targets(model: str | None, field: str | None) -> list[tuple]:
    schema = current_schema()
    if field and not model:
        raise CommandError("--field needs MODEL")
    if model:
        entry = schema.get(model)
        if entry is None:
            raise CommandError(f'Unknown model "{model}"')
        entries = [entry]
    else:
        entries = sorted(schema.by_name.values(), key=lambda e: e.name)
    targets = [(e, f) for e in entries for f in sources.computed_fields(e) if not field or f.name == field]
    if field and not targets:
        raise CommandError(f'"{field}" is not a vector field with source_fields of "{model}"')
    return targets


class Progress:
    """A one-line progress bar on stderr (redrawn in place on a terminal, a line per 10% otherwise)."""

    WIDTH = 30

    def __init__(self, name: str, total: int, out):
        self.name, self.total, self.done, self.out = name, total, 0, out
        self.started, self.tty = time.monotonic(), getattr(sys.stderr, "isatty", lambda: False)()
        self.shown_tenth = -1

    def update(self, count: int) -> None:
        self.done += count
        tenth = self.done * 10 // max(self.total, 1)
        if self.tty or tenth != self.shown_tenth:
            self.shown_tenth = tenth
            self.out.write(self.line(), ending="\r" if self.tty else "\n")
            self.out.flush()

    def line(self) -> str:
        share = min(1.0, self.done / self.total) if self.total else 1.0
        filled = int(share * self.WIDTH)
        rate = self.done / max(time.monotonic() - self.started, 1e-6)
        return (f"{self.name} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total} "
                f"({share:.0%}, {rate:.0f}/s)")

    def close(self) -> None:
        if self.tty and self.done:
            self.out.write("")
