"""Request-wide middleware: request ids on every response, the body size limit, 503 for a
database out of reach, and the admin's middleware kept off the API's path."""

import re

from django.conf import settings
from django.db import OperationalError
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.middleware import csrf
from ulid import ULID

from infinity.errors import error_response, unavailable_response

_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")  # used with fullmatch: `$` would let "id\n" through


def new_request_id() -> str:
    return f"req_{ULID()}"


class RequestIdMiddleware:
    """Sets request.request_id and echoes it in the X-Request-ID response header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SANE_ID.fullmatch(incoming) else new_request_id()
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class DatabaseUnavailableMiddleware:
    """A view (the admin's, say) that met a database out of reach or out of connections: 503
    with Retry-After, even with DEBUG on (DRF views answer it in their exception handler)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OperationalError):
            return unavailable_response(request)
        return None


class BodySizeLimitMiddleware:
    """Refuses bodies above INFINITY_MAX_BODY_BYTES with 413 before anything reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.INFINITY["MAX_BODY_BYTES"]  # read per request, so a settings override applies
        length = request.META.get("CONTENT_LENGTH") or ""
        if length.isdigit() and int(length) > limit:
            return error_response(request, 413, "PAYLOAD_TOO_LARGE", f"The body is larger than {limit} bytes")
        return self.get_response(request)


# --- middleware the admin needs and the API does not --------------------------------
# Sessions, CSRF, the session user and messages serve the admin's pages; the API
# authenticates every request itself (keys, JWTs) and never reads a session, so for
# /api/ they are skipped rather than run for nothing on every request. Subclasses,
# so the admin's system checks still find the middleware they require.

API_PREFIX = "/api/"


def _is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIX)


class _PagesOnly:
    """Runs the middleware it is mixed into for every request outside /api/."""

    def __call__(self, request):
        if _is_api(request):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_PagesOnly, sessions.SessionMiddleware):
    """Django's sessions, for the admin."""


class AuthenticationMiddleware(_PagesOnly, auth.AuthenticationMiddleware):
    """Django's session user, for the admin (the API authenticates in DRF)."""


class MessageMiddleware(_PagesOnly, messages.MessageMiddleware):
    """Django's flash messages, for the admin."""


class CsrfViewMiddleware(_PagesOnly, csrf.CsrfViewMiddleware):
    """Django's CSRF protection, for the session-authenticated admin (API views are exempt)."""

    def process_view(self, request, callback, callback_args, callback_kwargs):
        if _is_api(request):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)
