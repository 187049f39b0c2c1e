"""Webhooks: subscriptions, the delivery outbox and signed delivery (not built yet)."""

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
