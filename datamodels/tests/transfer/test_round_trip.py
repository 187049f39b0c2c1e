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
