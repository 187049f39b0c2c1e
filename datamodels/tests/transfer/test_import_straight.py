"""A clean file goes straight into the table; any problem falls back to the staging path, which reports them all.

The two paths must give the same outcome: these files are clean except for problems
only the table's constraints catch on the straight path (a repeated id, a value the
table already holds, a relation to a record further down the file), so each checks
that the fallback leaves nothing behind and reports exactly what the staging path finds.
"""

from __future__ import annotations

import io

import pytest

from datamodels import records, services
from datamodels.rowcount import row_count
from datamodels.transfer.imports import records_import

from .conftest import entry, fetch, run, table_rows, write

ANN = "rec_01HAAAAAAAAAAAAAAAAAAAAAAA"
BOB = "rec_01HBBBBBBBBBBBBBBBBBBBBBBB"


@pytest.fixture
def members(db):
    model = services.data_model_create(name="members", fields=[
        {"name": "name", "type": "text", "required": True},
        {"name": "email", "type": "email", "unique": True},
    ])
    services.field_create(data_model=model, name="sponsor", type="relation", related_model=model)
    return model


def test_a_clean_file_is_imported_with_its_ids_and_counted(members, tmp_path):
    content = f"id,name,email\n{ANN},Ann,ann@example.com\n{BOB},Bob,bob@example.com\n"

    code, out, _ = run("import", "members", write(tmp_path, "m.csv", content))

    assert code == 0 and out.strip() == "Imported 2 record(s) into members: 2 created, 0 updated."
    assert [row[0] for row in fetch(f'SELECT id FROM "{members.db_table}" ORDER BY id')] == [ANN, BOB]
    assert row_count(members.pk) == 2


def test_a_relation_to_a_record_further_down_the_file_is_kept(members, tmp_path):
    content = f"id,name,sponsor\n{ANN},Ann,{BOB}\n{BOB},Bob,\n"

    code, _, err = run("import", "members", write(tmp_path, "m.csv", content))

    assert code == 0, err
    column = entry("members").by_name["sponsor"].column
    assert fetch(f'SELECT id, "{column}" FROM "{members.db_table}" ORDER BY id') == [(ANN, BOB), (BOB, None)]
    assert row_count(members.pk) == 2


def test_a_value_the_table_holds_is_reported_by_line_and_nothing_is_written(members, tmp_path):
    records.record_create(entry=entry("members"), data={"name": "Old", "email": "old@example.com"})
    before = table_rows(members)
    rows = "".join(f"N{i},n{i}@example.com\n" for i in range(50))
    content = f"name,email\n{rows}Late,old@example.com\n"

    code, _, err = run("import", "members", write(tmp_path, "m.csv", content))

    assert code == 1
    assert "line 52, email: Must be unique: this value is already used" in err
    assert "1 problem(s) in" in err
    assert table_rows(members) == before and row_count(members.pk) == 1


def test_every_problem_is_reported_when_a_repeated_id_comes_first(members, tmp_path):
    content = f"id,name,email\n{ANN},Ann,a@example.com\n{ANN},Again,b@example.com\n{BOB},,c@example.com\n"

    code, _, err = run("import", "members", write(tmp_path, "m.csv", content))

    assert code == 1
    problems = [line for line in err.splitlines() if line.startswith("line ")]
    assert problems == ["line 3, id: This id (or the record it matches) is also on line 2",
                        "line 4, name: This field is required"]
    assert table_rows(members) == [] and row_count(members.pk) == 0


class _Pipe(io.RawIOBase):
    """A file that can only be read forward, like a pipe."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        chunk = self._data.read(len(buffer))
        buffer[:len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("content, ok", [
    ("name,email\nAnn,a@example.com\nBob,b@example.com\n", True),
    ("name,email\nAnn,a@example.com\nBob,a@example.com\n", False),
])
def test_a_file_that_cannot_be_read_twice_takes_the_staging_path(members, content, ok):
    result = records_import(model="members", source=_Pipe(content.encode()), fmt="csv")

    assert result.ok is ok
    if ok:
        assert (result.records, result.created) == (2, 2) and row_count(members.pk) == 2
    else:
        assert result.problems == [{"line": 3, "field": "email",
                                    "message": "Must be unique: this value is also on line 2"}]
        assert row_count(members.pk) == 0


@pytest.mark.parametrize("upsert", [False, True])  # the straight path, and the staging path (--upsert-on)
def test_every_form_of_timestamp_is_stored_as_the_instant_it_names(upsert, members, tmp_path):
    """Plain UTC texts go to COPY as written, others as the parsed datetime: the same instants either way."""
    stamps = {
        "rec_01HAAAAAAAAAAAAAAAAAAAAAAA": ("2020-01-02T03:04:05Z", "2020-01-02T03:04:05.5Z"),
        "rec_01HBBBBBBBBBBBBBBBBBBBBBBB": ("2020-01-02T05:04:05.123456+02:00", "2020-01-02T03:04:05.000001"),
        "rec_01HCCCCCCCCCCCCCCCCCCCCCCC": ("0999-12-31T23:59:59.999999Z", ""),
    }
    content = "id,created_at,updated_at,name\n" + "".join(
        f"{record_id},{created},{updated},N\n" for record_id, (created, updated) in stamps.items())

    code, _, err = run("import", "members", write(tmp_path, "m.csv", content), *(["--upsert-on", "id"] * upsert))

    assert code == 0, err
    stored = fetch(f"""SELECT id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
                              to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')
                       FROM "{members.db_table}" ORDER BY id""")
    assert stored == [
        ("rec_01HAAAAAAAAAAAAAAAAAAAAAAA", "2020-01-02 03:04:05.000000", "2020-01-02 03:04:05.500000"),
        ("rec_01HBBBBBBBBBBBBBBBBBBBBBBB", "2020-01-02 03:04:05.123456", "2020-01-02 03:04:05.000001"),
        ("rec_01HCCCCCCCCCCCCCCCCCCCCCCC", "0999-12-31 23:59:59.999999", "0999-12-31 23:59:59.999999"),
    ]


def test_a_plain_utc_text_that_is_no_date_is_refused_with_the_apis_message(members, tmp_path):
    content = "created_at,name\n2024-02-30T00:00:00Z,Ann\n2024-02-29T00:00:00Z,Bob\n"

    code, _, err = run("import", "members", write(tmp_path, "m.csv", content))

    assert code == 1
    assert "line 2, created_at: Must be an ISO 8601 date-time, e.g. 2024-01-01T00:00:00Z" in err
    assert "line 3" not in err and table_rows(members) == []
