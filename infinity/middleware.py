"""Request ids: every response carries X-Request-ID, the caller's when it is sane."""

import re

from ulid import ULID

_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def new_request_id() -> str:
    return f"req_{ULID()}"


class RequestIdMiddleware:
    """Sets request.request_id and echoes it in the X-Request-ID response header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SANE_ID.match(incoming) else new_request_id()
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response
