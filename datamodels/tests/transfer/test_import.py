"""`manage.py records import`: every bad input refused with a clear reason and nothing written; upserts; dry runs."""

from __future__ import annotations

import json

import pytest

from datamodels import records
from datamodels.rowcount import row_count

from .conftest import entry, fetch, run, table_rows, write


@pytest.fixture
def people(companies):
    from datamodels import services

    return services.data_model_create(name="people", fields=[
        {"name": "name", "type": "text", "required": True},
        {"name": "email", "type": "email", "unique": True},
        {"name": "age", "type": "integer", "min_value": 0},
        {"name": "vip", "type": "boolean", "default": False},
        {"name": "company", "type": "relation", "related_model": companies},
    ])


@pytest.fixture
def existing(people):
    return records.record_create(entry=entry("people"), data={"name": "Old", "email": "old@example.com", "age": 9})


def refused(tmp_path, people, name: str, content, *extra) -> str:
    """Import a file that must be refused; assert nothing changed and return the reason."""
    before = table_rows(people)
    code, out, err = run("import", "people", write(tmp_path, name, content), *extra)
    assert code == 1, out
    assert table_rows(people) == before
    return err.strip().splitlines()[-1]


# --- files refused as a whole ---------------------------------------------------------------

@pytest.mark.parametrize("name, content, reason", [
    ("a.csv", "name,email\nRené,r@example.com\n".encode("latin-1"),
     "The file is not UTF-8 (an invalid byte on line 2): save it as UTF-8"),
    ("a.csv", b"\xef\xbb\xbfname\nAnn\n",
     "The file is UTF-8 with a byte-order mark: save it as UTF-8 without a byte-order mark (BOM)"),
    ("a.csv", "name\nAnn\n".encode("utf-16"),
     "The file is UTF-16: save it as UTF-8 without a byte-order mark (BOM)"),
    ("a.csv", "name,shoe_size\nAnn,42\n",
     "The header names unknown field(s) of people: shoe_size (its fields: id, created_at, updated_at, name, email, "
     "age, vip, company)"),
    ("a.csv", "email,age\na@example.com,3\n", "Missing required column(s): name"),
    ("a.csv", "name,name\nA,B\n", "The header names name more than once"),
    ("a.csv", "", "The file is empty"),
    ("a.jsonl", "\n  \n", "The file is empty"),
    ("a.json", '{"name": "Ann"}', "A JSON file must hold an array of objects (use .jsonl for one object per line)"),
    ("a.json", '[{"name": "Ann"}, "Bob"]', "A JSON file must hold an array of objects: item 2 is not an object"),
    ("a.json", '[{"name": "Ann"}', None),
    ("a.json", "[]", "The file holds no records"),
    ("a.txt", "name\nAnn\n", "Cannot tell the format of"),
])
def test_a_file_that_cannot_be_read_is_refused_with_its_reason(name, content, reason, people, tmp_path):
    message = refused(tmp_path, people, name, content)

    if reason is None:
        assert message.startswith("The file is not valid JSON: ")
    else:
        assert message.startswith(reason)


def test_an_unknown_model_or_upsert_field_is_refused(people, tmp_path):
    path = write(tmp_path, "a.csv", "name\nAnn\n")

    assert run("import", "nobody", path)[2].strip() == 'Unknown model "nobody"'
    assert run("import", "people", path, "--upsert-on", "age")[2].strip() == (
        '--upsert-on needs a unique field of people (one of: id, email), not "age"')
    assert run("import", "people", str(tmp_path / "missing.csv"))[2].strip() == (
        f"Cannot read {tmp_path / 'missing.csv'}: No such file or directory")


# --- bad rows: each named, nothing written ----------------------------------------------------

def test_bad_rows_are_each_reported_by_line_and_field(people, existing, companies, tmp_path):
    content = (
        "name,email,age,vip,company\n"
        "Ann,ann@example.com,3,true,\n"                 # 2: fine
        "Bob,not-an-email,-1,maybe,\n"                  # 3: three bad values
        "Cy,cy@example.com\n"                           # 4: ragged
        ",dee@example.com,4,false,\n"                   # 5: required
        "Eve,ann@example.com,5,false,\n"                # 6: repeats line 2's email
        "Fay,old@example.com,6,false,\n"                # 7: clashes with the table
        "Gus,gus@example.com,7,false,rec_01HZZZZZZZZZZZZZZZZZZZZZZZ\n"  # 8: no such company
        '"Hal\nHalsson",hal@example.com,x,FALSE,\n'       # 9-10: not an integer
    )
    before = table_rows(people)

    code, out, err = run("import", "people", write(tmp_path, "people.csv", content))

    assert code == 1 and table_rows(people) == before
    assert err.strip().splitlines() == [
        "line 3, age: Must be at least 0",
        "line 3, email: Must be a valid email address",
        "line 3, vip: Must be true or false",
        "line 4, row: Has 2 values; the header has 5 columns",
        "line 5, name: This field is required",
        "line 6, email: Must be unique: this value is also on line 2",
        "line 7, email: Must be unique: this value is already used",
        "line 8, company: No such record: rec_01HZZZZZZZZZZZZZZZZZZZZZZZ",
        "line 9, age: Must be an integer",
        "9 problem(s) in " + str(tmp_path / "people.csv") + "; nothing was imported.",
    ]


