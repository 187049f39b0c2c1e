"""Optimistic concurrency (ETag, If-Match, If-None-Match) and idempotent creates (Idempotency-Key)."""

from __future__ import annotations

import re

import pytest

from datamodels.models import IdempotencyKey

from .conftest import count, create, error_of, url

STRONG_ETAG = re.compile(r'^"[^"]+"$')


@pytest.fixture
def record(api, customers):
    response = api.post(url("customers"), {"name": "Ann", "email": "ann@example.com"}, format="json")
    assert response.status_code == 201
    return response


def etag_of(response) -> str:
    etag = response["ETag"]
    assert STRONG_ETAG.match(etag), etag  # strong: quoted, no W/
    return etag


# --- ETag -----------------------------------------------------------------------

def test_every_single_record_response_carries_a_strong_etag(api, customers, record):
    record_id = record.json()["data"]["id"]
    created = etag_of(record)
    got = api.get(url("customers", record_id))
    assert etag_of(got) == created
    put = api.put(url("customers", record_id), {"name": "Bob"}, format="json")
    assert etag_of(put) != created
    assert etag_of(api.get(url("customers", record_id))) == etag_of(put)
    patched = api.patch(url("customers", record_id), {"age": 3}, format="json")
    assert etag_of(patched) not in (created, etag_of(put))
    assert etag_of(api.get(url("customers", record_id))) == etag_of(patched)


def test_etag_does_not_depend_on_fields_or_include(api, customers, record):
    record_id = record.json()["data"]["id"]
    plain = etag_of(api.get(url("customers", record_id)))
    assert etag_of(api.get(url("customers", record_id, fields="name"))) == plain


def test_if_none_match_gives_304(api, customers, record):
    record_id = record.json()["data"]["id"]
    etag = etag_of(record)
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = api.get(url("customers", record_id), HTTP_IF_NONE_MATCH=header)
        assert response.status_code == 304, header
        assert response.content == b""
        assert response["ETag"] == etag
        assert response["X-Request-ID"]


def test_if_none_match_with_a_stale_etag_gives_the_record(api, customers, record):
    record_id = record.json()["data"]["id"]
    stale = etag_of(record)
    api.patch(url("customers", record_id), {"age": 5}, format="json")
    response = api.get(url("customers", record_id), HTTP_IF_NONE_MATCH=stale)
    assert response.status_code == 200
    assert response.json()["data"]["age"] == 5


@pytest.mark.parametrize(
    "method, body",
    [("put", {"name": "Bob"}), ("patch", {"name": "Bob"}), ("delete", None)],
)
def test_if_match_mismatch_is_412_and_leaves_the_record(api, unchanged, customers, record, method, body):
    record_id = record.json()["data"]["id"]
    stale = etag_of(record)
    current = api.patch(url("customers", record_id), {"age": 9}, format="json")
    before = api.get(url("customers", record_id)).json()
    for header in (stale, '"something-else"'):
        with unchanged(customers):
            response = getattr(api, method)(url("customers", record_id), body, format="json", HTTP_IF_MATCH=header)
        error_of(response, 412, "PRECONDITION_FAILED")
    assert api.get(url("customers", record_id)).json() == before
    assert etag_of(api.get(url("customers", record_id))) == etag_of(current)


@pytest.mark.parametrize("method, body", [("put", {"name": "Bob"}), ("patch", {"name": "Bob"})])
def test_if_match_with_the_current_etag_succeeds(api, customers, record, method, body):
    record_id = record.json()["data"]["id"]
    response = getattr(api, method)(url("customers", record_id), body, format="json", HTTP_IF_MATCH=etag_of(record))
    assert response.status_code == 200
    assert response.json()["data"]["name"] == "Bob"
    # The old tag is now stale: a second writer holding it is refused.
    again = getattr(api, method)(url("customers", record_id), {"name": "Cid"}, format="json",
                                 HTTP_IF_MATCH=etag_of(record))
    error_of(again, 412, "PRECONDITION_FAILED")


def test_if_match_compares_strongly_so_a_weak_tag_never_matches(api, unchanged, customers, record):
    record_id = record.json()["data"]["id"]
    with unchanged(customers):
        response = api.patch(url("customers", record_id), {"name": "Bob"}, format="json",
                             HTTP_IF_MATCH=f"W/{etag_of(record)}")
    error_of(response, 412, "PRECONDITION_FAILED")


