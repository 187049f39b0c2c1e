"""`GET /api/public/data/{model}/export`: formats, filters, scopes, and real streaming."""

from __future__ import annotations

import csv
import io
import json
import socket
import time

import orjson
import pytest
from rest_framework.test import APIClient

from accounts.services import apikey_create
from datamodels import services
from datamodels.tests.api.test_production_server import production_server  # noqa: F401

from .conftest import fetch

BASE = "/api/public/data"
LISTED_FIELDS = ("name", "email", "website", "status", "tags", "age", "score", "total", "vip", "birthday", "last_seen",
                 "notes", "meta", "code", "company", "referrer")  # every type but vectors and to-many relations


def client_with(user, **options) -> APIClient:
    _, raw = apikey_create(user=user, name="export test", rate_limit="100000/m", **options)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    return client


def body_of(response) -> bytes:
    assert response.streaming
    return b"".join(response.streaming_content)


def test_csv_export_downloads_every_record_with_a_file_name(sample, superuser):
    response = client_with(superuser).get(f"{BASE}/customers/export")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="customers-')
    assert response["Content-Disposition"].endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(body_of(response).decode())))
    assert sorted(r["id"] for r in rows) == sorted([sample["ann"], sample["bob"], sample["cy"]])
    ann = next(r for r in rows if r["id"] == sample["ann"])
    assert ann["tags"] == '["red","blue"]' and ann["vip"] == "true" and ann["total"] == "12.5"
    assert ann["email"] == "ann@example.com" and ann["birthday"] == "1983-02-01"


def test_jsonl_export_holds_the_apis_values(sample, superuser):
    client = client_with(superuser)
    listed = client.get(f"{BASE}/customers", {"fields": "id,name,tags,score,total,last_seen,projects,company"}).json()

    response = client.get(f"{BASE}/customers/export", {"format": "jsonl",
                                                        "fields": "id,name,tags,score,total,last_seen,projects,company"})

    assert response.status_code == 200 and response["Content-Type"] == "application/x-ndjson"
    exported = [orjson.loads(line) for line in body_of(response).splitlines()]
    assert sorted(exported, key=lambda r: r["id"]) == sorted(listed["data"], key=lambda r: r["id"])


@pytest.mark.parametrize("fields", [("id", "created_at", "updated_at", *LISTED_FIELDS), ("id", "projects")])
def test_each_jsonl_line_is_the_lists_record_text_byte_for_byte(fields, sample, superuser):
    """Each line is the exact bytes the list embeds for that record: every type but vectors
    (which lists render in Python), with nulls, escapes, microseconds and JSON. To-many ids
    are asked for alone: lists put them after the other fields, exports keep the model's order."""
    client = client_with(superuser)
    listed = client.get(f"{BASE}/customers", {"fields": ",".join(fields), "limit": 100}).content

    exported = client.get(f"{BASE}/customers/export", {"format": "jsonl", "fields": ",".join(fields)})

    lines = body_of(exported).splitlines()

    assert len(lines) == 3
    for line in lines:
        assert line in listed, line


def test_filters_sort_and_fields_follow_the_list_grammar(sample, superuser):
    response = client_with(superuser).get(
        f"{BASE}/customers/export", {"format": "json", "filter": ["vip:false"], "sort": "name:desc", "fields": "name"})

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert json.loads(body_of(response)) == [{"name": "Cy"}, {"name": "Bob"}]


def test_a_filter_across_a_relation_works(sample, superuser):
    response = client_with(superuser).get(f"{BASE}/customers/export", {"format": "jsonl", "fields": "name",
                                                                       "filter": "company.name:~acm"})

    assert body_of(response) == b'{"name":"Ann \\"the, first\\""}\n'


