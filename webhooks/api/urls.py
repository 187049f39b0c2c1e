"""Routes of the webhooks API under /api/webhooks."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.WebhookListView.as_view(), name="webhooks"),
    path("/deliveries/<str:delivery_id>/resend", views.DeliveryResendView.as_view(), name="webhook-delivery-resend"),
    path("/<str:webhook_id>", views.WebhookDetailView.as_view(), name="webhook"),
    path("/<str:webhook_id>/test", views.WebhookTestView.as_view(), name="webhook-test"),
    path("/<str:webhook_id>/deliveries", views.WebhookDeliveriesView.as_view(), name="webhook-deliveries"),
    path("/<str:webhook_id>/rotate-secret", views.WebhookRotateView.as_view(), name="webhook-rotate-secret"),
]
