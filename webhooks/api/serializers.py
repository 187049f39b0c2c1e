"""Shapes of the webhooks API's bodies for `/api/schema` only.

The views render with `webhooks.selectors` and hand bodies to `webhooks.services`,
which validate them (one `details` entry per bad field): these never validate.
"""

from rest_framework import serializers

from datamodels.changes import EVENTS

EVENT_CHOICES = list(EVENTS)


class WebhookInputSerializer(serializers.Serializer):
    """The body of a create (`url` and `events` required) or a PATCH (any subset)."""

    url = serializers.URLField(help_text="http or https; hosts on private networks are refused (SSRF guard).")
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES))
    models = serializers.ListField(child=serializers.CharField(), required=False,
                                   help_text="Data model names; empty or omitted: every model.")
    fields = serializers.ListField(child=serializers.CharField(), required=False,
                                   help_text="Updates are sent only when one of these fields changed.")
    secret = serializers.CharField(required=False, help_text="Generated (`whsec_…`) when omitted; create only.")
    active = serializers.BooleanField(required=False, default=True)
    description = serializers.CharField(required=False, allow_blank=True)


class WebhookSerializer(serializers.Serializer):
    """A webhook; `secret` only in the answers to a create and a rotation."""

    id = serializers.CharField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES))
    models = serializers.ListField(child=serializers.CharField())
    fields = serializers.ListField(child=serializers.CharField())
    active = serializers.BooleanField()
    description = serializers.CharField()
    secret = serializers.CharField(required=False)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    disabled_at = serializers.DateTimeField(allow_null=True)
    disabled_reason = serializers.CharField(allow_null=True)


class AttemptSerializer(serializers.Serializer):
    """One HTTP request of a delivery."""

    number = serializers.IntegerField()
    at = serializers.DateTimeField()
    succeeded = serializers.BooleanField()
    response_code = serializers.IntegerField(allow_null=True)
    latency_ms = serializers.IntegerField()
    error = serializers.CharField(allow_null=True)
    response_body = serializers.CharField(help_text="The first KiB of the response body.")


class DeliverySerializer(serializers.Serializer):
    """One event (or ping) for one webhook, with its attempts, newest first."""

    id = serializers.CharField(help_text="Sent as `X-Infinity-Delivery` and `webhook-id` on every attempt.")
    webhook_id = serializers.CharField()
    event = serializers.CharField()
    model = serializers.CharField(allow_null=True)
    record_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["pending", "delivered", "failed"])
    attempt_count = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_response_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    payload = serializers.JSONField(help_text="The body sent.")
    attempts = AttemptSerializer(many=True)


class PaginationSerializer(serializers.Serializer):
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    total = serializers.IntegerField()
    pages = serializers.IntegerField()
    next_cursor = serializers.CharField(allow_null=True)


def data_of(serializer, name: str, many: bool = False):
    """`{"data": …}` (with pagination when `many`) around a serializer, for responses."""
    fields = {"data": serializer(many=many)}
    if many:
        fields["pagination"] = PaginationSerializer()
    return type(name, (serializers.Serializer,), fields)


WebhookResponse = data_of(WebhookSerializer, "WebhookResponse")
WebhookListResponse = data_of(WebhookSerializer, "WebhookList", many=True)
DeliveryResponse = data_of(DeliverySerializer, "DeliveryResponse")
DeliveryListResponse = data_of(DeliverySerializer, "DeliveryList", many=True)


class DeletedSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
