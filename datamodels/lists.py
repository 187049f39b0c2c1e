"""Record lists: a page by number (with an exact total) or after a cursor.

`list_plan` works a list request out against one schema: its query, the read that
gives the page and the one the total starts from. A plan made before the request's
first statement, from the schema cached so far, queues those reads to ride along
(`prefetch_list`); `record_list` runs a plan, the guessed one when the schema proved
current, so a first page with its total costs no round trip of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infinity import prefetch
from infinity.exceptions import InfinityError

from . import compiled
from .dynamic import ModelEntry, Schema
from .query import (ListQuery, apply_cursor, apply_filters, apply_order, cursor_condition, encode_cursor,
                    order_columns, parse_list_query)
from .rowcount import filtered_count, row_count, state_read
from .selectors import RecordRenderer

DEFERRED_JOIN_OFFSET = 1000


@dataclass
class Page:
    """One page of a list: rendered records and the pagination object."""

    data: list[dict]
    pagination: dict


@dataclass
class ListPlan:
    """A list request worked out against `schema`: the page's read, and how to total it."""

    schema: Schema
    entry: ModelEntry
    query: ListQuery
    renderer: RecordRenderer
    page: compiled.Select | compiled.JsonSelect
    params: tuple  # the page's
    offset: int | None  # None for a cursor page, which has no total
    filtered: object  # the filtered queryset, for counting

    def reads(self) -> list[tuple[str, tuple]]:
        """The statements this plan will read, as (sql, params)."""
        reads = [(self.page.sql, self.params)]
        if self.offset is not None and (not self.query.filters or _own_columns_only(self.entry, self.query.filters)):
            reads.append(state_read(self.entry.definition.pk))
        return reads


def list_plan(entry: ModelEntry, schema: Schema, params) -> ListPlan:
    """Parse the list parameters (400 on a bad one) and build the page's read."""
    query = parse_list_query(entry, schema, params)
    renderer = RecordRenderer.of(entry, schema, query.fields, query.include)
    columns = renderer.columns([col for col, _ in order_columns(query.sort)])
    filtered = apply_filters(entry.model.objects.all(), query.filters)
    if query.cursor is not None and not query.filters:
        page, params = _cursor_page(entry, renderer, query, columns)
        return ListPlan(schema, entry, query, renderer, page, tuple(params), None, filtered)
    if query.cursor is not None:
        ordered = apply_cursor(apply_order(filtered, query.sort), query.sort, query.cursor)
        page, offset = _select(renderer, query, ordered.values(*columns)[: query.limit + 1]), None
    elif query.filters:
        offset = (query.page - 1) * query.limit
        page = _select(renderer, query, _page(entry, query, apply_order(filtered, query.sort), offset).values(*columns))
    else:
        offset = (query.page - 1) * query.limit
        page = _unfiltered_page(entry, renderer, query, offset, columns)
    return ListPlan(schema, entry, query, renderer, page, tuple(page.params), offset, filtered)


def _select(renderer: RecordRenderer, query: ListQuery, rows):
    """The page's read: records written by PostgreSQL where it can, with the sort columns
    (the next cursor is made from the last row's)."""
    if renderer.sql_json is None:
        return compiled.Select(rows)
    order = order_columns(query.sort)
    return compiled.JsonSelect(rows, renderer.sql_json, [col for col, _ in order], order)


def _unfiltered_page(entry: ModelEntry, renderer: RecordRenderer, query: ListQuery, offset: int, columns: list[str]):
    """A page without filters: its SQL depends on the model, fields, sort and position only."""
    return compiled.cached(
        ("page", entry.model, tuple(columns), tuple(renderer.sql_json or ()), tuple(query.sort), offset, query.limit),
        lambda: _select(renderer, query,
                        _page(entry, query, apply_order(entry.model.objects.all(), query.sort), offset).values(*columns)),
    )


def _cursor_page(entry: ModelEntry, renderer: RecordRenderer, query: ListQuery, columns: list[str]):
    """An unfiltered page after a cursor, compiled once per shape; with this cursor's parameters."""
    where, params = cursor_condition(entry.definition.db_table, query.sort, query.cursor)

    def build():
        after = apply_order(entry.model.objects.all(), query.sort).extra(where=[where], params=params)
        select = _select(renderer, query, after.values(*columns)[: query.limit + 1])
        assert list(select.params) == list(params)  # the cursor's values are all its parameters
        return select

    key = ("cursor", entry.model, tuple(columns), tuple(renderer.sql_json or ()), tuple(query.sort), query.limit, where)
    return compiled.cached(key, build), params


def _page(entry: ModelEntry, query: ListQuery, ordered, offset: int):
    """The page's rows; a deep page finds its ids first (an index-only scan skips the
    offset without reading the skipped rows), then reads just those rows."""
    if offset < DEFERRED_JOIN_OFFSET:
        return ordered[offset: offset + query.limit]
    ids = ordered.values("pk")[offset: offset + query.limit]
    return apply_order(entry.model.objects.filter(pk__in=ids), query.sort)


def prefetch_list(entry: ModelEntry, schema: Schema, params) -> ListPlan | None:
    """A plan from a schema that may be stale, its reads queued; None when the parameters
    are refused (the request answers that only after its permission checks)."""
    try:
        plan = list_plan(entry, schema, params)
    except InfinityError:
        return None
    for sql, sql_params in plan.reads():
        prefetch.queue(sql, sql_params)
    return plan


def record_list(entry: ModelEntry, schema: Schema, params, *, guess: ListPlan | None = None) -> Page:
    """The page a list request asks for; `guess` is used when made for this very schema."""
    if guess is not None and guess.schema is schema and guess.entry is entry:
        plan = guess
    else:
        plan = list_plan(entry, schema, params)
    query = plan.query
    rows = plan.page.rows(plan.params)
    if plan.offset is None:
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        pagination = {"limit": query.limit}
    else:
        total = _total(plan, rows)
        more = plan.offset + len(rows) < total
        pages = math.ceil(total / query.limit) if total else 0
        pagination = {"page": query.page, "limit": query.limit, "total": total, "pages": pages}
    if plan.renderer.sql_json is not None:  # (record JSON, sort columns) pairs
        data, last = [record for record, _ in rows], rows[-1][1] if rows else None
    else:
        data, last = plan.renderer.render(rows), rows[-1] if rows else None
    pagination["next_cursor"] = encode_cursor(query.sort, last) if more and rows else None
    return Page(data, pagination)


def _total(plan: ListPlan, rows: list) -> int:
    """The exact number of matching records, without a count(*) scan where possible."""
    entry, query, offset = plan.entry, plan.query, plan.offset
    if len(rows) < query.limit and (rows or offset == 0):
        return offset + len(rows)  # a short page tells it
    if not query.filters:
        return row_count(entry.definition.pk)  # kept by triggers, exact
    if _own_columns_only(entry, query.filters):
        signature = (plan.schema.version, entry.definition.pk,
                     *((f.lookup, f.op, repr(f.value)) for f in query.filters))
        return filtered_count(entry.definition.pk, signature, plan.filtered)
    return plan.filtered.count()


def _own_columns_only(entry: ModelEntry, filters) -> bool:
    """Filters that read only the model's own table (no relation, no join table)."""
    relations = {f.column for f in entry.fields if f.type == "relation"}
    return all("__" not in f.lookup and f.lookup not in relations and not f.many for f in filters)