def test_jsonl_rows_are_checked_like_api_bodies(people, tmp_path):
    content = "\n".join([
        json.dumps({"name": "Ann", "age": 3}),
        json.dumps({"name": "Bob", "shoe": 42}),
        "not json",
        json.dumps(["a list"]),
        json.dumps({"name": "Cy", "age": "3", "id": "rec_01HZZZZZZZZZZZZZZZZZZZZZZZ", "created_at": "yesterday"}),
    ])

    code, _, err = run("import", "people", write(tmp_path, "p.jsonl", content))

    lines = err.strip().splitlines()
    assert code == 1 and table_rows(people) == []
    assert lines[0] == "line 2, shoe: Unknown field"
    assert lines[1].startswith("line 3, row: Not valid JSON: ")
    assert lines[2:] == ["line 4, row: Must be a JSON object", "line 5, age: Must be an integer",
                         "line 5, created_at: Must be an ISO 8601 date-time, e.g. 2024-01-01T00:00:00Z",
                         "5 problem(s) in " + str(tmp_path / "p.jsonl") + "; nothing was imported."]


def test_repeated_ids_and_ids_already_in_the_table_are_refused(people, existing, tmp_path):
    rid = "rec_01HAAAAAAAAAAAAAAAAAAAAAAA"
    content = f"id,name\n{rid},A\n{rid},B\n{existing.pk},C\n"

    code, _, err = run("import", "people", write(tmp_path, "p.csv", content))

    assert code == 1
    assert err.strip().splitlines()[:2] == [
        "line 3, id: This id (or the record it matches) is also on line 2",
        "line 4, id: A record with this id already exists (import with --upsert-on id to update it)",
    ]
    assert fetch(f'SELECT count(*) FROM "{people.db_table}"') == [(1,)]


def test_only_the_first_100_problems_are_listed_with_their_count(people, tmp_path):
    content = "name,age\n" + "".join(f"P{i},-{i + 1}\n" for i in range(250))

    code, _, err = run("import", "people", write(tmp_path, "p.csv", content))

    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 101 and table_rows(people) == []
    assert lines[0] == "line 2, age: Must be at least 0" and lines[99] == "line 101, age: Must be at least 0"
    assert lines[100] == f"250 problem(s) in {tmp_path / 'p.csv'} (the first 100 are listed); nothing was imported."


# --- what is written -----------------------------------------------------------------------

def test_ids_and_timestamps_are_kept_and_the_total_stays_exact(people, existing, companies, tmp_path, api_client):
    acme = records.record_create(entry=entry("companies"), data={"name": "Acme"}).pk
    content = ("id,created_at,name,company\n"
               f"rec_01HAAAAAAAAAAAAAAAAAAAAAAA,2020-01-02T03:04:05Z,Ann,{acme}\n"
               "not-an-id,,Bob,\n")

    code, out, _ = run("import", "people", write(tmp_path, "p.csv", content))

    assert code == 0 and out.strip() == "Imported 2 record(s) into people: 2 created, 0 updated."
    ann = fetch(f'SELECT created_at, updated_at, "{entry("people").by_name["company"].column}" FROM "{people.db_table}" '
                "WHERE id = 'rec_01HAAAAAAAAAAAAAAAAAAAAAAA'")[0]
    assert ann[0].isoformat() == ann[1].isoformat() == "2020-01-02T03:04:05+00:00" and ann[2] == acme
    bob_id = fetch(f"""SELECT id FROM "{people.db_table}" WHERE "{entry('people').by_name['name'].column}" = 'Bob'""")
    assert bob_id[0][0].startswith("rec_") and bob_id[0][0] != "not-an-id"
    assert row_count(people.pk) == 3
    assert api_client.get("/api/public/data/people?limit=1").json()["pagination"]["total"] == 3


