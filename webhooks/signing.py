"""Webhook secrets and the two signatures every delivery carries.

- `X-Infinity-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed with the
  secret's UTF-8 bytes, as Stripe signs;
- Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`),
  HMAC-SHA256 of "<id>.<t>.<body>" keyed with the secret's base64 part after `whsec_`
  (what that spec's libraries decode), or the UTF-8 bytes of a secret not of that form.

During a rotation both the new and the old secret sign, so either verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

PREFIX = "whsec_"
MIN_LENGTH, MAX_LENGTH = 16, 255


def generate_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_problem(secret) -> str | None:
    """Why a secret given by a user cannot be used, or None."""
    if not isinstance(secret, str) or not MIN_LENGTH <= len(secret) <= MAX_LENGTH or not secret.isprintable():
        return f"Must be a string of {MIN_LENGTH} to {MAX_LENGTH} printable characters"
    return None


def standard_key(secret: str) -> bytes:
    """The key Standard Webhooks libraries derive from `secret`."""
    if secret.startswith(PREFIX):
        try:
            return base64.b64decode(secret[len(PREFIX):], validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret.encode()


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def infinity_signature(keys: list[str], timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return ",".join([f"t={timestamp}", *(f"v1={_hmac(k.encode(), signed).hex()}" for k in keys)])


def standard_signature(keys: list[str], message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(f"v1,{base64.b64encode(_hmac(standard_key(k), signed)).decode()}" for k in keys)


def verify_infinity_signature(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver does (used by tests and the README): any v1 matches, within the window."""
    parts = [item.partition("=") for item in header.split(",")]
    timestamps = [value for key, _, value in parts if key == "t"]
    if len(timestamps) != 1 or not timestamps[0].isdigit() or abs(now - int(timestamps[0])) > tolerance:
        return False
    expected = _hmac(secret.encode(), f"{timestamps[0]}.".encode() + body).hex()
    return any(hmac.compare_digest(expected, value) for key, _, value in parts if key == "v1")
