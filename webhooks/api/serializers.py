"""Shapes of the webhooks API's bodies for `/api/schema` only.

The views render with `webhooks.selectors` and hand bodies to `webhooks.services`,
which validate them (one `details` entry per bad field): these never validate.
"""

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from datamodels.api.openapi import MODEL_NAME_MARK
from datamodels.changes import EVENTS

from .. import signing

EVENT_CHOICES = list(EVENTS)
PORT = "(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
# A plain subset of what `webhooks.ssrf.url_problem` accepts before its DNS check: an http(s) URL
# with an RFC 3986 host name or address, no user info, a port within 16 bits, printable ASCII after.
URL_PATTERN = f"^https?://[A-Za-z0-9._~%!$&'()*+,;=-]+(?::{PORT})?(?:[/?#][!-~]*)?$"


def _printable_class() -> str:
    """The characters `str.isprintable` allows, as a character class of the Basic Multilingual Plane
    (ECMA 262 without the `u` flag cannot name others)."""
    ranges, start = [], None
    for code in range(0x10001):
        printable = code < 0x10000 and not 0xD800 <= code <= 0xDFFF and chr(code).isprintable()
        if printable and start is None:
            start = code
        elif not printable and start is not None:
            ranges.append(f"\\u{start:04x}" + (f"-\\u{code - 1:04x}" if code - 1 > start else ""))
            start = None
    return f"[{''.join(ranges)}]"


SECRET_PATTERN = f"^{_printable_class()}{{{signing.MIN_LENGTH},{signing.MAX_LENGTH}}}$"
MAX_DESCRIPTION = 2000


@extend_schema_field({"type": "string", "maxLength": 2000, "pattern": URL_PATTERN})
class WebhookUrlField(serializers.CharField):
    """An http(s) URL; whether its host resolves to a public address depends on DNS, not on the request."""


@extend_schema_field({"type": "array", "minItems": 1, "items": {"type": "string", "enum": EVENT_CHOICES}})
class EventsField(serializers.ListField):
    """At least one event; a repeated one counts once."""


# `webhooks.services` reads any false value (null, false, 0, "", {}) of `models` and `fields` as `[]`.
AS_EMPTY = {"enum": [None, False, 0, "", {}]}


@extend_schema_field({"anyOf": [{"type": "array", "items": {"type": "string", MODEL_NAME_MARK: True}}, AS_EMPTY]})
class ModelNamesField(serializers.ListField):
    """Names of data models (`/api/schema` lists those the caller may read); null is `[]`."""


@extend_schema_field({"anyOf": [{"type": "array", "items": {"type": "string", "pattern": "^[^\\x00]*$"}},
                                AS_EMPTY]})
class FieldNamesField(serializers.ListField):
    """Field names; null is `[]`."""


@extend_schema_field({"type": "string", "nullable": True, "pattern": SECRET_PATTERN,
                      "minLength": signing.MIN_LENGTH, "maxLength": signing.MAX_LENGTH})
class SecretField(serializers.CharField):
    """16 to 255 printable characters; null: generated."""


@extend_schema_field({"type": "string", "maxLength": MAX_DESCRIPTION, "pattern": "^[^\\x00]*$"})
class DescriptionField(serializers.CharField):
    """Free text."""


class WebhookUpdateSerializer(serializers.Serializer):
    """The body of a PATCH: any subset of a create's fields but `secret` (rotate-secret changes it)."""

    url = WebhookUrlField(required=False, help_text="http or https; the host must resolve only to public "
                          "addresses (SSRF guard) unless the server sets INFINITY_WEBHOOK_ALLOW_PRIVATE=1.")
    events = EventsField(required=False)
    models = ModelNamesField(required=False, help_text="Data model names; empty, null or omitted: every model. "
                             "An API key limited to some models must name only those.")
    fields = FieldNamesField(required=False, help_text="Updates are sent only when one of these fields changed.")
    active = serializers.BooleanField(required=False, default=True)
    description = DescriptionField(required=False)


class WebhookInputSerializer(WebhookUpdateSerializer):
    """The body of a create: `url` and `events` required."""

    url = WebhookUrlField(help_text=WebhookUpdateSerializer().fields["url"].help_text)
    events = EventsField()
    secret = SecretField(required=False, help_text="Generated (`whsec_…`) when omitted or null; create only.")


class ClosedBodyExtension(OpenApiSerializerExtension):
    """Webhook bodies refuse unknown keys (`Unknown field`), so their schemas allow no others."""

    target_class = "webhooks.api.serializers.WebhookUpdateSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        return {**schema, "additionalProperties": False}


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
