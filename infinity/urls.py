"""Top-level routes: the admin, the health check and each app's API."""

from django.contrib import admin
from django.urls import include, path

from infinity import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/health", views.health, name="health"),
    path("api/", include("accounts.api.urls")),
]

handler404 = "infinity.errors.not_found_view"
handler500 = "infinity.errors.server_error_view"
