"""Request-wide middleware: request ids on every response, and the body size limit."""

import re

from django.conf import settings
from ulid import ULID

from infinity.errors import error_response

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
