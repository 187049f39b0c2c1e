"""The change feed (`datamodels.changes`): every committed record change, whatever wrote it.

Writes go through the records API over HTTP, the admin records browser, raw SQL and
COPY; the feed table is read with raw SQL. These tests commit for real (the feed's
`data` is written at commit), so they run as transactional tests.
"""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection, transaction
from django.test import Client

from datamodels import changes, services
from datamodels.dynamic import current_schema
from datamodels.records import record_create

from .conftest import create, fetch, url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("committed_schema")]
ALL = list(changes.EVENTS)


def feed(consumer: str = "test") -> list[dict]:
    rows = fetch("SELECT event, record_id, changed, data, previous, data_model_id FROM datamodels_recordchange "
                 "WHERE consumer = %s ORDER BY id", [consumer])
    return [{"event": e, "id": r, "changed": c, "data": json.loads(d) if d is not None else None,
             "previous": json.loads(p) if isinstance(p, str) else p, "model": m} for e, r, c, d, p, m in rows]


def text_of(api, model: str, record_id: str) -> dict:
    response = api.get(url(model, record_id))
    assert response.status_code == 200
    return response.json()["data"]


def watch(data_model, events=ALL, fields=(), consumer="test"):
    changes.change_interest_set(consumer=consumer, model_id=data_model.pk if data_model else None,
                                events=events, fields=fields)


def test_nothing_is_written_when_nobody_watches(api, customers, companies):
    record = create(api, "companies", {"name": "Acme"})
    api.patch(url("companies", record["id"]), {"country": "FR"}, format="json")
    assert api.delete(url("companies", record["id"])).status_code == 200
    assert fetch("SELECT count(*) FROM datamodels_recordchange") == [(0,)]
    assert fetch(f'SELECT count(*) FROM "{companies.db_table}"') == [(0,)]  # the BEFORE DELETE trigger let it go


def test_a_create_is_recorded_with_the_apis_own_json(api, customers, companies, projects):
    watch(customers)
    company = create(api, "companies", {"name": "Acme"})
    project = create(api, "projects", {"title": "P"})
    record = create(api, "customers", {"name": "Ann", "company": company["id"], "projects": [project["id"]],
                                       "total": 12.5, "last_seen": "2024-01-02T03:04:05.123Z", "meta": {"b": 1, "a": 2}})
    [change] = feed()
    assert change["event"] == "record.created" and change["id"] == record["id"]
    assert change["model"] == customers.pk and change["previous"] is None
    # Byte for byte the API's JSON: the same keys in the same order, the same values.
    raw = fetch("SELECT data FROM datamodels_recordchange")[0][0]
    assert json.loads(raw) == text_of(api, "customers", record["id"])
    assert list(json.loads(raw)) == list(text_of(api, "customers", record["id"]))
    assert "embedding" not in change["changed"] and "projects" in change["changed"]


def test_an_update_names_the_changed_fields_and_their_old_values(api, companies):
    record = create(api, "companies", {"name": "Acme", "country": "FR"})
    watch(companies)
    response = api.patch(url("companies", record["id"]), {"country": "DE"}, format="json")
    assert response.status_code == 200
    [change] = feed()
    assert change["event"] == "record.updated" and change["changed"] == ["country"]
    assert change["previous"] == {"country": "FR"}
    assert change["data"] == response.json()["data"]


def test_an_update_that_changes_nothing_writes_nothing(api, companies):
    record = create(api, "companies", {"name": "Acme", "country": "FR"})
    watch(companies)
    assert api.put(url("companies", record["id"]), {"name": "Acme", "country": "FR"}, format="json").status_code == 200
    assert feed() == []


def test_fields_restrict_updates_to_those_fields(api, companies):
    record = create(api, "companies", {"name": "Acme", "country": "FR"})
    watch(companies, events=["record.updated"], fields=["country"])
    api.patch(url("companies", record["id"]), {"name": "Acme 2"}, format="json")
    assert feed() == []
    api.patch(url("companies", record["id"]), {"name": "Acme 3", "country": "DE"}, format="json")
    [change] = feed()
    assert change["changed"] == ["name", "country"] and change["previous"] == {"name": "Acme 2", "country": "FR"}


