"""Webhooks in the admin: created through the services (SSRF guard included), the secret shown
once, why a webhook was disabled, deliveries filtered by status, resends and test pings."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from webhooks import delivery
from webhooks.models import Delivery, Webhook

from .conftest import make_hook

pytestmark = [pytest.mark.django_db(transaction=True)]
ADMIN = "/admin/webhooks/webhook/"


@pytest.fixture
def admin_client(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def test_adding_a_webhook_shows_its_secret_once(admin_client, orders, receiver):
    response = admin_client.post(f"{ADMIN}add/", {"url": receiver.url, "events": ["record.created"],
                                                  "models": [orders.pk], "fields": "", "active": "on",
                                                  "description": "from the admin"})
    assert response.status_code == 302, response.content[:2000]
    webhook = Webhook.objects.get()
    assert (webhook.events, webhook.model_ids, webhook.description) == (["record.created"], [orders.pk],
                                                                        "from the admin")
    assert any(webhook.secret in str(m) for m in get_messages(response.wsgi_request))


def test_a_private_url_is_refused_on_the_form(admin_client, orders, settings):
    settings.INFINITY = {**settings.INFINITY, "WEBHOOK_ALLOW_PRIVATE": False}
    response = admin_client.post(f"{ADMIN}add/", {"url": "http://127.0.0.1:9/x", "events": ["record.created"],
                                                  "fields": "", "description": ""})
    assert response.status_code == 200 and b"private" in response.content
    assert not Webhook.objects.exists()


def test_pings_resends_and_the_deliveries_list(admin_client, api, orders, receiver):
    hook = make_hook(api, receiver.url)
    Webhook.objects.filter(pk=hook["id"]).update(disabled_reason="Deliveries failed continuously since X")
    page = admin_client.get(f"{ADMIN}{hook['id']}/change/")
    assert page.status_code == 200 and b"Deliveries failed continuously since X" in page.content
    response = admin_client.post(ADMIN, {"action": "send_test_ping", "_selected_action": [hook["id"]]})
    assert response.status_code == 302
    receiver.script = [(400, {}, 0)]
    receiver.wait_for(1, pump=delivery.pump)
    assert Delivery.objects.get().status == "failed"
    listed = admin_client.get("/admin/webhooks/delivery/?status__exact=failed")
    assert listed.status_code == 200 and Delivery.objects.get().pk.encode() in listed.content
    assert admin_client.get("/admin/webhooks/delivery/?status__exact=delivered").content.count(b"dlv_") == 0
    detail = admin_client.get(f"/admin/webhooks/delivery/{Delivery.objects.get().pk}/change/")
    assert detail.status_code == 200 and b"HTTP 400" in detail.content
    response = admin_client.post(ADMIN, {"action": "resend_failed", "_selected_action": [hook["id"]]})
    assert response.status_code == 302
    receiver.wait_for(2, pump=delivery.pump)
    assert Delivery.objects.get().status == "delivered"
