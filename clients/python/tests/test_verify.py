"""`infinity_client.webhooks.verify` on deliveries signed as SPEC §7 says, built here with hmac.

Every case of the documented format,
`X-Infinity-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, built
by hand; `test_webhooks.py` verifies real deliveries from the server.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from infinity_client import webhooks
from infinity_client.webhooks import (InvalidSignature, MalformedSignature, MissingSignature, StaleSignature,
                                      WebhookVerificationError, verify)

SECRET = "whsec_test_3b1f9c"
BODY = json.dumps({"event": "record.created", "model": "customers", "timestamp": "2026-12-04T20:00:00Z",
                   "data": {"id": "rec_01H2XYZABCDEFGHJKMNPQRSTVW", "name": "Jane"}}).encode()


def signed(body: bytes = BODY, secret: str = SECRET, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def test_a_correctly_signed_delivery_is_accepted_and_parsed():
    event = verify(BODY, {"X-Infinity-Signature": signed()}, SECRET)

    assert event["event"] == "record.created" and event["data"]["name"] == "Jane"


def test_headers_in_any_case_and_a_str_body():
    assert verify(BODY.decode(), {"x-infinity-signature": signed()}, SECRET)["model"] == "customers"
    assert verify(BODY, {"HTTP_X_INFINITY_SIGNATURE": signed()}, SECRET)["model"] == "customers"  # request.META


def test_during_a_rotation_any_matching_v1_is_enough():
    t = int(time.time())
    old, new = signed(secret="old-secret", t=t), signed(secret=SECRET, t=t)
    header = f"{old},v1={new.split('v1=')[1]}"

    assert verify(BODY, {"X-Infinity-Signature": header}, SECRET)["event"] == "record.created"
    assert verify(BODY, {"X-Infinity-Signature": header}, "old-secret")["event"] == "record.created"
    assert verify(BODY, {"X-Infinity-Signature": signed(secret="old-secret")}, ["new", "old-secret"])


def test_a_tampered_body_is_refused():
    header = signed()
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(BODY.replace(b"Jane", b"Mallory"), {"X-Infinity-Signature": header}, SECRET)


def test_a_wrong_secret_is_refused():
    with pytest.raises(InvalidSignature):
        verify(BODY, {"X-Infinity-Signature": signed(secret="someone else")}, SECRET)


def test_a_stale_delivery_is_refused_even_when_correctly_signed():
    old = int(time.time()) - 301
    with pytest.raises(StaleSignature, match="more than 300 s"):
        verify(BODY, {"X-Infinity-Signature": signed(t=old)}, SECRET)
    with pytest.raises(StaleSignature):  # from the future as well
        verify(BODY, {"X-Infinity-Signature": signed(t=int(time.time()) + 3600)}, SECRET)
    assert verify(BODY, {"X-Infinity-Signature": signed(t=old)}, SECRET, tolerance=600)["event"]


def test_moving_the_timestamp_breaks_the_signature():
    t = int(time.time())
    digest = signed(t=t - 1000).split("v1=")[1]  # an old signature with a fresh timestamp
    with pytest.raises(InvalidSignature):
        verify(BODY, {"X-Infinity-Signature": f"t={t},v1={digest}"}, SECRET)


@pytest.mark.parametrize("header", ["", "v1=abc", "t=123", "t=soon,v1=abc", "t=1,t=2,v1=abc", "garbage"])
def test_a_malformed_header_is_refused(header):
    with pytest.raises(MalformedSignature):
        verify(BODY, {"X-Infinity-Signature": header}, SECRET)


def test_a_missing_header_is_refused_clearly():
    with pytest.raises(MissingSignature, match="Missing X-Infinity-Signature"):
        verify(BODY, {"Content-Type": "application/json"}, SECRET)


def test_every_refusal_is_one_exception_family():
    for cls in (MissingSignature, MalformedSignature, InvalidSignature, StaleSignature):
        assert issubclass(cls, WebhookVerificationError)


def test_signature_header_makes_what_verify_accepts():
    header = webhooks.signature_header(BODY, SECRET)

    assert header == signed(t=int(header.split(",")[0][2:]))
    assert verify(BODY, {"X-Infinity-Signature": header}, SECRET)["event"] == "record.created"
