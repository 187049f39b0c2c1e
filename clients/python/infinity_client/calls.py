"""What the sync and async clients share: a planned call, when to retry it, and JWT tokens.

A `Call` is everything about one API call that does not change between attempts:
method, path, parameters, the body encoded once, and headers — including the
`Idempotency-Key` a create generates once, so every retry of it carries the same key
and the server answers a repeat with the first response instead of writing twice.
`RetryPolicy` decides, after each failed attempt, whether and how long to wait.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import random
import time
import uuid
from decimal import Decimal
from typing import Any, Callable, Dict, Mapping, Optional

import httpx

from .errors import APIConnectionError, APITimeoutError, retry_after
from .query import Params, iso_datetime
from .results import Page, Record

_NO_BODY = object()

# A server that answers these may not have done the work, or is overloaded for a moment.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Failures that happen before a byte of the request is sent: any call may be tried again.
NOTHING_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures after sending: the server may have done the work, so only repeatable calls retry.
MAYBE_SENT = (httpx.ReadError, httpx.WriteError, httpx.ReadTimeout, httpx.WriteTimeout,
              httpx.RemoteProtocolError, httpx.CloseError)


def encode_json(data: Any) -> bytes:
    """The JSON body; dates, datetimes (UTC with `Z`), decimals, UUIDs and sets are converted."""
    return json.dumps(data, default=_json_default, separators=(",", ":"), ensure_ascii=False).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return iso_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


@dataclasses.dataclass
class Call:
    """One API call as planned, the same for every attempt."""

    method: str
    path: str
    parse: Callable[[httpx.Response], Any]
    params: Params = dataclasses.field(default_factory=list)
    content: Optional[bytes] = None
    headers: Dict[str, str] = dataclasses.field(default_factory=dict)
    repeatable: bool = True  # may be sent again after a failure that left its fate unknown
    authenticated: bool = True

    @classmethod
    def make(cls, method: str, path: str, parse: Callable[[httpx.Response], Any], *, json: Any = _NO_BODY,
             params: Optional[Params] = None, headers: Optional[dict] = None, **options: Any) -> "Call":
        headers = {k: v for k, v in (headers or {}).items() if v is not None}
        content = None
        if json is not _NO_BODY:
            content = encode_json(json)
            headers.setdefault("Content-Type", "application/json")
        return cls(method, path, parse, params or [], content, headers, **options)

    def build(self, http: Any, auth_headers: Dict[str, str]) -> httpx.Request:
        return http.build_request(self.method, self.path, params=self.params or None, content=self.content,
                                  headers={**auth_headers, **self.headers})


@dataclasses.dataclass
class RetryPolicy:
    """When a failed attempt is tried again, and after how long.

    429 always (after `Retry-After`); 502, 503, 504 and connection failures after
    exponential backoff with jitter — for calls whose repetition is harmless (reads,
    PUT, PATCH, DELETE, creates carrying an Idempotency-Key), or when nothing was sent.
    """

    max_retries: int = 2
    backoff: float = 0.5  # the first wait; doubles with each retry
    max_backoff: float = 8.0
    max_retry_after: float = 60.0  # a longer Retry-After is raised as RateLimited at once

    def after_response(self, response: httpx.Response, call: Call, attempt: int) -> Optional[float]:
        status = response.status_code
        if attempt >= self.max_retries or status not in RETRY_STATUSES:
            return None
        if status != 429 and not call.repeatable:
            return None
        wait = retry_after(response.headers)
        if wait is None:
            return self.backoff_for(attempt)
        return wait if wait <= self.max_retry_after else None

    def after_error(self, error: Exception, call: Call, attempt: int) -> Optional[float]:
        if attempt >= self.max_retries:
            return None
        if isinstance(error, NOTHING_SENT) or (call.repeatable and isinstance(error, MAYBE_SENT)):
            return self.backoff_for(attempt)
        return None

    def backoff_for(self, attempt: int) -> float:
        # "Equal jitter": at least half the exponential delay, so clients that failed
        # together do not come back together.
        delay = min(self.max_backoff, self.backoff * 2 ** attempt)
        return delay / 2 + random.uniform(0, delay / 2)


def connection_error(error: Exception) -> APIConnectionError:
    kind = APITimeoutError if isinstance(error, httpx.TimeoutException) else APIConnectionError
    return kind(f"{type(error).__name__}: {error or 'no answer from the server'}")


class Tokens:
    """A JWT session's access and refresh tokens; refreshed shortly before the access token expires."""

    LEEWAY = 30  # seconds before expiry at which a fresh access token is fetched

    def __init__(self, access: str, refresh: str):
        self.access = access
        self.refresh = refresh
        self.expires_at = jwt_expiry(access)

    def update(self, access: str, refresh: Optional[str]) -> None:
        self.access = access
        self.refresh = refresh or self.refresh
        self.expires_at = jwt_expiry(access)

    def expiring(self) -> bool:
        return self.expires_at is not None and self.expires_at - self.LEEWAY <= time.time()


def jwt_expiry(token: str) -> Optional[float]:
    """The `exp` claim of a JWT, read without verifying it (the server does that); None if unreadable."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


# --- reading answers ----------------------------------------------------------------

def parse_json(response: httpx.Response) -> Any:
    return response.json() if response.content else None


def parse_record(response: httpx.Response) -> Record:
    """`{"data": {...}}` with the response's ETag."""
    return Record(response.json()["data"], etag=response.headers.get("etag"))


def parse_created(response: httpx.Response) -> Any:
    """A create's answer: one record (with its ETag) or, for a bulk create, a list of them."""
    data = response.json()["data"]
    if isinstance(data, list):
        return [Record(item) for item in data]
    return Record(data, etag=response.headers.get("etag"))


def parse_records(response: httpx.Response) -> list:
    return [Record(item) for item in response.json()["data"]]


def parse_page(response: httpx.Response) -> Page:
    body = response.json()
    return Page([Record(item) for item in body["data"]], body.get("pagination"))


def raw_call(method: str, path: str, *, params: Any = None, json: Any = _NO_BODY, content: Optional[bytes] = None,
             headers: Optional[dict] = None) -> Call:
    """A call by path for `client.request`: POSTs are not repeated after an unclear failure."""
    method = method.upper()
    if isinstance(params, Mapping):
        params = list(params.items())
    call = Call.make(method, path, parse_json, params=params, json=json, headers=headers,
                     repeatable=method != "POST" or "Idempotency-Key" in (headers or {}))
    if content is not None:
        call.content = content
    return call


def idempotency_key() -> str:
    return f"ic_{uuid.uuid4().hex}"