def test_upsert_updates_matching_records_and_creates_the_others(people, existing, tmp_path):
    content = "email,name,age\nold@example.com,Renamed,10\nnew@example.com,New,1\n"

    code, out, _ = run("import", "people", write(tmp_path, "p.csv", content), "--upsert-on", "email")

    assert code == 0 and out.strip() == "Imported 2 record(s) into people: 1 created, 1 updated."
    columns = entry("people").by_name
    rows = fetch(f'SELECT id, "{columns["name"].column}", "{columns["age"].column}", created_at < updated_at '
                 f'FROM "{people.db_table}" ORDER BY "{columns["age"].column}"')
    assert rows[0][1:3] == ("New", 1)
    assert rows[1] == (existing.pk, "Renamed", 10, True)
    assert row_count(people.pk) == 2


def test_upsert_on_id_replaces_the_named_fields_only(people, existing, tmp_path):
    content = f"id,age\n{existing.pk},11\n"
    # `name` is required: a file without it cannot be imported, even to update
    assert run("import", "people", write(tmp_path, "p.csv", content), "--upsert-on", "id")[0] == 1

    code, out, _ = run("import", "people", write(tmp_path, "q.csv", f"id,name,age\n{existing.pk},Old,11\n"),
                       "--upsert-on", "id")

    assert code == 0 and out.strip() == "Imported 1 record(s) into people: 0 created, 1 updated."
    columns = entry("people").by_name
    assert fetch(f'SELECT "{columns["email"].column}", "{columns["age"].column}" FROM "{people.db_table}"') == [
        ("old@example.com", 11)]


def test_a_dry_run_checks_everything_and_writes_nothing(people, existing, tmp_path):
    before = table_rows(people)
    good = write(tmp_path, "good.csv", "email,name\nold@example.com,X\nnew@example.com,Y\n")
    bad = write(tmp_path, "bad.csv", "name,age\nX,-1\n")

    ok = run("import", "people", good, "--upsert-on", "email", "--dry-run")
    failed = run("import", "people", bad, "--dry-run")

    assert ok[0] == 0 and ok[1].strip() == (
        "Dry run: all 2 record(s) are valid (1 created, 1 updated); nothing was written.")
    assert failed[0] == 1 and "line 2, age: Must be at least 0" in failed[2]
    assert table_rows(people) == before and row_count(people.pk) == 1


def test_the_batch_size_does_not_change_the_outcome(people, tmp_path):
    content = "name,age\n" + "".join(f"P{i},{i}\n" for i in range(25))

    code, out, _ = run("import", "people", write(tmp_path, "p.csv", content), "--batch", "7")

    assert code == 0 and row_count(people.pk) == 25
    assert run("import", "people", write(tmp_path, "q.csv", content), "--batch", "0")[2].strip() == (
        "--batch must be at least 1")


@pytest.fixture
def api_client(superuser):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(superuser)
    return client


def test_to_many_links_and_json_cells_are_checked(customers, sample, tmp_path):
    p1, _ = sample["projects"]
    content = ("name,projects,meta,referrer\n"
               f'A,"[""{p1}"", ""rec_01HBBBBBBBBBBBBBBBBBBBBBBB""]",{{}},\n'
               "B,[],not json,\n"
               "C,[],1,rec_01HCCCCCCCCCCCCCCCCCCCCCCC\n")
    before = table_rows(customers)

    code, _, err = run("import", "customers", write(tmp_path, "c.csv", content))

    assert code == 1 and table_rows(customers) == before
    assert err.strip().splitlines()[:3] == [
        "line 2, projects: No such record: rec_01HBBBBBBBBBBBBBBBBBBBBBBB",
        "line 3, meta: Must be valid JSON text",
        "line 4, referrer: No such record: rec_01HCCCCCCCCCCCCCCCCCCCCCCC",
    ]


def test_to_many_links_keep_their_order_and_upserts_replace_them(customers, sample, tmp_path):
    p1, p2 = sample["projects"]
    content = f'id,name,projects\n{sample["bob"]},Bob,"[""{p2}"",""{p1}""]"\n'

    code, out, _ = run("import", "customers", write(tmp_path, "c.csv", content), "--upsert-on", "id")

    assert code == 0, out
    join = entry("customers").by_name["projects"].join_table
    assert fetch(f"SELECT target_id FROM \"{join}\" WHERE source_id = %s ORDER BY id", [sample["bob"]]) == [
        (p2,), (p1,)]
    assert fetch(f"SELECT count(*) FROM \"{join}\" WHERE source_id = %s", [sample["ann"]]) == [(2,)]
