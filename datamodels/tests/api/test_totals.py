"""`pagination.total` of an unfiltered list comes from trigger-kept row counts: it must be exact
after every kind of write, after rollbacks, and under many concurrent writers."""

from __future__ import annotations

import json
import threading
import urllib.request

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import apikey_create
from datamodels import rowcount, services

from .conftest import TEST_RATE_LIMIT, count, fetch, url


def total(api, model: str = "companies", **params) -> int:
    # limit=1 keeps every page full, so the total never comes from a short page.
    response = api.get(url(model, limit=1, **params))
    assert response.status_code == 200, response.content
    return response.json()["pagination"]["total"]


def post(api, body, model: str = "companies") -> list[str]:
    response = api.post(url(model), body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()["data"]
    return [item["id"] for item in data] if isinstance(data, list) else [data["id"]]


def test_total_follows_creates_bulk_creates_and_deletes(api, companies):
    ids = [post(api, {"name": f"c{i}"})[0] for i in range(4)]
    ids += post(api, [{"name": f"bulk{i}"} for i in range(5)])
    assert total(api) == count(companies) == 9

    for record_id in ids[:3]:
        assert api.delete(url("companies", record_id)).status_code == 200

    assert total(api) == count(companies) == 6
    pagination = api.get(url("companies", limit=4)).json()["pagination"]
    assert (pagination["total"], pagination["pages"]) == (6, 2)


def test_a_refused_bulk_create_leaves_the_total_alone(api, companies):
    post(api, [{"name": "a"}, {"name": "b"}])

    refused = api.post(url("companies"), [{"name": "c"}, {"country": "no name"}], format="json")

    assert refused.status_code == 400
    assert total(api) == count(companies) == 2


def test_the_filtered_total_still_counts_matches(api, companies):
    post(api, [{"name": "a", "country": "NL"}, {"name": "b", "country": "NL"}, {"name": "c", "country": "DE"}])

    assert total(api, filter="country:NL") == 2
    assert total(api) == 3


def test_many_writes_stay_exact_in_a_few_counter_rows(api, companies):
    for i in range(40):
        post(api, {"name": f"c{i}"})
    ids = post(api, [{"name": f"bulk{i}"} for i in range(10)])
    for record_id in ids[:5]:
        assert api.delete(url("companies", record_id)).status_code == 200

    assert total(api) == count(companies) == 45
    (slots, counted), = fetch("SELECT count(*), sum(delta) FROM datamodels_rowcount WHERE data_model_id = %s",
                              [companies.pk])
    assert 1 <= slots <= rowcount.SLOTS  # one per database session (modulo SLOTS), not one per write
    assert counted == 45


def test_rows_written_outside_the_api_are_counted_too(api, companies):
    post(api, [{"name": "a"}, {"name": "b"}])
    table = companies.db_table
    with connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{table}" WHERE id IN (SELECT id FROM "{table}" LIMIT 1)')
        cursor.execute(f'INSERT INTO "{table}" (id) VALUES (%s), (%s), (%s)', ["rec_x1", "rec_x2", "rec_x3"])
    assert total(api) == count(companies) == 4

    with connection.cursor() as cursor:
        cursor.execute(f'TRUNCATE "{table}"')
    post(api, {"name": "after truncate"})
    assert total(api) == count(companies) == 1


def test_dropping_a_model_forgets_its_count(api, companies):
    post(api, [{"name": "a"}, {"name": "b"}])
    model_id = companies.pk

    services.data_model_delete(data_model=companies)

    assert fetch("SELECT count(*) FROM datamodels_rowcount WHERE data_model_id = %s", [model_id]) == [(0,)]


# --- many writers at once, through a real server -----------------------------------

def _request(method: str, address: str, key: str, body=None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(address, data=data, method=method,
                                     headers={"X-API-Key": key, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


@pytest.mark.django_db(transaction=True)
def test_totals_stay_exact_under_concurrent_inserts_and_deletes(live_server, committed_schema, superuser):
    companies = services.data_model_create(name="companies", fields=[{"name": "name", "type": "text"}])
    _, key = apikey_create(user=superuser, name="writers", rate_limit=TEST_RATE_LIMIT)
    base = f"{live_server.url}{url('companies')}"
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(12):
                _, created = _request("POST", base, key, [{"name": f"w{n}-{i}-a"}, {"name": f"w{n}-{i}-b"}])
                _request("DELETE", f"{base}/{created['data'][0]['id']}", key)
                _request("GET", f"{base}?limit=1", key)
        except BaseException as exc:  # reported below, with the thread's failure
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    status, body = _request("GET", f"{base}?limit=1", key)
    assert status == 200
    assert body["pagination"]["total"] == count(companies) == 6 * 12


# --- filtered totals are remembered only while the table is unchanged ---------------

def count_statements(api, path: str, table: str) -> tuple[int, int]:
    """(the list's total, how many statements counted rows of `table`)."""
    with CaptureQueriesContext(connection) as queries:
        response = api.get(path)
    assert response.status_code == 200, response.content
    counting = [q for q in queries if "count(" in q["sql"].lower() and f'"{table}"' in q["sql"]]
    return response.json()["pagination"]["total"], len(counting)


def test_a_repeated_filtered_total_is_not_counted_again(api, companies):
    post(api, [{"name": f"n{i}", "country": "NL"} for i in range(3)] + [{"name": "d", "country": "DE"}])
    path = url("companies", limit=1, filter="country:NL")

    table = companies.db_table
    assert count_statements(api, path, table) == (3, 1)
    assert count_statements(api, path, table) == (3, 0)
    assert count_statements(api, url("companies", limit=1, filter="country:DE"), table) == (1, 1)


@pytest.mark.parametrize("write", ["create", "update", "update outside the api", "delete"])
def test_every_kind_of_write_refreshes_a_remembered_filtered_total(api, companies, write):
    ids = post(api, [{"name": f"n{i}", "country": "NL"} for i in range(3)])
    path = url("companies", limit=1, filter="country:NL")
    assert total(api, filter="country:NL") == 3

    if write == "create":
        post(api, {"name": "new", "country": "NL"})
    elif write == "update":
        assert api.patch(url("companies", ids[0]), {"country": "DE"}, format="json").status_code == 200
    elif write == "update outside the api":
        country = companies.fields.get(name="country").column
        fetch(f'UPDATE "{companies.db_table}" SET "{country}" = %s WHERE id = %s RETURNING 1', ["DE", ids[0]])
    else:
        assert api.delete(url("companies", ids[0])).status_code == 200

    expected = 4 if write == "create" else 2
    assert api.get(path).json()["pagination"]["total"] == expected
    assert fetch(f'SELECT count(*) FROM "{companies.db_table}" WHERE "{companies.fields.get(name="country").column}" '
                 "= 'NL'") == [(expected,)]


def test_a_retype_refreshes_a_remembered_filtered_total(api, companies):
    post(api, [{"name": "a", "country": "10"}, {"name": "b", "country": "10.0"}, {"name": "c", "country": "20"}])
    assert total(api, filter="country:10") == 1

    services.field_update(field=companies.fields.get(name="country"), type="number")

    assert total(api, filter="country:10") == 2


def test_a_remembered_filtered_total_does_not_survive_a_truncate(api, companies):
    post(api, [{"name": "a", "country": "NL"}, {"name": "b", "country": "NL"}])
    assert total(api, filter="country:NL") == 2
    with connection.cursor() as cursor:
        cursor.execute(f'TRUNCATE "{companies.db_table}"')

    post(api, [{"name": "c", "country": "NL"}, {"name": "d", "country": "DE"}])  # as many writes as before

    assert total(api, filter="country:NL") == 1
