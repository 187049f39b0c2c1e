"""`/api/webhooks` over HTTP: shapes (SPEC §7), validation with the error envelope, access, SSRF at save."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from datamodels import changes
from datamodels import services as dm_services
from webhooks.models import Delivery, Webhook

from .conftest import make_hook

pytestmark = [pytest.mark.django_db(transaction=True)]


def error_of(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["request_id"] == response["X-Request-ID"]
    return error


def test_create_answers_201_with_a_generated_secret_shown_once(api, orders, receiver):
    response = api.post("/api/webhooks", {"url": receiver.url, "events": ["record.created"]}, format="json")
    assert response.status_code == 201
    data = response.json()["data"]
    assert list(data)[:8] == ["id", "url", "events", "models", "fields", "active", "description", "secret"]
    assert data["url"] == receiver.url and data["events"] == ["record.created"] and data["models"] == []
    assert data["active"] is True and data["description"] == "" and data["secret"].startswith("whsec_")
    assert data["created_at"].endswith("Z") and data["id"].startswith("wh_")
    assert "no-store" in response["Cache-Control"]
    got = api.get(f"/api/webhooks/{data['id']}").json()["data"]
    assert "secret" not in got and got["id"] == data["id"]
    assert Webhook.objects.get().secret == data["secret"]
    # The feed now records creates of every model for this app, and nothing else.
    assert changes.change_interests(consumer="webhooks") == {None: (["record.created"], [])}


def test_a_given_secret_models_fields_and_description_are_kept(api, orders, receiver):
    data = make_hook(api, receiver.url, models=["orders"], fields=["qty"], secret="s" * 20,
                     description="orders", active=False)
    assert (data["models"], data["fields"], data["secret"], data["active"]) == (["orders"], ["qty"], "s" * 20, False)
    assert changes.change_interests(consumer="webhooks") == {}  # inactive: nothing watched


def test_list_is_paginated_like_records(api, orders, receiver):
    ids = [make_hook(api, receiver.url)["id"] for _ in range(3)]
    body = api.get("/api/webhooks?limit=2&page=2").json()
    assert [w["id"] for w in body["data"]] == ids[2:]
    assert body["pagination"] == {"page": 2, "limit": 2, "total": 3, "pages": 2, "next_cursor": None}
    assert all("secret" not in w for w in body["data"])
    error_of(api.get("/api/webhooks?limit=0"), 400, "VALIDATION_ERROR")


def test_patch_changes_and_delete_answers_like_a_record_delete(api, orders, receiver):
    hook = make_hook(api, receiver.url)
    response = api.patch(f"/api/webhooks/{hook['id']}", {"events": ["record.deleted"], "models": ["orders"]},
                         format="json")
    assert response.status_code == 200
    assert response.json()["data"]["events"] == ["record.deleted"] and "secret" not in response.json()["data"]
    assert changes.change_interests(consumer="webhooks") == {orders.pk: (["record.deleted"], [])}
    response = api.delete(f"/api/webhooks/{hook['id']}")
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "Webhook deleted successfully"}
    assert not Webhook.objects.exists() and changes.change_interests(consumer="webhooks") == {}
    error_of(api.get(f"/api/webhooks/{hook['id']}"), 404, "NOT_FOUND")


@pytest.mark.parametrize("body, field", [
    ({"events": ["record.created"]}, "url"),
    ({"url": "ftp://example.com/x", "events": ["record.created"]}, "url"),
    ({"url": "http://127.0.0.1:9/x", "events": ["record.created"]}, "url"),
    ({"url": "http://localhost:9/x", "events": ["record.created"]}, "url"),  # resolves to 127.0.0.1
    ({"url": "http://169.254.169.254/latest", "events": ["record.created"]}, "url"),
    ({"url": "http://10.1.2.3/", "events": ["record.created"]}, "url"),
    ({"url": "https://example.com/", "events": ["record.nope"]}, "events"),
    ({"url": "https://example.com/", "events": []}, "events"),
    ({"url": "https://example.com/", "events": ["record.created"], "models": ["nope"]}, "models"),
    ({"url": "https://example.com/", "events": ["record.created"], "secret": "short"}, "secret"),
    ({"url": "https://example.com/", "events": ["record.created"], "active": "yes"}, "active"),
    ({"url": "https://example.com/", "events": ["record.created"], "colour": "red"}, "colour"),
])
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(api, orders, settings, body, field):
    settings.INFINITY = {**settings.INFINITY, "WEBHOOK_ALLOW_PRIVATE": False}
    error = error_of(api.post("/api/webhooks", body, format="json"), 400, "VALIDATION_ERROR")
    assert field in [d["field"] for d in error["details"]]
    assert not Webhook.objects.exists() and changes.change_interests(consumer="webhooks") == {}


def test_a_patch_to_a_private_url_is_refused(api, orders, receiver, settings):
    hook = make_hook(api, receiver.url)
    settings.INFINITY = {**settings.INFINITY, "WEBHOOK_ALLOW_PRIVATE": False}
    error = error_of(api.patch(f"/api/webhooks/{hook['id']}", {"url": receiver.url}, format="json"),
                     400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["url"]
    error_of(api.post("/api/webhooks", [1], format="json"), 400, "BAD_REQUEST")


def test_access_needs_the_scope_or_permission(orders, receiver, make_api_key, django_user_model):
    _, raw = make_api_key(scopes=["read", "write"])
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    error_of(client.get("/api/webhooks"), 403, "FORBIDDEN")
    error_of(client.post("/api/webhooks", {"url": receiver.url, "events": ["record.created"]}, format="json"),
             403, "FORBIDDEN")
    error_of(APIClient().get("/api/webhooks"), 401, "UNAUTHORIZED")
    user = django_user_model.objects.create_user("viewer", "v@example.com", "pw-123456789")
    client = APIClient()
    client.force_authenticate(user)
    error_of(client.get("/api/webhooks"), 403, "FORBIDDEN")
    user.user_permissions.add(Permission.objects.get(codename="view_webhook"))
    user = django_user_model.objects.get(pk=user.pk)
    client.force_authenticate(user)
    assert client.get("/api/webhooks").status_code == 200
    error_of(client.post("/api/webhooks", {"url": receiver.url, "events": ["record.created"]}, format="json"),
             403, "FORBIDDEN")
    assert not Webhook.objects.exists()


def test_a_key_limited_to_some_models_may_only_watch_those(orders, receiver, make_api_key, api):
    other = dm_services.data_model_create(name="others", fields=[{"name": "x", "type": "text"}])
    key, raw = make_api_key(scopes=["webhooks"])
    key.models.set([orders])
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    for models in ([], ["others"], ["orders", "others"]):
        error = error_of(client.post("/api/webhooks", {"url": receiver.url, "events": ["record.created"],
                                                       "models": models}, format="json"), 400, "VALIDATION_ERROR")
        assert [d["field"] for d in error["details"]] == ["models"]
    assert not Webhook.objects.exists()
    mine = client.post("/api/webhooks", {"url": receiver.url, "events": ["record.created"], "models": ["orders"]},
                       format="json").json()["data"]
    theirs = make_hook(api, receiver.url, models=["others"])
    assert [w["id"] for w in client.get("/api/webhooks").json()["data"]] == [mine["id"]]
    error_of(client.get(f"/api/webhooks/{theirs['id']}"), 404, "NOT_FOUND")
    error_of(client.patch(f"/api/webhooks/{mine['id']}", {"models": ["others"]}, format="json"),
             400, "VALIDATION_ERROR")
    assert other.pk not in Webhook.objects.get(pk=mine["id"]).model_ids


def test_test_ping_answers_202_and_rotation_shows_the_new_secret(api, orders, receiver):
    hook = make_hook(api, receiver.url)
    response = api.post(f"/api/webhooks/{hook['id']}/test")
    assert response.status_code == 202
    ping = response.json()["data"]
    assert ping["event"] == "ping" and ping["status"] == "pending" and ping["payload"]["event"] == "ping"
    assert Delivery.objects.get().pk == ping["id"]
    response = api.post(f"/api/webhooks/{hook['id']}/rotate-secret")
    assert response.status_code == 200
    rotated = response.json()["data"]
    assert rotated["secret"] != hook["secret"] and rotated["previous_secret_expires_at"].endswith("Z")
    stored = Webhook.objects.get()
    assert (stored.secret, stored.previous_secret) == (rotated["secret"], hook["secret"])
    error_of(api.post("/api/webhooks/wh_nope/rotate-secret"), 404, "NOT_FOUND")
    error_of(api.post("/api/webhooks/deliveries/dlv_nope/resend"), 404, "NOT_FOUND")


def test_the_endpoints_are_documented_in_the_openapi_document(api, orders):
    paths = api.get("/api/schema").json()["paths"]
    assert set(paths["/api/webhooks"]) >= {"get", "post"}
    assert set(paths["/api/webhooks/{webhook_id}"]) >= {"get", "patch", "delete"}
    for path in ("/api/webhooks/{webhook_id}/test", "/api/webhooks/{webhook_id}/rotate-secret",
                 "/api/webhooks/deliveries/{delivery_id}/resend"):
        assert "post" in paths[path]
    deliveries = paths["/api/webhooks/{webhook_id}/deliveries"]["get"]
    assert {p["name"] for p in deliveries["parameters"]} >= {"webhook_id", "page", "limit", "status"}
    assert "202" in paths["/api/webhooks/{webhook_id}/test"]["post"]["responses"]


def test_a_deleted_model_leaves_webhooks_working(api, orders, receiver):
    from datamodels import services as dm

    other = dm.data_model_create(name="others", fields=[{"name": "x", "type": "text"}])
    hook = make_hook(api, receiver.url, models=["others", "orders"])
    dm.data_model_delete(data_model=other)
    assert api.get(f"/api/webhooks/{hook['id']}").json()["data"]["models"] == ["orders"]
    make_hook(api, receiver.url, models=["orders"])  # the interests are worked out again without it
    assert set(changes.change_interests(consumer="webhooks")) == {orders.pk}
