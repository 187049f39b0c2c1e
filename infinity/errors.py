"""The one place where errors become the SPEC §5 envelope.

`exception_handler` serves DRF views; `error_response` serves plain Django views
(404/500 handlers, middleware). Bodies never carry a traceback or SQL. A database that
cannot be reached or is out of connections (any OperationalError: PostgreSQL's "too many
clients", a lost connection, a deadlock) is 503 SERVICE_UNAVAILABLE with Retry-After,
never a 500: the request did nothing wrong and may simply be sent again.
"""

import logging
import sys

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import DataError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf

from infinity.exceptions import InfinityError

logger = logging.getLogger("infinity.errors")

_DRF_CODES = {
    drf.ParseError: (400, "BAD_REQUEST"),
    drf.AuthenticationFailed: (401, "UNAUTHORIZED"),
    drf.NotAuthenticated: (401, "UNAUTHORIZED"),
    drf.PermissionDenied: (403, "FORBIDDEN"),
    drf.NotFound: (404, "NOT_FOUND"),
    drf.MethodNotAllowed: (405, "METHOD_NOT_ALLOWED"),
    drf.NotAcceptable: (406, "NOT_ACCEPTABLE"),
    drf.UnsupportedMediaType: (415, "UNSUPPORTED_MEDIA_TYPE"),
    drf.Throttled: (429, "RATE_LIMIT_EXCEEDED"),
    drf.ValidationError: (400, "VALIDATION_ERROR"),
}


RETRY_AFTER_SECONDS = 1
UNAVAILABLE = (503, "SERVICE_UNAVAILABLE", "The database is busy or unreachable; retry shortly", None)


def envelope(request, code: str, message: str, details: list | None = None) -> dict:
    body = {"code": code, "message": message}
    if details:
        body["details"] = details
    body["request_id"] = getattr(request, "request_id", None)
    return {"error": body}


def error_response(request, status: int, code: str, message: str, details=None) -> JsonResponse:
    return JsonResponse(envelope(request, code, message, details), status=status)


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every exception, expected or not, in the envelope."""
    from rest_framework.response import Response

    request = context.get("request")
    status, code, message, details = _describe(exc)
    response = Response(envelope(request, code, message, details), status=status)
    if isinstance(exc, drf.Throttled) and exc.wait:
        response["Retry-After"] = str(int(exc.wait))
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if status == 401:
        response["WWW-Authenticate"] = 'ApiKey realm="api"'
    view = context.get("view")
    if isinstance(exc, drf.MethodNotAllowed) and view is not None:
        response["Allow"] = ", ".join(view.allowed_methods)  # RFC 9110: a 405 says what is allowed
    return response


def _describe(exc):
    if isinstance(exc, InfinityError):
        return exc.status, exc.code, exc.message, exc.details
    if isinstance(exc, RequestDataTooBig):
        return 413, "PAYLOAD_TOO_LARGE", "The body is too large", None
    if isinstance(exc, Http404):
        return 404, "NOT_FOUND", "Not found", None
    if isinstance(exc, PermissionDenied):
        return 403, "FORBIDDEN", "Insufficient permissions", None
    if isinstance(exc, OperationalError):
        logger.warning("Database unavailable (%s): answered 503", type(exc.__cause__ or exc).__name__)
        return UNAVAILABLE
    if isinstance(exc, DataError):
        # SQLSTATE class 22: a client value the database cannot hold or compare (out of range,
        # NUL byte) that got past validation. A bad value, not a crash, as PostgREST treats it.
        logger.warning("Database refused a value (%s)", type(exc.__cause__ or exc).__name__)
        return 400, "VALIDATION_ERROR", "A value is out of range or not valid for its field", None
    for cls, (status, code) in _DRF_CODES.items():
        if isinstance(exc, cls):
            return status, code, _drf_message(exc), _drf_details(exc)
    logger.exception("Unhandled error")
    return 500, "SERVER_ERROR", "Internal server error", None


def _drf_message(exc) -> str:
    if isinstance(exc, drf.ValidationError):
        return "Invalid field value"
    if isinstance(exc, drf.Throttled):
        return f"Rate limit exceeded: retry in {int(exc.wait or 1)} second(s)"
    detail = exc.detail
    return str(detail) if isinstance(detail, str) else "Bad request"


def _drf_details(exc):
    if not isinstance(exc, drf.ValidationError) or not isinstance(exc.detail, dict):
        return None
    return [{"field": field, "message": " ".join(str(m) for m in messages)} for field, messages in exc.detail.items()]


def not_found_view(request, exception=None):
    return error_response(request, 404, "NOT_FOUND", "Not found")


def unavailable_response(request) -> JsonResponse:
    """503 SERVICE_UNAVAILABLE with Retry-After, for views outside DRF (the admin, middleware)."""
    status, code, message, _ = UNAVAILABLE
    response = error_response(request, status, code, message)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error_view(request):
    """handler500: called while the exception is being handled, so it can still tell a
    database out of reach (503) from a bug (500)."""
    if isinstance(sys.exc_info()[1], OperationalError):
        return unavailable_response(request)
    return error_response(request, 500, "SERVER_ERROR", "Internal server error")
