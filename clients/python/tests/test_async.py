"""`AsyncClient` against the real server: the same round trip, `async for` over pages, its errors and retries."""

from __future__ import annotations

import asyncio

import pytest

from infinity_client import AsyncClient, NotFound, Page, PreconditionFailed, Record, ValidationError

from .conftest import count, rows


def run(coroutine):
    return asyncio.run(coroutine)


@pytest.fixture
def make_async(server_url, api_key, wire):
    def make(**options) -> AsyncClient:
        options.setdefault("api_key", api_key)
        options.setdefault("base_url", server_url)
        options.setdefault("event_hooks", wire.async_hooks())
        return AsyncClient(**options)

    return make


def test_async_round_trip(make_async, customers, wire):
    async def scenario():
        async with make_async() as client:
            model = client.models["customers"]
            created = await model.create({"name": "Jane", "email": "jane@example.com", "total": 10})
            bulk = await model.create([{"name": "Ann", "total": 5}, {"name": "Zed", "total": 20}])
            fetched = await model.get(created.id)
            listed = await model.list(filter={"total__gte": 10}, sort=[("total", "desc")])
            patched = await model.update(created.id, {"status": "inactive"}, etag=fetched.etag)
            with pytest.raises(PreconditionFailed):
                await model.update(created.id, {"total": 11}, etag=fetched.etag)
            replaced = await model.replace(created.id, {"name": "Janet"})
            deleted = await model.delete(bulk[0].id)
            with pytest.raises(NotFound):
                await model.get(bulk[0].id)
            with pytest.raises(ValidationError) as invalid:
                await model.create({"total": "many"})
            return created, bulk, fetched, listed, patched, replaced, deleted, invalid.value

    created, bulk, fetched, listed, patched, replaced, deleted, invalid = run(scenario())

    assert isinstance(created, Record) and fetched == created and fetched.etag
    assert [r["name"] for r in bulk] == ["Ann", "Zed"]
    assert isinstance(listed, Page) and [r["name"] for r in listed] == ["Zed", "Jane"] and listed.total == 2
    assert patched["status"] == "inactive" and patched.etag != fetched.etag
    assert (replaced["name"], replaced["email"], replaced["status"]) == ("Janet", None, "active")
    assert deleted["success"] is True
    assert sorted(d["field"] for d in invalid.details) == ["name", "total"]
    assert invalid.request_id == wire.responses[-1].headers["x-request-id"]
    assert sorted(row[1] for row in rows(customers)) == ["Janet", "Zed"]


def test_async_iterate_walks_every_page_by_cursor(make_async, customers, wire):
    async def scenario():
        async with make_async() as client:
            await client.models.customers.create([{"name": f"a{i:03d}", "total": i} for i in range(250)])
            before = len(wire.requests)
            seen = [record async for record in client.models.customers.iterate(limit=100, sort="total:asc")]
            return seen, len(wire.requests) - before

    seen, requests = run(scenario())

    assert requests == 3
    assert [r["total"] for r in seen] == list(range(250)) and count(customers) == 250


def test_async_clients_run_calls_concurrently_on_one_pool(make_async, customers):
    async def scenario():
        async with make_async() as client:
            created = await asyncio.gather(*(client.models.customers.create({"name": f"c{i}"}) for i in range(8)))
            return created

    created = run(scenario())

    assert len({r.id for r in created}) == 8 and count(customers) == 8


def test_async_webhooks_and_search(make_async, committed_schema):
    """The same resources, awaited: webhooks and a search by vector."""
    from datamodels import services

    services.data_model_create(name="points", fields=[
        {"name": "label", "type": "text"}, {"name": "vec", "type": "vector", "dimensions": 2}])

    async def scenario():
        async with make_async() as client:
            hook = await client.webhooks.create("https://example.com/hook", ["record.created"])
            fetched = await client.webhooks.get(hook.id)
            rotated = await client.webhooks.rotate_secret(hook.id)
            ping = await client.webhooks.test(hook.id)
            deliveries = await client.webhooks.deliveries(hook.id)
            deleted = await client.webhooks.delete(hook.id)
            points = await client.models.points.create([{"label": "x", "vec": [1, 0]}, {"label": "y", "vec": [0.6, 0.8]}])
            found = await client.models.points.search(vector=[1, 0.1], threshold=0.9)
            similar = await client.models.points.similar(points[0].id)
            return hook, fetched, rotated, ping, deliveries, deleted, found, similar

    hook, fetched, rotated, ping, deliveries, deleted, found, similar = run(scenario())
    assert hook["secret"].startswith("whsec_") and "secret" not in fetched and fetched.id == hook.id
    assert rotated["secret"] != hook["secret"]
    assert ping["event"] == "ping" and [d.id for d in deliveries] == [ping.id]
    assert deleted == {"success": True, "message": "Webhook deleted successfully"}
    assert [r["label"] for r in found] == ["x"] and found[0]["similarity"] > 0.99
    assert [(r["label"], round(r["similarity"], 4)) for r in similar] == [("y", 0.6)]
