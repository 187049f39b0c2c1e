"""Export → import into an empty copy → export again gives the same bytes, in every format."""

from __future__ import annotations

import pytest

from .conftest import every_type_model, export_file, fetch, run


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json"])
def test_a_round_trip_into_an_empty_copy_is_byte_identical(fmt, sample, companies, projects, tmp_path):
    original = export_file(tmp_path, "customers", fmt)
    copy = every_type_model("customers_copy", companies, projects)
    path = tmp_path / f"customers.{fmt}"

    code, out, err = run("import", "customers_copy", str(path))

    assert code == 0, err
    assert out.strip() == "Imported 3 record(s) into customers_copy: 3 created, 0 updated."
    again = export_file(tmp_path, "customers_copy", fmt, name=f"copy.{fmt}")
    assert again == original
    assert fetch(f'SELECT count(*) FROM "{copy.db_table}"') == [(3,)]


def test_export_to_stdout_takes_the_list_grammar(sample):
    code, out, _ = run("export", "customers", "--format", "jsonl", "--filter", "vip:false", "--sort", "name:desc",
                       "--fields", "name,vip")

    assert code == 0
    assert out == '{"name":"Cy","vip":false}\n{"name":"Bob","vip":false}\n'


def test_export_refuses_bad_arguments_in_one_line(sample, tmp_path):
    assert run("export", "nobody")[2].strip() == 'Unknown model "nobody"'
    assert run("export", "customers", "--filter", "age:>old")[2].strip() == (
        'Invalid query parameter: filter: "age:>old": Must be an integer')
    assert run("export", "customers", "--sort", "meta")[2].strip() == (
        'Invalid query parameter: sort: Cannot sort by the json field "meta"')
    assert run("export", "customers", "-o", str(tmp_path / "missing" / "x.csv"))[2].strip().startswith(
        f"Cannot write {tmp_path / 'missing' / 'x.csv'}: No such file or directory")


def test_a_model_without_fields_round_trips_its_ids_and_times(db, tmp_path):
    from datamodels import records, services

    from .conftest import entry

    services.data_model_create(name="bare")
    services.data_model_create(name="bare_copy")
    for _ in range(2):
        records.record_create(entry=entry("bare"), data={})
    original = export_file(tmp_path, "bare", "csv")

    code, out, err = run("import", "bare_copy", str(tmp_path / "bare.csv"))

    assert code == 0, err
    assert export_file(tmp_path, "bare_copy", "csv", name="copy.csv") == original
    assert original.count(b"\n") == 3
