"""The hot paths' round trips to PostgreSQL, and what keeps reading ahead safe.

A read by id sends its reads (schema stamp, the record) with its first statement, the
rate-limit count: one round trip. A create inserts and reads back what it stored in one
statement, which also checks the schema stamp. Reads sent ahead for a request never
serve another one, and a guess made from a schema another process has since changed is
undone and answered right; so is a create.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from datamodels import dynamic, services

from .conftest import count, create, error_of, fetch, table_rows, url


# Savepoints exist only because every test runs in a transaction.
TEST_ONLY = re.compile(r'(RELEASE )?SAVEPOINT "?\w+"?')


def statements(send, path: str, body=None) -> tuple:
    """(the response, the SQL of every round trip it made to PostgreSQL)."""
    with CaptureQueriesContext(connection) as queries:
        response = send(path, body, format="json") if body is not None else send(path)
    return response, [q["sql"] for q in queries if not TEST_ONLY.fullmatch(q["sql"])]


@pytest.fixture
def ledger(db):
    return services.data_model_create(name="ledger", fields=[
        {"name": "name", "type": "text", "required": True},
        {"name": "total", "type": "number", "decimal_places": 2},
        {"name": "meta", "type": "json"},
    ])


@pytest.fixture
def limited_api(api, superuser):
    """A client whose key allows 3 requests a minute."""
    from accounts.services import apikey_create

    _, raw = apikey_create(user=superuser, name="limited", rate_limit="3/m")
    api.credentials(HTTP_X_API_KEY=raw)
    return api


def test_a_read_by_id_is_one_round_trip(api, companies):
    record = create(api, "companies", {"name": "Acme", "country": "NL"})
    api.get(url("companies", record["id"]))  # warm: the key and the generated class are cached

    response, sql = statements(api.get, url("companies", record["id"]))

    assert response.status_code == 200
    assert response.json() == {"data": record}
    assert len(sql) == 1
    assert f'FROM "{companies.db_table}"' in sql[0]


def test_a_read_with_fields_or_include_is_still_right(api, companies):
    record = create(api, "companies", {"name": "Acme", "country": "NL"})

    response = api.get(url("companies", record["id"], fields="id,name"))

    assert response.status_code == 200
    assert response.json() == {"data": {"id": record["id"], "name": "Acme"}}


def test_a_create_is_one_round_trip_and_answers_what_a_read_shows(api, ledger):
    create(api, "ledger", {"name": "warm"})

    response, sql = statements(api.post, url("ledger"), {"name": "Ann", "total": 12.345, "meta": {"a": [1]}})

    assert response.status_code == 201
    assert len(sql) == 1
    assert sql[0].startswith(f'INSERT INTO "{ledger.db_table}"') and " RETURNING " in sql[0]
    assert "infinity_if_schema(" in sql[0]  # the stamp, checked in the same statement
    created = response.json()["data"]
    read = api.get(url("ledger", created["id"]))
    assert read.json() == {"data": created}
    assert response["ETag"] == read["ETag"]
    assert created["total"] == 12.35 and created["created_at"] == created["updated_at"]


def test_a_refused_request_leaves_nothing_read_ahead_behind(limited_api, api, companies, superuser):
    """A request refused after its reads ran (429 here) drops their rows: the next
    request reads the record as it is then, not as the refused one saw it."""
    from accounts.services import apikey_create

    record = create(limited_api, "companies", {"name": "Before"})
    for _ in range(2):
        assert limited_api.get(url("companies", record["id"])).status_code == 200
    refused = limited_api.get(url("companies", record["id"]))  # the record was read ahead, then refused
    assert refused.status_code == 429

    _, raw = apikey_create(user=superuser, name="other")
    api.credentials(HTTP_X_API_KEY=raw)
    patched = api.patch(url("companies", record["id"]), {"name": "After"}, format="json")

    assert patched.status_code == 200 and patched.json()["data"]["name"] == "After"
    assert api.get(url("companies", record["id"])).json()["data"]["name"] == "After"


def test_a_guess_from_a_schema_changed_elsewhere_is_undone(limited_api, companies, projects):
    """Another process deleted the model this process still has cached: the read sent
    ahead names a dropped table, so the batch fails, is undone, and the request is
    counted once and answered from the current schema."""
    record = create(limited_api, "companies", {"name": "Acme"})
    assert limited_api.get(url("companies", record["id"])).status_code == 200  # cached with companies
    stale = dynamic._cache["schema"]

    services.data_model_delete(data_model=companies)
    dynamic._cache["schema"] = stale  # as in a process that has not read the new stamp yet

    response = limited_api.get(url("companies", record["id"]))

    error_of(response, 404, "NOT_FOUND")
    assert response["X-RateLimit-Remaining"] == "0"  # 3/m: the create, the read, this one
    assert fetch("SELECT to_regclass(%s)", [companies.db_table]) == [(None,)]
    assert count(projects) == 0  # the test's transaction is still usable


@pytest.mark.parametrize("params", [
    {"limit": 2},  # the total from the trigger-kept row count
    {"limit": 2, "page": 2, "sort": "name:asc"},
    {"limit": 2, "filter": "country:NL"},  # the total remembered, checked against the table's state
])
def test_a_list_page_with_its_total_is_one_round_trip(api, companies, params):
    for i, country in enumerate(["NL", "NL", "DE", "NL", "BE"]):
        create(api, "companies", {"name": f"c{i}", "country": country})
    api.get(url("companies", **params))  # warm: classes, and a filtered total to remember

    response, sql = statements(api.get, url("companies", **params))

    assert response.status_code == 200
    assert response.json()["pagination"]["total"] == (3 if "filter" in params else 5)
    assert len(response.json()["data"]) == 2
    assert len(sql) == 1


def test_a_cursor_page_is_one_round_trip(api, companies):
    for i in range(5):
        create(api, "companies", {"name": f"c{i}"})
    cursor = api.get(url("companies", limit=2)).json()["pagination"]["next_cursor"]
    api.get(url("companies", limit=2, cursor=cursor))

    response, sql = statements(api.get, url("companies", limit=2, cursor=cursor))

    assert response.status_code == 200 and len(response.json()["data"]) == 2
    assert len(sql) == 1


def test_bad_list_parameters_are_judged_after_the_permission_check(api, companies, projects, superuser):
    """Reading ahead parses the parameters early, but a caller without access is told
    403 before anything about its parameters."""
    from accounts.services import apikey_create

    _, raw = apikey_create(user=superuser, name="projects only", models=["projects"], rate_limit="1000/m")
    api.credentials(HTTP_X_API_KEY=raw)

    error_of(api.get(url("companies", sort="nope:asc")), 403, "FORBIDDEN")
    error_of(api.get(url("projects", sort="nope:asc")), 400, "VALIDATION_ERROR")


@pytest.fixture
def stale_after(db):
    """`stale_after(change)`: make `change` as another process would, while this process
    keeps the schema it had cached before (it has not read the new stamp yet)."""
    def make(change):
        dynamic.current_schema()
        stale = dynamic._cache["schema"]
        result = change()
        dynamic._cache["schema"] = stale
        return result
    return make


def test_a_create_on_a_schema_changed_elsewhere_is_judged_on_the_current_one(limited_api, companies, stale_after):
    """The field became required after this process cached the schema: the INSERT made
    from the cached classes finds the stamp moved on and writes nothing; the create is
    judged again, refused, and counted once."""
    create(limited_api, "companies", {"name": "Acme"})
    country = companies.fields.get(name="country")
    stale_after(lambda: services.field_update(field=country, required=True))

    response = limited_api.post(url("companies"), {"name": "Beta"}, format="json")

    assert error_of(response, 400, "VALIDATION_ERROR")["details"] == [
        {"field": "country", "message": "This field is required"}]
    assert response["X-RateLimit-Remaining"] == "1"  # 3/m: the first create, this one
    assert count(companies) == 1
    assert fetch(f'SELECT count(*) FROM "{companies.db_table}" WHERE {country.column} IS NULL') == [(1,)]


def test_a_create_naming_a_field_added_elsewhere_is_stored(api, companies, stale_after):
    create(api, "companies", {"name": "Acme"})
    founded = stale_after(lambda: services.field_create(data_model=companies, name="founded", type="integer"))

    response = api.post(url("companies"), {"name": "Beta", "founded": 1999}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["data"]["founded"] == 1999
    assert fetch(f'SELECT "{founded.column}" FROM "{companies.db_table}" WHERE id = %s',
                 [response.json()["data"]["id"]]) == [(1999,)]


def test_a_create_missing_a_field_dropped_elsewhere_is_stored(api, companies, stale_after):
    """The cached classes name a column that is gone: the INSERT fails, and the create is
    made again with the current schema."""
    create(api, "companies", {"name": "Acme"})
    stale_after(lambda: services.field_delete(field=companies.fields.get(name="country")))

    response = api.post(url("companies"), {"name": "Beta"}, format="json")

    assert response.status_code == 201, response.content
    assert set(response.json()["data"]) == {"id", "created_at", "updated_at", "name"}
    assert count(companies) == 2


def test_a_create_in_a_model_created_elsewhere_is_stored(api, companies, stale_after):
    create(api, "companies", {"name": "Acme"})
    teams = stale_after(lambda: services.data_model_create(name="teams", fields=[{"name": "name", "type": "text"}]))

    response = api.post(url("teams"), {"name": "Red"}, format="json")

    assert response.status_code == 201, response.content
    assert count(teams) == 1


def test_a_create_in_a_model_deleted_elsewhere_is_not_found(api, companies, projects, stale_after):
    create(api, "companies", {"name": "Acme"})
    stale_after(lambda: services.data_model_delete(data_model=companies))

    error_of(api.post(url("companies"), {"name": "Beta"}, format="json"), 404, "NOT_FOUND")
    assert fetch("SELECT to_regclass(%s)", [companies.db_table]) == [(None,)]
    assert count(projects) == 0  # the test's transaction is still usable


def test_access_refused_on_a_stale_schema_is_judged_again(api, companies, superuser, stale_after):
    """A key for the model now named "companies", which this process's cached schema still
    knows as another model: the cached schema would refuse it; the current one allows it."""
    from accounts.services import apikey_create

    create(api, "companies", {"name": "Acme"})

    def replace():
        services.data_model_delete(data_model=companies)
        return services.data_model_create(name="companies", fields=[{"name": "title", "type": "text"}])

    replacement = stale_after(replace)
    _, raw = apikey_create(user=superuser, name="new companies only", models=["companies"], rate_limit="3/m")
    api.credentials(HTTP_X_API_KEY=raw)

    response = api.post(url("companies"), {"title": "Gamma"}, format="json")

    assert response.status_code == 201, response.content
    assert response["X-RateLimit-Remaining"] == "2"
    assert table_rows(replacement) and count(replacement) == 1


def test_a_create_reads_no_stamp_even_beside_its_rate_limit_count(limited_api, companies):
    """The count (in PostgreSQL without Redis) carries no stamp read a later check could
    mistake for a current one: the INSERT is where the stamp is read."""
    create(limited_api, "companies", {"name": "Acme"})

    response, sql = statements(limited_api.post, url("companies"), {"name": "Beta"})

    assert response.status_code == 201
    assert sql[-1].startswith(f'INSERT INTO "{companies.db_table}"')
    assert not any("FROM datamodels_schemastate" in statement for statement in sql)


@pytest.mark.django_db(transaction=True)
def test_a_create_waiting_on_a_schema_change_is_made_on_the_new_schema(limited_api, companies):
    """Another connection drops a field while this create runs (no test transaction
    around it: the INSERT runs alone, as in production). The INSERT waits for the
    change's lock, then finds the column gone; the create is made again on the schema
    as read after that, and counted once."""
    create(limited_api, "companies", {"name": "Acme", "country": "NL"})
    locked = threading.Event()

    def drop_country():
        try:
            with transaction.atomic():
                services.field_delete(field=companies.fields.get(name="country"))
                locked.set()
                time.sleep(0.5)  # the create below is waiting for this lock by now
        finally:
            connection.close()  # this thread's own

    other = threading.Thread(target=drop_country)
    other.start()
    assert locked.wait(30)
    response = limited_api.post(url("companies"), {"name": "Beta"}, format="json")
    other.join()

    assert response.status_code == 201, response.content
    assert set(response.json()["data"]) == {"id", "created_at", "updated_at", "name"}
    assert response["X-RateLimit-Remaining"] == "1"  # 3/m: the first create, this one
    assert count(companies) == 2


def test_a_bulk_create_on_a_schema_changed_elsewhere_is_judged_on_the_current_one(api, companies, stale_after):
    create(api, "companies", {"name": "Acme"})
    country = companies.fields.get(name="country")
    stale_after(lambda: services.field_update(field=country, required=True))

    response = api.post(url("companies"), [{"name": "Beta", "country": "NL"}, {"name": "Gamma"}], format="json")

    assert error_of(response, 400, "VALIDATION_ERROR")["details"] == [
        {"field": "country", "message": "This field is required", "index": 1}]
    assert count(companies) == 1


def test_an_idempotent_create_on_a_schema_changed_elsewhere_is_judged_on_the_current_one(api, companies, stale_after):
    create(api, "companies", {"name": "Acme"})
    country = companies.fields.get(name="country")
    stale_after(lambda: services.field_update(field=country, required=True))

    response = api.post(url("companies"), {"name": "Beta"}, format="json", HTTP_IDEMPOTENCY_KEY="beta-1")

    assert error_of(response, 400, "VALIDATION_ERROR")["details"] == [
        {"field": "country", "message": "This field is required"}]
    assert count(companies) == 1
    assert fetch("SELECT count(*) FROM datamodels_idempotencykey") == [(0,)]
