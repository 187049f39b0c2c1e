"""Search reads: nearest records by cosine similarity, hybrid keyword + vector, "similar".

Every search is one SQL statement ordered by `<=>` (cosine distance) over the
field's HNSW index, with the list filters applied by `datamodels.query`; pgvector's
iterative index scan (`hnsw.iterative_scan`) keeps filtered searches returning
`limit` records when that many match, and `hnsw.ef_search` is at least `limit`. A
filter that PostgreSQL expects to keep few rows is searched exactly instead (the HNSW
index path is turned off for that statement): the graph walk would visit many nodes
the filter then drops, slower and with a worse recall than comparing those few rows.
Rows are rendered by `datamodels.selectors.RecordRenderer`, as lists render them.
Hybrid search fuses the vector ranking with PostgreSQL full-text ranking over the
source fields (matched through their GIN index) by reciprocal-rank fusion.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

from django.db import connection, transaction
from django.db.models import F, FloatField
from django.db.models.expressions import RawSQL
from pgvector.django import CosineDistance

from datamodels.ddl import TEXT_SEARCH_CONFIG, text_document_sql
from datamodels.dynamic import ModelEntry, Schema
from datamodels.query import apply_filters
from datamodels.selectors import RecordRenderer, record_queryset
from infinity.exceptions import Conflict, NotFound

from . import sources
from .backends import backend
from .query import SearchQuery

RRF_K = 60  # reciprocal-rank fusion's constant (Cormack et al.; what Weaviate and Elastic use)
HYBRID_DEPTH = 4  # each ranking contributes up to this many times `limit` candidates
MIN_EF_SEARCH = 100  # pgvector's default is 40: a little more work per search buys recall@10 at 100k rows
# A filter expected to keep at most this many rows is searched exactly (about 1 ms per
# 1,000 rows here). Measured at 100,000 rows (p50, recall@10): 1,000 rows exactly 1.7 ms and
# 1.0, by the iterative HNSW scan 30 ms and 0.70; 5,000 rows 5.6 ms and 1.0 against 8.1 ms
# and 0.83; 10,000 rows 9.6 ms and 1.0 against 3.7 ms and 0.955, where the index wins.
EXACT_SCAN_ROWS = 5000
CACHE_SIZE = 1024

_cache: OrderedDict[tuple[str, str], list[float]] = OrderedDict()
_cache_lock = threading.Lock()


def query_vector(text: str) -> list[float]:
    """The query's embedding; the same text under the same backend is embedded once per process."""
    made = backend()
    key = (made.identity, text)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    vector = made.embed([text], attempts=1)[0]  # a request waits for one try at most
    with _cache_lock:
        _cache[key] = vector
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return vector


def search(entry: ModelEntry, schema: Schema, query: SearchQuery) -> list[dict]:
    """The records of a search request, best first, each with `similarity` (and `score` in hybrid)."""
    vector = query.vector if query.vector is not None else query_vector(query.text)
    if query.mode == "hybrid":
        return _hybrid(entry, schema, query, vector)
    return _nearest(entry, schema, query, vector)


def similar(entry: ModelEntry, schema: Schema, record_id: str, query: SearchQuery) -> list[dict]:
    """The records nearest to this record's own vector, itself left out."""
    row = record_queryset(entry, record_id).values_list(query.field.column, flat=True).first()
    if row is None and not record_queryset(entry, record_id).exists():
        raise NotFound("Record not found")
    if row is None:
        raise Conflict(f'This record has no "{query.field.name}" vector yet; try again once it is computed')
    return _nearest(entry, schema, query, list(row), exclude=record_id)


def _nearest(entry, schema, query: SearchQuery, vector, *, exclude: str | None = None) -> list[dict]:
    renderer = RecordRenderer.of(entry, schema, query.fields, query.include)
    ranked = _ranked(entry, query, vector)
    if exclude is not None:
        ranked = ranked.exclude(pk=exclude)
    rows = [row for row in _run(ranked.values(*renderer.columns(), "similarity")[: query.limit], query.limit,
                                exact=_selective(entry, query))
            if row["similarity"] >= query.threshold]
    return _with_scores(renderer, rows, {})


def _candidates(entry: ModelEntry, query: SearchQuery):
    """The filtered records that have a vector."""
    column = query.field.column
    return apply_filters(entry.model.objects.filter(**{f"{column}__isnull": False}), query.filters)


