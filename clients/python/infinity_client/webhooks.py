"""Checking that a webhook delivery really comes from your Infinity server.

Infinity signs every delivery with the webhook's secret::

    X-Infinity-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">

(while a secret is being rotated, one `v1=` per live secret). A receiver needs three lines::

    from infinity_client.webhooks import verify, WebhookVerificationError

    event = verify(request.body, request.headers, secret)   # raises if forged, tampered or stale
    print(event["event"], event["model"], event["data"]["id"])

Pass the body exactly as received (bytes, before any JSON parsing): re-serialised JSON
rarely has the same bytes. `tolerance` (seconds, default 300) refuses replays of an old
delivery; de-duplicate retries on the `X-Infinity-Delivery` header.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Iterable, List, Mapping, Optional, Tuple, Union

from .errors import InfinityError

SIGNATURE_HEADER = "X-Infinity-Signature"
DEFAULT_TOLERANCE = 300

Secret = Union[str, bytes]


class WebhookVerificationError(InfinityError):
    """The delivery cannot be trusted; the message says why."""


class MissingSignature(WebhookVerificationError):
    """No X-Infinity-Signature header."""


class MalformedSignature(WebhookVerificationError):
    """The header is not `t=<unix seconds>,v1=<hex>[,v1=<hex>...]`."""


class InvalidSignature(WebhookVerificationError):
    """No signature matches the body with this secret: tampered, or the wrong secret."""


class StaleSignature(WebhookVerificationError):
    """Correctly signed, but its timestamp is outside the tolerance (a replay, or a skewed clock)."""


def verify(body: Union[bytes, str], headers: Mapping[str, str], secret: Union[Secret, Iterable[Secret]],
           tolerance: Optional[float] = DEFAULT_TOLERANCE) -> Any:
    """Check a delivery's signature and age; return its JSON payload.

    `secret` may also be a list of secrets (e.g. old and new during your own switch-over);
    `tolerance=None` skips the age check (not recommended).
    """
    raw = body.encode() if isinstance(body, str) else bytes(body)
    header = _header(headers, SIGNATURE_HEADER)
    if header is None:
        raise MissingSignature(f"Missing {SIGNATURE_HEADER} header: this request was not signed by Infinity")
    timestamp, signatures = parse_signature(header)
    expected = [sign_payload(raw, timestamp, key) for key in _secrets(secret)]
    # Every candidate is compared in constant time, so timing never tells how close a forgery came.
    matched = False
    for candidate in signatures:
        for digest in expected:
            matched |= hmac.compare_digest(candidate, digest)
    if not matched:
        raise InvalidSignature("Signature does not match the body and secret (tampered body or wrong secret)")
    if tolerance is not None and abs(time.time() - timestamp) > tolerance:
        raise StaleSignature(f"Signature timestamp {timestamp} is more than {tolerance:g} s from now "
                             "(a replayed delivery, or the clocks disagree)")
    try:
        return json.loads(raw)
    except ValueError:
        raise WebhookVerificationError("Signed body is not JSON") from None


def parse_signature(header: str) -> Tuple[int, List[str]]:
    """(`t`, every `v1` value) of an X-Infinity-Signature header, or MalformedSignature."""
    timestamp: Optional[int] = None
    signatures: List[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise MalformedSignature(f"Malformed {SIGNATURE_HEADER} part {part.strip()!r}: expected name=value")
        if name == "t":
            if timestamp is not None or not value.isdigit():
                raise MalformedSignature(f"{SIGNATURE_HEADER} needs exactly one t=<unix seconds>")
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value.lower())
        # Other schemes (v0, v2, ...) are skipped: a newer server may add them.
    if timestamp is None or not signatures:
        raise MalformedSignature(f"{SIGNATURE_HEADER} needs t=<unix seconds> and at least one v1=<signature>")
    return timestamp, signatures


def sign_payload(body: bytes, timestamp: int, secret: Secret) -> str:
    """The hex HMAC-SHA256 of `"<t>.<body>"`: one `v1` value."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_header(body: Union[bytes, str], secret: Secret, timestamp: Optional[int] = None) -> str:
    """A header value as Infinity sends it, to test your own receiver."""
    raw = body.encode() if isinstance(body, str) else body
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={sign_payload(raw, t, secret)}"


def _header(headers: Mapping[str, str], name: str) -> Optional[str]:
    """A header from any mapping: case-insensitive ones (Django, Starlette, httpx) or a plain dict."""
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if str(k).lower() == wanted), None)
    if value is None:  # WSGI environ style, e.g. Django's request.META
        value = headers.get("HTTP_" + name.upper().replace("-", "_"))
    return value


def _secrets(secret: Union[Secret, Iterable[Secret]]) -> List[Secret]:
    keys = [secret] if isinstance(secret, (str, bytes)) else list(secret)
    if not keys or not all(keys):
        raise ValueError("verify() needs the webhook's secret")
    return keys
