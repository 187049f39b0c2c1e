"""Endpoints that belong to no app: the health check."""

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from infinity import errors

ALLOWED_METHODS = ("GET", "HEAD")


@csrf_exempt  # so any other method meets the 405 below, not a CSRF page
def health(request):
    """`GET /api/health`: no authentication, 503 when the database is unreachable."""
    if request.method not in ALLOWED_METHODS:
        response = errors.error_response(
            request, 405, "METHOD_NOT_ALLOWED", f'Method "{request.method}" not allowed.'
        )
        response["Allow"] = ", ".join(ALLOWED_METHODS)
        return response
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "degraded", "version": settings.VERSION}, status=503)
    return JsonResponse({"status": "ok", "version": settings.VERSION})
