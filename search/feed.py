"""Search as a consumer of datamodels' change feed: computed vectors follow their text.

For each model with computed vector fields, search declares interest in created and
updated records whose source fields changed (`sync_interests`, whenever the schema
moved on); triggers then record those changes in the writer's own transaction, and
`process_changes` takes a batch (FOR UPDATE SKIP LOCKED, so workers never share one),
embeds each field's records in one backend call, and stores the vectors in the same
transaction that removes the batch from the feed. A failed embedding rolls the batch
back into the feed, is recorded on the field (the admin shows it), and is retried by
the worker with a growing pause. Writes never wait for any of it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field as dc_field

from django.db import transaction

from datamodels.changes import change_interest_clear, change_interest_set, change_interests, changes_claim
from datamodels.dynamic import Schema, current_schema

from . import services, sources
from .backends import EmbeddingUnavailable

logger = logging.getLogger("search.feed")
CONSUMER = "search"
EVENTS = ("record.created", "record.updated")
CLAIM = services.READ_CHUNK  # changes per transaction: one backend call per field, rows locked briefly

_synced: dict = {"stamp": None}


@dataclass
class Outcome:
    """One `process_changes` call: changes taken, vectors written, the error that stopped it."""

    changes: int = 0
    embedded: int = 0
    error: str | None = None
    failed_fields: list[int] = dc_field(default_factory=list)


def wanted(schema: Schema) -> dict[int, list[str]]:
    """Model id → the source field names its computed vectors read."""
    interests = {}
    for entry in schema.by_id.values():
        names = sorted({name for f in sources.computed_fields(entry) for name in f.source_fields})
        if names:
            interests[entry.definition.pk] = names
    return interests


def sync_interests(schema: Schema | None = None) -> list[tuple]:
    """Make the feed's interests match the schema (once per schema); then embed what was
    written before an interest existed (a new computed field, or records written before
    its interest was recorded). Returns the (entry, field) pairs that were caught up."""
    schema = schema or current_schema()
    if _synced["stamp"] == schema.stamp:
        return []
    wants = wanted(schema)
    with transaction.atomic():
        have = change_interests(consumer=CONSUMER)
        for model_id in set(have) - set(wants):
            change_interest_clear(consumer=CONSUMER, model_id=model_id)
        for model_id, names in wants.items():
            if have.get(model_id) != (list(EVENTS), names):
                change_interest_set(consumer=CONSUMER, model_id=model_id, events=EVENTS, fields=names)
    caught_up = []
    for model_id in wants:
        entry = schema.by_id[model_id]
        for field in sources.computed_fields(entry):
            _catch_up(entry, field)
            caught_up.append((entry, field))
    _synced["stamp"] = schema.stamp
    return caught_up


def _catch_up(entry, field) -> None:
    after = ""
    while True:
        ids, _ = services.backfill_batch(entry, field, stale=False, after=after, size=services.READ_CHUNK)
        if not ids:
            return
        after = ids[-1]


def process_changes(limit: int = CLAIM) -> Outcome:
    """Take up to `limit` changes and bring their records' vectors up to date."""
    outcome = Outcome()
    schema = current_schema()
    try:
        with transaction.atomic():
            changes = changes_claim(consumer=CONSUMER, limit=limit)
            outcome.changes = len(changes)
            for field_id, record_ids in _jobs(schema, changes).items():
                outcome.failed_fields = [field_id]
                outcome.embedded += services.embed_records(field_id=field_id, record_ids=record_ids).embedded
            outcome.failed_fields = []
    except EmbeddingUnavailable as exc:  # the batch is back in the feed: recorded outside its transaction
        outcome.error = exc.message
        for field_id in outcome.failed_fields:
            services.record_failure(field_id, exc.message)
        logger.warning("embedding failed, will retry: %s", exc.message)
    return outcome


def _jobs(schema: Schema, changes) -> dict[int, list[str]]:
    """Vector field id → records to embed: created ones, and updated ones whose sources changed."""
    jobs: dict[int, list[str]] = {}
    for change in changes:
        entry = schema.by_id.get(change.data_model_id)
        if entry is None:
            continue
        for field in sources.computed_fields(entry):
            if change.event == "record.created" or set(change.changed) & set(field.source_fields):
                jobs.setdefault(field.pk, []).append(change.record_id)
    return jobs


def drain(max_batches: int = 1000) -> Outcome:
    """Process changes until the feed is empty, an embedding fails, or `max_batches` ran."""
    total = Outcome()
    sync_interests()
    for _ in range(max_batches):
        outcome = process_changes()
        total.changes += outcome.changes
        total.embedded += outcome.embedded
        if outcome.error or not outcome.changes:
            total.error = outcome.error
            break
    return total
