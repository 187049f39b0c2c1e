"""`/api/webhooks`: webhooks, their deliveries, test pings, secret rotation and resends (SPEC §7).

Access: staff, or users with the webhook permissions (view/add/change/delete webhook);
through an API key, the key needs the `webhooks` scope too, and a key limited to some
models sees and sets only webhooks that watch nothing but those models.
"""

from __future__ import annotations

from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiKey
from accounts.ratelimits import RateLimited
from datamodels.api.openapi import error_responses_for
from datamodels.query import MAX_PAGE
from infinity.exceptions import BadRequest, Forbidden, NotFound

from .. import selectors, services
from ..models import Webhook
from .serializers import (
    DeletedSerializer,
    DeliveryListResponse,
    DeliveryResponse,
    WebhookInputSerializer,
    WebhookListResponse,
    WebhookResponse,
    WebhookUpdateSerializer,
)

ACTIONS = {"GET": "view", "HEAD": "view", "OPTIONS": "view", "POST": "add", "PATCH": "change", "DELETE": "delete"}
TAGS = ["webhooks"]
# What `selectors._page` accepts (`parse_int`): a page from 1 to MAX_PAGE, a limit from 1 to MAX_LIMIT.
PAGE_PARAMETERS = [
    OpenApiParameter("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
                     description="Page number."),
    OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": selectors.MAX_LIMIT,
                               "default": selectors.DEFAULT_LIMIT}, description="Items per page."),
]


def _key(request) -> ApiKey | None:
    return request.auth if isinstance(request.auth, ApiKey) else None


def allowed_models(request) -> set[int]:
    """The models an API key is limited to (empty: any, or not a key)."""
    key = _key(request)
    return set(key.models.values_list("pk", flat=True)) if key is not None else set()


class WebhookAccess(BasePermission):
    """Staff or the webhook permission (per method); a key also needs the `webhooks` scope."""

    def has_permission(self, request, view):
        key = _key(request)
        if key is not None and not key.has_scope("webhooks"):
            raise Forbidden('This API key lacks the "webhooks" scope')
        action = getattr(view, "action", None) or ACTIONS.get(request.method, "view")
        user = request.user
        if not (user.is_staff or user.has_perm(f"webhooks.{action}_webhook")):
            raise Forbidden(f"You may not {action} webhooks")
        return True


class WebhooksAPIView(APIView):
    """Shared access checks and look-ups."""

    permission_classes = [RateLimited, IsAuthenticated, WebhookAccess]

    def visible(self, request):
        allowed = allowed_models(request)
        rows = Webhook.objects.all()
        if allowed:
            rows = rows.filter(model_ids__contained_by=sorted(allowed)).exclude(model_ids=[])
        return rows

    def webhook(self, request, webhook_id: str) -> Webhook:
        webhook = self.visible(request).filter(pk=webhook_id).first()
        if webhook is None:
            raise NotFound("Webhook not found")
        return webhook


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise BadRequest("The body must be a JSON object")
    return request.data


def _secret_response(data: dict, status: int) -> Response:
    response = Response({"data": data}, status=status)
    add_never_cache_headers(response)
    return response


class WebhookListView(WebhooksAPIView):
    @extend_schema(operation_id="webhooks_list", summary="List webhooks", tags=TAGS,
                   parameters=PAGE_PARAMETERS,
                   responses={200: WebhookListResponse, **error_responses_for(400, 401, 403)})
    def get(self, request):
        allowed = allowed_models(request)
        params = request.query_params
        if allowed:
            rows, pagination = selectors._page(params, self.visible(request).order_by("created_at", "id"))
            data = [selectors.webhook_json(w) for w in rows]
        else:
            data, pagination = selectors.webhook_list(params)
        return Response({"data": data, "pagination": pagination})

    @extend_schema(operation_id="webhooks_create", summary="Create a webhook", tags=TAGS,
                   request=WebhookInputSerializer,
                   responses={201: WebhookResponse, **error_responses_for(400, 401, 403, 413, 415)})
    def post(self, request):
        webhook, secret = services.webhook_create(data=_body(request), allowed_models=allowed_models(request))
        return _secret_response(selectors.webhook_json(webhook, secret=secret), 201)