def test_events_not_asked_for_are_not_written(api, companies):
    watch(companies, events=["record.deleted"])
    record = create(api, "companies", {"name": "Acme"})
    api.patch(url("companies", record["id"]), {"country": "DE"}, format="json")
    assert feed() == []
    assert api.delete(url("companies", record["id"])).status_code == 200
    assert [c["event"] for c in feed()] == ["record.deleted"]


def test_links_are_part_of_created_updated_and_deleted(api, customers, projects):
    p1, p2 = create(api, "projects", {"title": "1"}), create(api, "projects", {"title": "2"})
    watch(customers)
    record = create(api, "customers", {"name": "Ann", "projects": [p1["id"]]})
    [created] = feed()
    assert created["data"]["projects"] == [p1["id"]]  # links written after the row are in it
    fetch("DELETE FROM datamodels_recordchange RETURNING id")
    response = api.patch(url("customers", record["id"]), {"projects": [p2["id"], p1["id"]], "age": 3}, format="json")
    [updated] = feed()  # the row's update and the links' changes are one event
    assert updated["changed"] == ["age", "projects"]
    assert updated["previous"] == {"age": None, "projects": [p1["id"]]}
    assert updated["data"] == response.json()["data"]
    fetch("DELETE FROM datamodels_recordchange RETURNING id")
    assert api.delete(url("customers", record["id"])).status_code == 200
    [deleted] = feed()
    assert deleted["event"] == "record.deleted" and deleted["data"] == updated["data"]


def test_a_delete_that_clears_relations_updates_the_records_that_pointed_at_it(api, customers, companies, projects):
    company, project = create(api, "companies", {"name": "Acme"}), create(api, "projects", {"title": "1"})
    other = create(api, "projects", {"title": "2"})
    record = create(api, "customers", {"name": "Ann", "company": company["id"], "projects": [project["id"], other["id"]]})
    watch(customers, events=["record.updated"])
    assert api.delete(url("companies", company["id"])).status_code == 200
    assert api.delete(url("projects", project["id"])).status_code == 200
    first, second = feed()
    assert first["changed"] == ["company"] and first["previous"] == {"company": company["id"]}
    assert first["data"]["company"] is None
    assert second["changed"] == ["projects"] and second["previous"] == {"projects": [project["id"], other["id"]]}
    assert second["data"] == text_of(api, "customers", record["id"])


def test_bulk_creates_and_a_refused_bulk(api, companies):
    watch(companies)
    response = api.post(url("companies"), [{"name": "A"}, {"name": "B"}, {"name": "C"}], format="json")
    assert response.status_code == 201
    assert [c["id"] for c in feed()] == [r["id"] for r in response.json()["data"]]
    response = api.post(url("companies"), [{"name": "D"}, {"country": "no name"}], format="json")
    assert response.status_code == 400
    assert len(feed()) == 3


def test_a_rolled_back_change_leaves_nothing(companies):
    watch(companies)
    entry = current_schema().get("companies")
    with pytest.raises(RuntimeError), transaction.atomic():
        record_create(entry=entry, data={"name": "A"})
        raise RuntimeError("roll back")
    assert feed() == []


@pytest.mark.parametrize("events", [ALL, ["record.created"]])
def test_a_create_changed_again_in_its_transaction_carries_the_record_as_committed(companies, customers, events):
    # The create's row is written with the record's JSON by the insert trigger; a later
    # statement of the same transaction (an update, a link) has it written again at commit,
    # also for a consumer that asked for creates only. A record created and deleted in one
    # transaction leaves only its delete.
    watch(companies, events)
    entry = current_schema().get("companies")
    name, country = (companies.fields.get(name=n).column for n in ("name", "country"))
    with transaction.atomic(), connection.cursor() as cursor:
        first = record_create(entry=entry, data={"name": "A"})
        cursor.execute(f'UPDATE "{companies.db_table}" SET "{name}" = %s, "{country}" = %s WHERE id = %s',
                       ["A2", "FR", first.pk])
        gone = record_create(entry=entry, data={"name": "B"})
        cursor.execute(f'DELETE FROM "{companies.db_table}" WHERE id = %s', [gone.pk])
        kept = record_create(entry=entry, data={"name": "C"})
    expected = [("record.created", first.pk), *([("record.deleted", gone.pk)] if events == ALL else []),
                ("record.created", kept.pk)]
    assert [(c["event"], c["id"]) for c in feed()] == expected
    assert (feed()[0]["data"]["name"], feed()[0]["data"]["country"]) == ("A2", "FR")
    assert feed()[-1]["data"]["name"] == "C"
    assert fetch("SELECT count(*) FROM datamodels_recordchange WHERE data IS NULL") == [(0,)]


