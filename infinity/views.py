"""Endpoints that belong to no app: the health check."""

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def health(request):
    """`GET /api/health`: no authentication, 503 when the database is unreachable."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "degraded", "version": settings.VERSION}, status=503)
    return JsonResponse({"status": "ok", "version": settings.VERSION})
