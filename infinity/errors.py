"""The one place where errors become the SPEC §5 envelope.

`exception_handler` serves DRF views; `error_response` serves plain Django views
(404/500 handlers, middleware). Bodies never carry a traceback or SQL.
"""

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import DataError
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


def server_error_view(request):
    return error_response(request, 500, "SERVER_ERROR", "Internal server error")