class WebhookDetailView(WebhooksAPIView):
    @extend_schema(operation_id="webhooks_get", summary="Get a webhook", tags=TAGS,
                   responses={200: WebhookResponse, **error_responses_for(401, 403, 404)})
    def get(self, request, webhook_id):
        return Response({"data": selectors.webhook_json(self.webhook(request, webhook_id))})

    @extend_schema(operation_id="webhooks_update", summary="Update a webhook", tags=TAGS,
                   request=WebhookUpdateSerializer,
                   responses={200: WebhookResponse, **error_responses_for(400, 401, 403, 404, 413, 415)})
    def patch(self, request, webhook_id):
        webhook = self.webhook(request, webhook_id)
        webhook = services.webhook_update(webhook=webhook, data=_body(request), allowed_models=allowed_models(request))
        return Response({"data": selectors.webhook_json(webhook)})

    @extend_schema(operation_id="webhooks_delete", summary="Delete a webhook", tags=TAGS,
                   responses={200: DeletedSerializer, **error_responses_for(401, 403, 404)})
    def delete(self, request, webhook_id):
        services.webhook_delete(webhook=self.webhook(request, webhook_id))
        return Response({"success": True, "message": "Webhook deleted successfully"})


class WebhookTestView(WebhooksAPIView):
    action = "change"

    @extend_schema(operation_id="webhooks_test", summary="Send a test ping", tags=TAGS, request=None,
                   responses={202: DeliveryResponse, **error_responses_for(401, 403, 404)})
    def post(self, request, webhook_id):
        delivery = services.webhook_test(webhook=self.webhook(request, webhook_id))
        return Response({"data": selectors.delivery_json(delivery, [])}, status=202)


class WebhookRotateView(WebhooksAPIView):
    action = "change"

    @extend_schema(operation_id="webhooks_rotate_secret", summary="Rotate a webhook's secret", tags=TAGS, request=None,
                   responses={200: WebhookResponse, **error_responses_for(400, 401, 403, 404)})
    def post(self, request, webhook_id):
        webhook = self.webhook(request, webhook_id)
        body = request.data if isinstance(request.data, dict) else {}
        secret = services.webhook_rotate_secret(webhook=webhook, secret=body.get("secret"))
        webhook.refresh_from_db()
        data = selectors.webhook_json(webhook, secret=secret)
        data["previous_secret_expires_at"] = selectors.format_datetime(webhook.previous_secret_until)
        return _secret_response(data, 200)


class WebhookDeliveriesView(WebhooksAPIView):
    @extend_schema(operation_id="webhooks_deliveries", summary="List a webhook's deliveries", tags=TAGS,
                   parameters=[*PAGE_PARAMETERS, OpenApiParameter(
                       "status", str, enum=["pending", "delivered", "failed", ""],
                       description="Only deliveries in this state (empty: all).")],
                   responses={200: DeliveryListResponse, **error_responses_for(400, 401, 403, 404)})
    def get(self, request, webhook_id):
        data, pagination = selectors.delivery_list(self.webhook(request, webhook_id), request.query_params)
        return Response({"data": data, "pagination": pagination})


class DeliveryResendView(WebhooksAPIView):
    action = "change"

    @extend_schema(operation_id="webhooks_delivery_resend", summary="Resend a delivery", tags=TAGS, request=None,
                   responses={202: DeliveryResponse, **error_responses_for(401, 403, 404)})
    def post(self, request, delivery_id):
        delivery = selectors.delivery_get(delivery_id)
        self.webhook(request, delivery.webhook_id)  # 404 unless the caller sees its webhook
        delivery = services.delivery_resend(delivery=delivery)
        return Response({"data": selectors.delivery_json(delivery)}, status=202)