def test_if_match_on_delete(api, customers, record):
    record_id = record.json()["data"]["id"]
    response = api.delete(url("customers", record_id), HTTP_IF_MATCH=f'"nope", {etag_of(record)}')
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "Record deleted successfully"}
    assert count(customers) == 0


def test_if_match_star_needs_only_existence(api, customers, record):
    record_id = record.json()["data"]["id"]
    assert api.patch(url("customers", record_id), {"age": 1}, format="json", HTTP_IF_MATCH="*").status_code == 200
    error_of(api.patch(url("customers", "rec_01ARZ3NDEKTSV4RRFFQ69G5FAV"), {"age": 1}, format="json",
                       HTTP_IF_MATCH="*"), 404, "NOT_FOUND")


# --- Idempotency-Key ------------------------------------------------------------

def post(api, model, body, key, **headers):
    return api.post(url(model), body, format="json", HTTP_IDEMPOTENCY_KEY=key, **headers)


@pytest.mark.parametrize("body", [{"name": "Ann"}, [{"name": "Ann"}, {"name": "Bob"}]], ids=["one", "bulk"])
def test_a_retry_replays_the_first_response(api, customers, body):
    first = post(api, "customers", body, "key-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    for _ in range(2):
        again = post(api, "customers", body, "key-1")
        assert again.status_code == 201
        assert again.content == first.content
        assert again["Idempotent-Replayed"] == "true"
    assert count(customers) == (1 if isinstance(body, dict) else 2)
    if isinstance(body, dict):
        assert etag_of(again) == etag_of(first)


def test_a_retry_with_keys_in_another_order_is_the_same_body(api, customers):
    first = post(api, "customers", {"name": "Ann", "age": 3}, "key-1")
    again = post(api, "customers", {"age": 3, "name": "Ann"}, "key-1")
    assert again.status_code == 201 and again.content == first.content
    assert count(customers) == 1


def test_the_same_key_with_another_body_is_a_conflict(api, unchanged, customers):
    first = post(api, "customers", {"name": "Ann"}, "key-1")
    with unchanged(customers):
        response = post(api, "customers", {"name": "Bob"}, "key-1")
    error_of(response, 409, "CONFLICT")
    assert "Idempotent-Replayed" not in response
    assert post(api, "customers", {"name": "Ann"}, "key-1").content == first.content


def test_a_refused_create_does_not_use_up_the_key(api, customers):
    error_of(post(api, "customers", {"age": 3}, "key-1"), 400, "VALIDATION_ERROR")
    assert IdempotencyKey.objects.count() == 0
    error_of(post(api, "customers", {"age": 3}, "key-1"), 400, "VALIDATION_ERROR")
    assert count(customers) == 0
    response = post(api, "customers", {"name": "Ann"}, "key-1")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response


def test_keys_are_scoped_to_the_model(api, customers, projects):
    one = post(api, "customers", {"name": "Ann"}, "shared")
    other = post(api, "projects", {"title": "Ann"}, "shared")
    assert one.status_code == other.status_code == 201
    assert "Idempotent-Replayed" not in other
    assert count(customers) == 1 and count(projects) == 1


def test_keys_are_scoped_to_the_caller(api, other_api, customers):
    mine = post(api, "customers", {"name": "Ann"}, "shared")
    theirs = post(other_api, "customers", {"name": "Ann"}, "shared")
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs
    assert mine.json()["data"]["id"] != theirs.json()["data"]["id"]
    assert count(customers) == 2
    assert post(other_api, "customers", {"name": "Ann"}, "shared").content == theirs.content


def test_without_a_key_every_post_creates(api, customers):
    create(api, "customers", {"name": "Ann"})
    create(api, "customers", {"name": "Ann"})
    assert count(customers) == 2


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_a_bad_key_is_refused(api, unchanged, customers, key):
    with unchanged(customers):
        response = post(api, "customers", {"name": "Ann"}, key)
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["Idempotency-Key"]


def test_an_expired_key_creates_again(api, customers):
    import datetime

    from django.utils import timezone

    post(api, "customers", {"name": "Ann"}, "old")
    IdempotencyKey.objects.update(created_at=timezone.now() - datetime.timedelta(hours=25))
    response = post(api, "customers", {"name": "Ann"}, "old")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert count(customers) == 2
    assert IdempotencyKey.objects.count() == 1
