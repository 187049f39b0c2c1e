"""Deep pages (offset ≥ lists.DEFERRED_JOIN_OFFSET) find their ids first, then read those rows:
they must give exactly the rows, in exactly the order, a plain OFFSET query gives."""

from __future__ import annotations

import pytest

from datamodels import lists, services

from .conftest import fetch, url

ROWS = 1234
LIMIT = 100


@pytest.fixture
def many(db):
    """`items` with ROWS records sharing few distinct sort values, so ties need the id tie-breaker."""
    data_model = services.data_model_create(
        name="items", fields=[{"name": "name", "type": "text"}, {"name": "rank", "type": "integer"}]
    )
    name, rank = (f.column for f in data_model.fields.order_by("position", "id"))
    fetch(
        f'INSERT INTO "{data_model.db_table}" (id, created_at, updated_at, "{name}", "{rank}") '
        "SELECT 'rec_' || lpad(g::text, 26, '0'), timestamptz '2024-01-01' + (g %% 7) * interval '1 hour', now(), "
        f"'n' || g, g %% 5 FROM generate_series(1, {ROWS}) g RETURNING 1"
    )
    return data_model, rank


def walk(api, **params) -> list[str]:
    seen, page = [], 1
    while True:
        body = api.get(url("items", page=page, limit=LIMIT, **params)).json()
        seen += [item["id"] for item in body["data"]]
        if page >= body["pagination"]["pages"]:
            return seen
        page += 1


@pytest.mark.parametrize(
    "params, order, where",
    [
        ({}, "created_at DESC, id DESC", ""),
        ({"sort": "rank:asc"}, "{rank} ASC, id ASC", ""),
        ({"sort": "rank:desc", "filter": "rank:>1"}, "{rank} DESC, id DESC", "WHERE {rank} > 1"),
    ],
    ids=["default", "sorted", "filtered"],
)
def test_deep_pages_match_a_plain_offset_query(api, many, params, order, where):
    data_model, rank = many
    assert ROWS > lists.DEFERRED_JOIN_OFFSET + LIMIT  # the last pages take the deep path
    expected = [row[0] for row in fetch(
        f'SELECT id FROM "{data_model.db_table}" {where.format(rank=rank)} ORDER BY {order.format(rank=rank)}'
    )]

    assert walk(api, **params) == expected
