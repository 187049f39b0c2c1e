"""One HTTP request of a delivery, made safely: the SSRF guard, timeouts, no redirects, a capped body.

`post` never raises: it says how the request went (`Outcome`), and whether trying
again could help (timeouts, connection errors, 408, 429 and 5xx).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
from django.conf import settings

from .ssrf import url_problem

CONNECT_TIMEOUT, TOTAL_TIMEOUT = 5.0, 15.0
BODY_CAP = 1024  # bytes of the response kept (and read)
RETRYABLE_CODES = frozenset({408, 429})

_client: httpx.Client | None = None


def client() -> httpx.Client:
    """One pooled client per process; threads share it."""
    global _client
    if _client is None:
        _client = httpx.Client(
            timeout=httpx.Timeout(TOTAL_TIMEOUT, connect=CONNECT_TIMEOUT), follow_redirects=False,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32), trust_env=False,
        )
    return _client


@dataclass
class Outcome:
    """How one attempt went."""

    ok: bool
    retryable: bool
    code: int | None = None
    error: str = ""
    body: str = ""
    latency_ms: int = 0
    retry_after: float | None = None


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None  # an HTTP date is rare from receivers; the schedule then applies


def post(url: str, body: bytes, headers: dict) -> Outcome:
    started = time.monotonic()
    problem = url_problem(url)
    if problem:
        return Outcome(False, True, error=f"Refused: {problem}")
    try:
        outcome = _send(url, body, headers, started)
    except httpx.TimeoutException:
        outcome = Outcome(False, True, error="Timed out")
    except httpx.HTTPError as exc:
        outcome = Outcome(False, True, error=f"Connection failed: {type(exc).__name__}: {exc}"[:500])
    outcome.latency_ms = int((time.monotonic() - started) * 1000)
    return outcome


def _send(url: str, body: bytes, headers: dict, started: float) -> Outcome:
    with client().stream("POST", url, content=body, headers=headers) as response:
        kept = b""
        for chunk in response.iter_raw():
            kept += chunk
            if len(kept) >= BODY_CAP or time.monotonic() - started > TOTAL_TIMEOUT:
                break  # the rest is never read: closing drops the connection
        code = response.status_code
    text = kept[:BODY_CAP].decode("utf-8", "replace")
    if 200 <= code < 300:
        return Outcome(True, False, code, body=text)
    retryable = code >= 500 or code in RETRYABLE_CODES
    error = f"HTTP {code}" + (" (redirects are not followed)" if 300 <= code < 400 else "")
    return Outcome(False, retryable, code, error=error, body=text,
                   retry_after=_retry_after(response.headers.get("retry-after")))


def user_agent() -> str:
    return f"Infinity-Webhooks/{settings.VERSION}"