@pytest.mark.parametrize("params, field", [
    ({"format": "xml"}, "format"), ({"filter": "nope:1"}, "filter"), ({"sort": "meta"}, "sort"),
    ({"fields": "id,nope"}, "fields"), ({"filter": "age:>old"}, "filter"),
])
def test_bad_parameters_are_refused_in_the_envelope(params, field, sample, superuser):
    response = client_with(superuser).get(f"{BASE}/customers/export", params)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["details"][0]["field"] == field
    assert error["request_id"] == response["X-Request-ID"]


def test_scopes_and_model_lists_are_honoured(sample, superuser, companies):
    no_read = client_with(superuser, scopes=["write"]).get(f"{BASE}/customers/export")
    other_model = client_with(superuser, models=["companies"]).get(f"{BASE}/customers/export")
    reached = client_with(superuser, models=["customers"]).get(f"{BASE}/customers/export",
                                                                 {"filter": "company.name:Acme"})
    anonymous = APIClient().get(f"{BASE}/customers/export")
    unknown = client_with(superuser).get(f"{BASE}/nothing/export")

    assert (no_read.status_code, no_read.json()["error"]["code"]) == (403, "FORBIDDEN")
    assert (other_model.status_code, other_model.json()["error"]["code"]) == (403, "FORBIDDEN")
    assert (reached.status_code, reached.json()["error"]["code"]) == (403, "FORBIDDEN")
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "UNAUTHORIZED")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "NOT_FOUND")


def test_a_user_needs_the_view_permission(sample, django_user_model):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("reader", "reader@example.com", "pw-12345678")
    refused = client_with(user).get(f"{BASE}/customers/export")
    user.user_permissions.add(Permission.objects.get(codename="view_customers"))

    allowed = client_with(user).get(f"{BASE}/customers/export", {"format": "jsonl"})

    assert refused.status_code == 403
    assert allowed.status_code == 200 and len(body_of(allowed).splitlines()) == 3


# --- a real server, a real client ---------------------------------------------------------

@pytest.fixture
def big_table(committed_schema, superuser):
    """100,000 records of ~500 bytes: far more than every buffer between PostgreSQL and the client."""
    model = services.data_model_create(name="events", fields=[{"name": "body", "type": "long_text"}])
    fetch(f"""INSERT INTO "{model.db_table}" (id, created_at, updated_at, "f_{model.fields.get().pk}")
              SELECT 'rec_' || lpad(n::text, 26, '0'), now(), now(), repeat('x', 500)
              FROM generate_series(1, 100000) n RETURNING NULL""")
    _, key = apikey_create(user=superuser, name="stream", rate_limit="100000/m")
    return model, key


def test_the_export_streams_first_bytes_arrive_while_postgresql_is_still_reading(production_server, big_table):
    port, _ = production_server
    model, key = big_table
    with socket.socket() as conn:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a slow reader: the server must wait on us
        conn.settimeout(30)
        conn.connect(("127.0.0.1", port))
        conn.sendall(f"GET {BASE}/events/export?format=jsonl HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}"
                     "\r\n\r\n".encode())
        first = conn.recv(65536)
        while b"\r\n\r\n" not in first:
            first += conn.recv(65536)
        head, _, start = first.partition(b"\r\n\r\n")
        while len(start) < 100:  # the first record's bytes (chunked transfer adds a size line)
            start += conn.recv(65536)

        copying = _active_copies()

    assert head.startswith(b"HTTP/1.1 200")
    assert b"content-length" not in head.lower()
    assert b"attachment; filename=\"events-" in head
    assert b'{"id":"rec_00000000000000000000000001","created_at":' in start
    assert copying == 1  # the table was not read to its end when the first bytes arrived


def _active_copies() -> int:
    """The server's COPY still running (waiting to send the rest), polled for at most 10 s."""
    deadline = time.monotonic() + 10
    while True:
        active = fetch("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                       "AND query LIKE 'COPY (SELECT %%' AND pid <> pg_backend_pid()")[0][0]
        if active or time.monotonic() > deadline:
            return active
        time.sleep(0.1)