def _ranked(entry: ModelEntry, query: SearchQuery, vector):
    """The filtered records that have a vector, nearest first, annotated with `similarity`."""
    return (_candidates(entry, query)
            .annotate(distance=CosineDistance(query.field.column, vector))
            .annotate(similarity=1 - F("distance"))
            .order_by("distance"))  # nothing after it: the HNSW index gives this order alone


def _selective(entry: ModelEntry, query: SearchQuery) -> bool:
    """Whether the planner expects the filters to keep at most `EXACT_SCAN_ROWS` records
    (its estimate from the table's statistics; planning only, nothing is read)."""
    if not query.filters:
        return False
    sql, params = _candidates(entry, query).values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return plan[0]["Plan"]["Plan Rows"] <= EXACT_SCAN_ROWS


def _run(queryset, limit: int, *, exact: bool = False) -> list[dict]:
    """Run a nearest-first query: exactly (no index scan: the filter's own index and a sort
    of the distances), or with an HNSW search wide enough for `limit` rows, scanning the
    index further while filters drop candidates (pgvector 0.8)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('hnsw.ef_search', %s, true), "
                           "set_config('hnsw.iterative_scan', 'strict_order', true), "
                           "set_config('enable_indexscan', %s, true)",
                           [str(max(MIN_EF_SEARCH, limit)), "off" if exact else "on"])
        return list(queryset)


def _with_scores(renderer: RecordRenderer, rows: list[dict], scores: dict[str, float]) -> list[dict]:
    """Rendered records with `similarity` (and `score`) right after `id`."""
    out = []
    for row, record in zip(rows, renderer.render(rows)):
        head = {"id": record.pop("id")} if "id" in record else {}
        head["similarity"] = round(float(row["similarity"]), 6)
        if scores:
            head["score"] = round(scores[row["id"]], 6)
        out.append({**head, **record})
    return out


def _hybrid(entry, schema, query: SearchQuery, vector) -> list[dict]:
    """Reciprocal-rank fusion of the vector ranking (above the threshold) and the
    full-text ranking of the source fields; each record scores Σ 1/(60 + rank)."""
    depth = query.limit * HYBRID_DEPTH
    by_vector = [row["pk"] for row in _run(_ranked(entry, query, vector).values("pk", "similarity")[:depth], depth,
                                           exact=_selective(entry, query))
                 if row["similarity"] >= query.threshold]
    by_text = _keyword_ranking(entry, query, depth)
    scores: dict[str, float] = {}
    for ranking in (by_vector, by_text):
        for rank, record_id in enumerate(ranking, start=1):
            scores[record_id] = scores.get(record_id, 0.0) + 1.0 / (RRF_K + rank)
    best = sorted(scores, key=lambda rid: (-scores[rid], rid))[: query.limit]
    renderer = RecordRenderer.of(entry, schema, query.fields, query.include)
    column = query.field.column
    rows = {row["id"]: row for row in entry.model.objects.filter(pk__in=best)
            .annotate(similarity=1 - CosineDistance(column, vector)).values(*renderer.columns(), "similarity")}
    for row in rows.values():
        row["similarity"] = row["similarity"] if row["similarity"] is not None else 0.0
    return _with_scores(renderer, [rows[rid] for rid in best if rid in rows], scores)


def _keyword_ranking(entry: ModelEntry, query: SearchQuery, depth: int) -> list[str]:
    """Ids of the filtered records whose source text matches the query's words, best first.

    The document is the expression of the field's full-text (GIN) index, built by the same
    function (`datamodels.ddl.text_document_sql`), so the match is an index scan; only the
    matched rows are ranked."""
    table = entry.definition.db_table
    document = text_document_sql(sources.source_columns(entry, query.field), table)
    words = f"websearch_to_tsquery('{TEXT_SEARCH_CONFIG}'::regconfig, %s)"
    matched = apply_filters(entry.model.objects.all(), query.filters).annotate(
        rank=RawSQL(f"ts_rank_cd({document}, {words})", [query.text], output_field=FloatField()),
    ).extra(where=[f"{document} @@ {words}"], params=[query.text])
    return list(matched.order_by("-rank", "pk").values_list("pk", flat=True)[:depth])
