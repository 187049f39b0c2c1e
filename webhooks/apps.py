"""Webhooks: subscriptions, the delivery outbox fed by the change feed, and signed delivery."""

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self):
        from infinity import background

        from .worker import start_in_process

        background.register("webhooks", start_in_process)
