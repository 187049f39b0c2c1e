"""A list request costs a small fixed number of queries, whatever the page size and includes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from .conftest import create, url

# Authentication, the schema version, the page, the count, one per to-many field
# and one per include level: a handful, never one per record.
MAX_QUERIES = 12


@pytest.fixture
def many_customers(api, customers, companies, projects):
    """120 customers (more than the largest page), each with a company and two projects."""
    company_ids = [c["id"] for c in api.post(url("companies"), [{"name": f"c{i}"} for i in range(30)],
                                             format="json").json()["data"]]
    project_ids = [p["id"] for p in api.post(url("projects"), [{"title": f"p{i}"} for i in range(30)],
                                             format="json").json()["data"]]
    items = [{"name": f"n{i}", "company": company_ids[i % 30],
              "projects": [project_ids[i % 30], project_ids[(i + 1) % 30]]} for i in range(120)]
    response = api.post(url("customers"), items, format="json")
    assert response.status_code == 201
    return response.json()["data"]


def queries_for(api, path: str) -> int:
    api.get(path)  # warm up: generated classes, the key's last-used stamp
    with CaptureQueriesContext(connection) as captured:
        response = api.get(path)
    assert response.status_code == 200, response.content
    return len(captured.captured_queries)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"include": "company"},
        {"include": "projects"},
        {"include": "company,projects"},
        {"include": "company,projects", "sort": "name:asc", "filter": "company.name:~c"},
        {"fields": "id,name,projects"},
    ],
)
def test_list_query_count_does_not_grow_with_the_page(api, many_customers, params):
    small = queries_for(api, url("customers", limit=5, **params))
    large = queries_for(api, url("customers", limit=100, **params))
    assert small == large
    assert large <= MAX_QUERIES


def test_cursor_pages_cost_the_same(api, many_customers):
    params = {"include": "company,projects", "sort": "name:asc"}
    first = api.get(url("customers", limit=5, **params)).json()["pagination"]["next_cursor"]
    small = queries_for(api, url("customers", limit=5, cursor=first, **params))
    first = api.get(url("customers", limit=100, **params)).json()["pagination"]["next_cursor"]
    large = queries_for(api, url("customers", limit=100, cursor=first, **params))
    assert small == large <= MAX_QUERIES


def test_nested_include_adds_one_query_per_level(api, many_customers, companies):
    from datamodels import services

    services.field_create(data_model=companies, name="parent", type="relation", related_model=companies)
    one = queries_for(api, url("customers", limit=100, include="company"))
    two = queries_for(api, url("customers", limit=100, include="company.parent"))
    assert two - one <= 2  # the parents' page, plus nothing per record


def test_single_record_with_includes(api, many_customers, django_assert_max_num_queries):
    record_id = many_customers[0]["id"]
    path = url("customers", record_id, include="company,projects")
    api.get(path)
    with django_assert_max_num_queries(MAX_QUERIES):
        assert api.get(path).status_code == 200


def test_bulk_create_reads_a_fixed_number_of_times(api, customers):
    """Creating 50 records renders them back with a fixed number of reads (writes are per record)."""
    create(api, "customers", {"name": "warm"})
    with CaptureQueriesContext(connection) as captured:
        api.post(url("customers"), [{"name": f"n{i}"} for i in range(50)], format="json")
    selects = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert len(selects) <= MAX_QUERIES
