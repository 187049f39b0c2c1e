"""Exceptions: one class per error code of Infinity's envelope, plus connection failures.

Every answer the server refuses becomes an `APIError` subclass chosen by the
envelope's `code` (by the HTTP status when a proxy answered without one), carrying
`status`, `code`, `message`, `details` and `request_id` — quote the request id when
asking for help, it names the server's log line::

    try:
        client.models.customers.create({"email": "not an email"})
    except ValidationError as exc:
        for problem in exc.details:
            print(problem["field"], problem["message"])
"""

from __future__ import annotations

import datetime as dt
from email.utils import parsedate_to_datetime
from typing import Any, Mapping, Optional

import httpx


class InfinityError(Exception):
    """Base of every exception this client raises."""


class APIConnectionError(InfinityError):
    """No answer from the server (refused, reset, cut off), after every retry."""


class APITimeoutError(APIConnectionError):
    """The server did not answer within the client's `timeout`, after every retry."""


class APIError(InfinityError):
    """The server answered with an error; attributes mirror the error envelope."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: Optional[str] = None,
        details: Optional[list] = None,
        request_id: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details or []
        self.request_id = request_id
        self.headers = dict(headers or {})

    def __str__(self) -> str:
        where = f", request_id={self.request_id}" if self.request_id else ""
        return f"{self.status} {self.code or 'ERROR'}: {self.message}{where}"


class BadRequest(APIError):
    """400 BAD_REQUEST: syntax the server cannot parse (malformed JSON, a malformed cursor)."""


class ValidationError(BadRequest):
    """400 VALIDATION_ERROR: a bad value; `details` holds one entry per field or parameter."""


class Unauthorized(APIError):
    """401 UNAUTHORIZED: missing, invalid or expired credentials."""


class Forbidden(APIError):
    """403 FORBIDDEN: the key or user lacks the scope or permission."""


class NotFound(APIError):
    """404 NOT_FOUND: unknown model, record or URL."""


class MethodNotAllowed(APIError):
    """405 METHOD_NOT_ALLOWED."""


class Conflict(APIError):
    """409 CONFLICT: a unique value clash, or an Idempotency-Key reused with another body."""


class PreconditionFailed(APIError):
    """412 PRECONDITION_FAILED: the record changed since the ETag given as `etag=`."""


class PayloadTooLarge(APIError):
    """413 PAYLOAD_TOO_LARGE: the body is above the server's INFINITY_MAX_BODY_BYTES."""


class UnsupportedMediaType(APIError):
    """415 UNSUPPORTED_MEDIA_TYPE."""


class RateLimited(APIError):
    """429 RATE_LIMIT_EXCEEDED; `retry_after` is the wait in seconds the server asked for."""

    def __init__(self, message: str, *, retry_after: Optional[float] = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(APIError):
    """500 SERVER_ERROR, or another 5xx (a proxy's 502 or 504)."""


class ServiceUnavailable(ServerError):
    """503: the server or one of its backends is down for now."""


ERRORS_BY_CODE: dict[str, type[APIError]] = {
    "BAD_REQUEST": BadRequest,
    "VALIDATION_ERROR": ValidationError,
    "UNAUTHORIZED": Unauthorized,
    "FORBIDDEN": Forbidden,
    "NOT_FOUND": NotFound,
    "METHOD_NOT_ALLOWED": MethodNotAllowed,
    "CONFLICT": Conflict,
    "PRECONDITION_FAILED": PreconditionFailed,
    "PAYLOAD_TOO_LARGE": PayloadTooLarge,
    "UNSUPPORTED_MEDIA_TYPE": UnsupportedMediaType,
    "RATE_LIMIT_EXCEEDED": RateLimited,
    "SERVER_ERROR": ServerError,
    "SERVICE_UNAVAILABLE": ServiceUnavailable,
}

ERRORS_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 405: MethodNotAllowed,
    409: Conflict, 412: PreconditionFailed, 413: PayloadTooLarge, 415: UnsupportedMediaType,
    429: RateLimited, 503: ServiceUnavailable,
}


def retry_after(headers: Mapping[str, str]) -> Optional[float]:
    """Seconds to wait from a `Retry-After` header (whole seconds or an HTTP date), None if absent."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


def error_from_response(response: httpx.Response) -> APIError:
    """The exception for an error answer: by the envelope's code, else by the status."""
    error: dict = {}
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            error = body["error"]
    except ValueError:
        body = None
    code = error.get("code") if isinstance(error.get("code"), str) else None
    cls = ERRORS_BY_CODE.get(code or "") or ERRORS_BY_STATUS.get(response.status_code)
    if cls is None:
        cls = ServerError if response.status_code >= 500 else APIError
    message = error.get("message") or _fallback_message(response)
    kwargs: dict[str, Any] = {
        "status": response.status_code,
        "code": code,
        "details": error.get("details") if isinstance(error.get("details"), list) else None,
        "request_id": error.get("request_id") or response.headers.get("x-request-id"),
        "headers": response.headers,
    }
    if issubclass(cls, RateLimited):
        kwargs["retry_after"] = retry_after(response.headers)
    return cls(message, **kwargs)


def _fallback_message(response: httpx.Response) -> str:
    """For answers without an envelope (a proxy's HTML page): the status and a little text."""
    text = " ".join(response.text.split())[:200] if response.content else ""
    reason = response.reason_phrase or "error"
    return f"HTTP {response.status_code} {reason}" + (f": {text}" if text else "")
