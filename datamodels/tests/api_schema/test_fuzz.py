"""`schemathesis run /api/schema --checks all`, every phase, against the production server: it finds nothing.

The command runs as a user runs it (`schemathesis_run`), with the repository's
`schemathesis.toml`, against uWSGI serving this run's test database, after creating
two models with a field of every type (text with and without a pattern, long text,
email, url, select, multi-select, integer, number, boolean, date, datetime, json,
vector, a to-one and a to-many relation) and records in them. It is authenticated
with a real API key: every operation of the document is tested (the key endpoints
answer a key 403, as documented; `accounts/tests/test_openapi_accounts.py` runs them
with an access token). Every check is on: no 5xx, every status, header and body as
documented, every schema-valid request accepted and every invalid one refused, links
followed in the stateful phase. The run is bounded (`SCHEMATHESIS_MAX_EXAMPLES`).
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from django.db import connection

from accounts.services import apikey_create
from datamodels import dynamic, records, services

from .schemathesis_run import UNLIMITED, production_server, schemathesis

COMPANY_FIELDS = [
    {"name": "name", "type": "text", "required": True, "max_length": 50},
    {"name": "code", "type": "text", "regex": "^[A-Z]{2}[0-9]{2}$"},
    {"name": "about", "type": "long_text"},
    {"name": "founded", "type": "date"},
]
CUSTOMER_FIELDS = [
    {"name": "name", "type": "text", "required": True, "max_length": 200},
    {"name": "email", "type": "email", "unique": True},
    {"name": "status", "type": "select", "choices": ["active", "inactive"], "default": "active"},
    {"name": "tags", "type": "multi_select", "choices": ["vip", "new", "churned"]},
    {"name": "visits", "type": "integer", "min_value": 0},
    {"name": "total", "type": "number"},
    {"name": "vip", "type": "boolean"},
    {"name": "seen_at", "type": "datetime"},
    {"name": "website", "type": "url"},
    {"name": "meta", "type": "json"},
    # The local embedding backend's size: the field can be searched by text too.
    {"name": "embedding", "type": "vector", "dimensions": 384},
]


def create_models() -> dict[str, list[str]]:
    """Both models with two records each (the customers linked to both companies); their ids by model."""
    companies = services.data_model_create(name="companies", fields=COMPANY_FIELDS)
    services.data_model_create(name="customers", fields=[
        *CUSTOMER_FIELDS,
        {"name": "company", "type": "relation", "related_model": companies},
        {"name": "partners", "type": "relation", "related_model": companies, "many": True},
    ])
    acme, spare = create("companies", {"name": "Acme"}), create("companies", {"name": "Spare"})
    customer = {"name": "Ann", "email": "ann@example.com", "tags": ["vip"], "visits": 3, "total": 9.5,
                "vip": True, "seen_at": "2024-05-01T10:00:00Z", "meta": {"a": [1]}, "embedding": [0.1, 0.2, 0.3] * 128,
                "company": acme, "partners": [acme, spare]}
    ann = create("customers", customer)
    bob = create("customers", {**customer, "name": "Bob", "email": "bob@example.com"})
    return {"companies": [acme, spare], "customers": [ann, bob]}


def create(model: str, data: dict) -> str:
    return records.record_create(entry=dynamic.current_schema().get(model), data=data).pk


PHASES = ["examples", "coverage", "fuzzing", "stateful"]
RECORD_OPERATIONS = [f"{method} /api/public/data/{model}{path}" for model in ("companies", "customers")
                     for method, path in [("GET", ""), ("POST", ""), ("GET", "/{id}"), ("PUT", "/{id}"),
                                          ("PATCH", "/{id}"), ("DELETE", "/{id}")]]


def get(url: str, key: str, path: str) -> dict:
    request = urllib.request.Request(f"{url}{path}", headers={"X-API-Key": key})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def operation_count(url: str, key: str) -> int:
    return sum(len(item) for item in get(url, key, "/api/schema")["paths"].values())


def total_of(url: str, key: str, model: str) -> int:
    return get(url, key, f"/api/public/data/{model}?limit=1")["pagination"]["total"]


def rows_in(model: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{dynamic.current_schema().get(model).definition.db_table}"')
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_schemathesis_with_every_check_and_phase_finds_nothing(committed_schema, database_url, superuser, tmp_path):
    dynamic._cache.update(version=None, schema=None)
    create_models()
    _, key = apikey_create(user=superuser, name="schemathesis", rate_limit=UNLIMITED)

    with production_server(database_url, tmp_path / "uwsgi.log") as url:
        operations = operation_count(url, key)
        report = schemathesis(url, tmp_path, "--header", f"X-API-Key: {key}")
        totals = {model: total_of(url, key, model) for model in ("companies", "customers")}

    assert report["failures"] == [] and report["errors"] == []
    assert report["operations"] == {"total": operations, "selected": operations, "tested": operations,
                                    "errored": 0, "skipped": 0, "skip_reasons": []}
    assert operations >= 21  # /api/health, 8 under /api/auth/, 6 per model
    assert {phase: report["phases"][phase]["status"] for phase in PHASES} == dict.fromkeys(PHASES, "success")
    for label in RECORD_OPERATIONS:  # each reached its logic, not only 4xx
        assert sum(rate["accepted"] for rate in report["valid_rates"][label].values()) > 0, label
    # Thousands of random writes later, each list's total is still the table's row count.
    assert totals == {model: rows_in(model) for model in totals}
    dynamic._cache.update(version=None, schema=None)
