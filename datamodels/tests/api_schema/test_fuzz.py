"""Schemathesis against a live server: the records API answers as `/api/schema` says, never with a 5xx.

The schema is fetched over HTTP from pytest-django's live server with a real API key,
after creating two models with text, email, url, select, multi-select, integer,
number, boolean, date, datetime, json and vector fields and a to-one and a to-many
relation. Each documented operation of those models (and the health
check) is fuzzed with positive and negative data; a hook points some path ids and
relation values at records that exist, so successful reads and writes are checked
too, not only 404s. Runs are bounded (`MAX_EXAMPLES`) and derandomized.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

from accounts.services import apikey_create
from datamodels import dynamic, records, services

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", 20))  # per operation; raise it to dig deeper
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZED_PATHS = r"^/api/(health|public/data/(companies|customers)(/\{id\})?)$"
# High enough that the rate limiter never answers 429 during the run.
RATE_LIMIT = "100000000/m"

COMPANY_FIELDS = [
    {"name": "name", "type": "text", "required": True, "max_length": 50},
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
    {"name": "embedding", "type": "vector", "dimensions": 3},
]


def create_models() -> dict[str, list[str]]:
    """Both models, and for each the ids of a record to read and write and one to delete."""
    companies = services.data_model_create(name="companies", fields=COMPANY_FIELDS)
    services.data_model_create(name="customers", fields=[
        *CUSTOMER_FIELDS,
        {"name": "company", "type": "relation", "related_model": companies},
        {"name": "partners", "type": "relation", "related_model": companies, "many": True},
    ])
    acme, spare = create("companies", {"name": "Acme"}), create("companies", {"name": "Spare"})
    customer = {"name": "Ann", "email": "ann@example.com", "tags": ["vip"], "visits": 3, "total": 9.5,
                "vip": True, "seen_at": "2024-05-01T10:00:00Z", "meta": {"a": [1]}, "embedding": [0.1, 0.2, 0.3],
                "company": acme, "partners": [acme, spare]}
    ann = create("customers", customer)
    bob = create("customers", {**customer, "name": "Bob", "email": "bob@example.com"})
    return {"companies": [acme, spare], "customers": [ann, bob]}


def create(model: str, data: dict) -> str:
    return records.record_create(entry=dynamic.current_schema().get(model), data=data).pk


def point_at_existing_records(schema, known: dict[str, list[str]]) -> None:
    """Let half the generated ids (and some relation values) name records that exist."""

    @schema.hook
    def before_generate_path_parameters(context, strategy):
        if not context.operation.path.endswith("/{id}"):
            return strategy
        model = context.operation.path.split("/")[4]
        kept, doomed = known[model]
        existing = doomed if context.operation.method.lower() == "delete" else kept
        return st.one_of(strategy, st.just({"id": existing}))

    @schema.hook
    def map_body(context, body):
        if isinstance(body, dict):
            acme = known["companies"][0]
            if isinstance(body.get("company"), str) and len(body["company"]) % 2 == 0:
                body["company"] = acme
            if isinstance(body.get("partners"), list) and len(body["partners"]) % 2 == 1:
                body["partners"] = [acme]
        return body


@pytest.fixture
def api_schema(live_server, committed_schema, superuser):
    """The live `/api/schema`, loaded with a real key, limited to the operations fuzzed here."""
    dynamic._cache.update(version=None, schema=None)
    known = create_models()
    _, raw = apikey_create(user=superuser, name="fuzz", rate_limit=RATE_LIMIT)
    headers = {"X-API-Key": raw}
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema", headers=headers, timeout=30)
    schema.config.update(headers=headers, request_timeout=30)
    schema.config.generation.update(with_security_parameters=False)
    point_at_existing_records(schema, known)
    yield schema.include(path_regex=FUZZED_PATHS)
    dynamic._cache.update(version=None, schema=None)


def fuzz(operation) -> None:
    """Positive and negative cases, and the schema's own examples, through every check."""
    strategies = [operation.as_strategy(GenerationMode.POSITIVE), *operation.get_strategies_from_examples()]
    if operation.path != "/api/health":  # nothing there to make invalid
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate, Phase.shrink])
    @given(case=st.one_of(strategies))
    def run(case):
        # Cases built from the schema's examples carry no credentials of their own.
        case.call_and_validate(headers=operation.schema.config.headers, checks=CHECKS)

    run()


# The schemathesis pytest plugin's `from_fixture` cannot run under pytest 9.2 (it sets `Node._nodeid`),
# so each operation runs as a subtest driving Hypothesis with the operation's strategies.
@pytest.mark.django_db(transaction=True)
def test_the_records_api_answers_as_its_schema_says(api_schema, subtests):
    operations = [result.ok() for result in api_schema.get_all_operations()]

    assert len(operations) == 13  # health, and 6 operations for each of the two models
    for operation in operations:
        with subtests.test(msg=operation.label):
            fuzz(operation)
