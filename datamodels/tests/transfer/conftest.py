"""Fixtures for import/export tests: a model with every field type, its records, and the command.

`run(...)` runs `manage.py records …` in process as a user would (`call_command`), and
returns (exit code, stdout, stderr); tables are inspected with raw SQL.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from datamodels import records, services
from datamodels.dynamic import current_schema
from datamodels.tests.api.conftest import count, customer_fields, fetch, table_rows  # noqa: F401


@pytest.fixture
def companies(db):
    return services.data_model_create(name="companies", fields=[{"name": "name", "type": "text", "required": True}])


@pytest.fixture
def projects(db):
    return services.data_model_create(name="projects", fields=[{"name": "title", "type": "text", "required": True}])


def every_type_model(name: str, companies, projects):
    """A model with one field of every type, and a relation to itself (`referrer`)."""
    model = services.data_model_create(name=name, fields=customer_fields(companies, projects))
    services.field_create(data_model=model, name="referrer", type="relation", related_model=model)
    return model


@pytest.fixture
def customers(companies, projects):
    return every_type_model("customers", companies, projects)


def entry(name: str):
    return current_schema().get(name)


@pytest.fixture
def sample(customers, companies, projects):
    """Three customers using every field, one referring to another; returns their ids."""
    acme = records.record_create(entry=entry("companies"), data={"name": "Acme"}).pk
    p1 = records.record_create(entry=entry("projects"), data={"title": "One"}).pk
    p2 = records.record_create(entry=entry("projects"), data={"title": "Two"}).pk
    full = {
        "name": 'Ann "the, first"', "email": "ann@example.com", "website": "https://ann.example",
        "status": "active", "tags": ["red", "blue"], "age": 41, "score": 0.1, "total": 12.5, "vip": True,
        "birthday": "1983-02-01", "last_seen": "2024-05-06T07:08:09.123456Z", "notes": "two\nlines, é ✓ \\ \t tab",
        "meta": {"a": [1, 2.5, None, "x"], "b": {"c": True}}, "code": "ANN", "company": acme,
        "projects": [p2, p1], "embedding": [0.1, -2.5, 3e-5],
    }
    ann = records.record_create(entry=entry("customers"), data=full).pk
    bob = records.record_create(entry=entry("customers"), data={"name": "Bob", "referrer": ann, "meta": "just text",
                                                                 "tags": [], "score": 100}).pk
    cy = records.record_create(entry=entry("customers"), data={"name": "Cy", "vip": False}).pk
    return {"acme": acme, "projects": [p1, p2], "ann": ann, "bob": bob, "cy": cy}


def run(*args) -> tuple[int, str, str]:
    """`manage.py records ARGS…` in process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("records", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return 1, out.getvalue(), err.getvalue() + str(exc)
    return 0, out.getvalue(), err.getvalue()


def export_file(tmp_path: Path, model: str, fmt: str, *extra, name: str | None = None) -> bytes:
    path = tmp_path / (name or f"{model}.{fmt}")
    code, out, err = run("export", model, "-o", str(path), *extra)
    assert code == 0, err
    return path.read_bytes()


def write(tmp_path: Path, name: str, content: bytes | str) -> str:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return str(path)
