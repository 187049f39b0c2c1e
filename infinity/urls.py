"""Top-level routes: the admin, the health check and each app's API."""

from django.contrib import admin
from django.urls import include, path, re_path

from datamodels.api.openapi import DocsView, SchemaView
from infinity import errors, views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/health", views.health, name="health"),
    path("api/schema", SchemaView.as_view(), name="schema"),
    path("api/docs", DocsView.as_view(), name="docs"),
    path("api/public/data/", include("datamodels.api.urls")),
    path("api/webhooks", include("webhooks.api.urls")),
    path("api/", include("accounts.api.urls")),
    # Anything else under /api/ is a JSON 404, even with DEBUG on.
    re_path(r"^api/", errors.not_found_view),
]

handler404 = "infinity.errors.not_found_view"
handler500 = "infinity.errors.server_error_view"
