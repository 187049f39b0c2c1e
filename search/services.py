"""Embedding services: compute and store the vectors of computed vector fields.

`embed_records` is the one job: given a vector field and record ids, it reads the
records' current text, embeds the texts that need it in batches, and stores each
vector only where the record still holds that text (an edit made meanwhile queues
its own job, which then wins). Running it twice is harmless: a record whose vector
is current is skipped. A backend failure is recorded on the field (the admin shows
it) and raised, so the caller retries; the records' writes were committed long before.
`backfill_batch` finds records whose vectors are missing (or stale) and embeds them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from pgvector import Vector

from datamodels.dynamic import ModelEntry, current_schema

from . import sources
from .backends import EmbeddingUnavailable, backend
from .models import VectorFieldStatus

READ_CHUNK = 256  # records read, embedded and written per step


@dataclass
class EmbedResult:
    """What one call stored: vectors written, records left empty, records already current."""

    embedded: int = 0
    emptied: int = 0
    current: int = 0


def embed_records(*, field_id: int, record_ids: list[str]) -> EmbedResult:
    """Bring these records' vectors of field `field_id` up to date with their text."""
    entry, field = sources.find_field(current_schema(), field_id)
    result = EmbedResult()
    if field is None or not sources.is_computed(field):
        return result  # the field was removed or is no longer computed: nothing to do
    ids = list(dict.fromkeys(record_ids))
    for start in range(0, len(ids), READ_CHUNK):
        _embed_rows(entry, field, _pending_rows(entry, field, ids[start:start + READ_CHUNK]), result)
    return result


def _pending_rows(entry: ModelEntry, field, ids: list[str]) -> list[tuple[str, str, str]]:
    """(id, text, fingerprint) of those records whose vector does not match their text."""
    table = entry.definition.db_table
    sql = (f'SELECT t.id, {sources.text_sql(entry, field)}, {sources.fingerprint_sql(entry, field)} '
           f'FROM "{table}" t LEFT JOIN search_vectorstate s ON s.field_id = %s AND s.record_id = t.id '
           f"WHERE t.id = ANY(%s) AND s.fingerprint IS DISTINCT FROM {sources.fingerprint_sql(entry, field)}")
    prefix = sources.fingerprint_prefix(entry, field)
    with connection.cursor() as cursor:
        cursor.execute(sql, [prefix, field.pk, ids, prefix])
        return cursor.fetchall()


def _embed_rows(entry: ModelEntry, field, rows: list[tuple[str, str, str]], result: EmbedResult) -> None:
    if not rows:
        return
    texts = list(dict.fromkeys(text for _, text, _ in rows if text))
    try:
        vectors = dict(zip(texts, backend().embed(texts))) if texts else {}
    except EmbeddingUnavailable as exc:
        record_failure(field.pk, exc.message)
        raise
    written = _store(entry, field, [(rid, vectors.get(text), fp) for rid, text, fp in rows])
    result.embedded += sum(1 for rid, text, _ in rows if text and rid in written)
    result.emptied += sum(1 for rid, text, _ in rows if not text and rid in written)
    record_success(field.pk)


def _store(entry: ModelEntry, field, items: list[tuple[str, list | None, str]]) -> set[str]:
    """Write vectors where each record's text still has the fingerprint they were made
    from, and record that fingerprint; the ids written."""
    table = entry.definition.db_table
    sql = (f'WITH v AS (SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) AS v(id, vec, fp)), '
           f'written AS (UPDATE "{table}" t SET "{field.column}" = v.vec::vector FROM v '
           f"WHERE t.id = v.id AND {sources.fingerprint_sql(entry, field)} = v.fp RETURNING t.id, v.fp) "
           "INSERT INTO search_vectorstate (field_id, record_id, fingerprint, embedded_at) "
           "SELECT %s, id, fp, now() FROM written "
           "ON CONFLICT (field_id, record_id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, "
           "embedded_at = EXCLUDED.embedded_at RETURNING record_id")
    params = [[rid for rid, _, _ in items], [None if v is None else Vector._to_db(v) for _, v, _ in items],
              [fp for _, _, fp in items], sources.fingerprint_prefix(entry, field), field.pk]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def record_failure(field_id: int, message: str) -> None:
    now = timezone.now()
    status, _ = VectorFieldStatus.objects.get_or_create(field_id=field_id)
    status.last_error, status.last_error_at, status.failures = message[:2000], now, status.failures + 1
    status.save()


def record_success(field_id: int) -> None:
    VectorFieldStatus.objects.update_or_create(field_id=field_id, defaults={"last_success_at": timezone.now(),
                                                                            "failures": 0})


def backfill_batch(entry: ModelEntry, field, *, stale: bool, after: str, size: int) -> tuple[list[str], EmbedResult]:
    """Embed the next `size` records (by id, after `after`) whose vector is missing (or,
    with `stale`, computed from other text, source fields or backend); their ids."""
    table = entry.definition.db_table
    condition = (f"s.fingerprint IS DISTINCT FROM {sources.fingerprint_sql(entry, field)}" if stale
                 else "s.record_id IS NULL")
    sql = (f'SELECT t.id FROM "{table}" t LEFT JOIN search_vectorstate s ON s.field_id = %s AND s.record_id = t.id '
           f"WHERE t.id > %s AND {condition} ORDER BY t.id LIMIT %s")
    params = [field.pk, after, *([sources.fingerprint_prefix(entry, field)] if stale else []), size]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    return ids, (embed_records(field_id=field.pk, record_ids=ids) if ids else EmbedResult())


def pending_count(entry: ModelEntry, field, *, stale: bool = True) -> int:
    """How many records wait for a vector: never computed, or (with `stale`) computed from
    other text, source fields or backend."""
    table = entry.definition.db_table
    condition = (f"s.fingerprint IS DISTINCT FROM {sources.fingerprint_sql(entry, field)}" if stale
                 else "s.record_id IS NULL")
    sql = (f'SELECT count(*) FROM "{table}" t LEFT JOIN search_vectorstate s '
           f"ON s.field_id = %s AND s.record_id = t.id WHERE {condition}")
    params = [field.pk, *([sources.fingerprint_prefix(entry, field)] if stale else [])]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def forget_deleted(entry: ModelEntry, field) -> int:
    """Drop the fingerprints of records that no longer exist; how many."""
    with connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM search_vectorstate s WHERE s.field_id = %s AND NOT EXISTS '
                       f'(SELECT 1 FROM "{entry.definition.db_table}" t WHERE t.id = s.record_id)', [field.pk])
        return cursor.rowcount