def test_raw_sql_and_copy_are_captured_too(companies):
    watch(companies)
    name = companies.fields.get(name="name").column
    with connection.cursor() as cursor:
        with cursor.copy(f'COPY "{companies.db_table}" (id, "{name}") FROM STDIN') as copy:
            copy.write_row(("rec_copy1", "Copied"))
            copy.write_row(("rec_copy2", "Copied too"))
        cursor.execute(f'UPDATE "{companies.db_table}" SET "{name}" = %s WHERE id = %s', ["Renamed", "rec_copy1"])
    events = [(c["event"], c["id"]) for c in feed()]
    assert events == [("record.created", "rec_copy1"), ("record.created", "rec_copy2"), ("record.updated", "rec_copy1")]
    assert feed()[2]["data"]["name"] == "Renamed"


def test_the_admin_records_browser_is_captured(superuser, companies):
    watch(companies)
    client = Client()
    client.force_login(superuser)
    response = client.post(f"/admin/datamodels/datamodel/{companies.pk}/records/add/", {"name": "From admin"})
    assert response.status_code == 302
    [change] = feed()
    assert change["event"] == "record.created" and change["data"]["name"] == "From admin"


def test_every_model_interest_and_schema_changes(api, companies, projects):
    changes.change_interest_set(consumer="test", model_id=None, events=["record.created"])
    create(api, "projects", {"title": "1"})
    field = services.field_create(data_model=companies, name="city", type="text")
    create(api, "companies", {"name": "A", "city": "Lyon"})
    services.field_update(field=field, name="town")
    create(api, "companies", {"name": "B", "town": "Nice"})
    got = [(c["model"], c["data"].get("city"), c["data"].get("town")) for c in feed()]
    assert got == [(projects.pk, None, None), (companies.pk, "Lyon", None), (companies.pk, None, "Nice")]
    changes.change_interest_clear(consumer="test", every=True)
    create(api, "projects", {"title": "2"})
    assert len(feed()) == 3


def test_claims_skip_rows_another_transaction_holds_and_a_rollback_returns_them(api, companies):
    watch(companies)
    for name in "ABC":
        create(api, "companies", {"name": name})
    taken = threading.Event()
    release = threading.Event()
    other: list = []

    def hold_two():
        with transaction.atomic():
            other.extend(changes.changes_claim(consumer="test", limit=2))
            taken.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=hold_two)
    thread.start()
    assert taken.wait(10)
    with transaction.atomic():
        mine = changes.changes_claim(consumer="test", limit=10)
    release.set()
    thread.join(10)
    assert [c.data and json.loads(c.data)["name"] for c in other] == ["A", "B"]
    assert [json.loads(c.data)["name"] for c in mine] == ["C"]
    assert feed() == []
    with pytest.raises(RuntimeError), transaction.atomic():
        assert len(changes.changes_claim(consumer="test")) == 0
        raise RuntimeError
    create(api, "companies", {"name": "D"})
    with pytest.raises(RuntimeError), transaction.atomic():
        assert len(changes.changes_claim(consumer="test")) == 1
        raise RuntimeError
    assert len(feed()) == 1
    with pytest.raises(RuntimeError):
        changes.changes_claim(consumer="test")  # outside a transaction it would lose rows


def test_commits_notify_listeners(api, companies):
    watch(companies)
    listener = connection.get_new_connection(connection.get_connection_params())
    try:
        listener.autocommit = True
        listener.execute(f"LISTEN {changes.CHANNEL}")
        create(api, "companies", {"name": "A"})
        notices = []
        for notice in listener.notifies(timeout=5, stop_after=1):
            notices.append(notice.payload)
        assert notices == ["test"]
    finally:
        listener.close()


def test_one_consumer_clearing_its_interest_leaves_the_others(api, companies):
    watch(companies, consumer="a")
    watch(None, events=["record.created"], consumer="b")
    changes.change_interest_clear(consumer="b", every=True)
    create(api, "companies", {"name": "A"})
    assert len(feed("a")) == 1 and feed("b") == []
    changes.change_interest_clear(consumer="a", model_id=companies.pk)
    create(api, "companies", {"name": "B"})
    assert len(feed("a")) == 1
    assert fetch("SELECT count(*) FROM datamodels_recordchange") == [(1,)]
