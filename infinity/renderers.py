"""A DRF renderer backed by orjson: fast, and emits datetimes as ISO 8601.

`dumps` is the one JSON encoder for responses and stored responses: orjson, with
the stdlib as a fallback for the valid data orjson refuses (integers beyond 64
bits, nesting deeper than 254 levels), so such data is never a 500.
"""

import datetime
import json
import uuid
from decimal import Decimal

import orjson
from rest_framework.renderers import BaseRenderer


class JSONRenderer(BaseRenderer):
    """Renders response data with orjson (non-str keys and numpy-free)."""

    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return dumps(data)


def dumps(data, *, sort_keys: bool = False) -> bytes:
    """`data` as compact JSON bytes, however large its integers or deep its nesting."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    try:
        return orjson.dumps(data, option=option, default=_default)
    except TypeError:
        # ensure_ascii: a lone surrogate (which orjson also refuses) becomes an escape, not an error.
        return json.dumps(data, separators=(",", ":"), sort_keys=sort_keys, default=_fallback_default).encode()


def _default(value):
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def _fallback_default(value):
    """What orjson encodes natively, encoded the same way for the stdlib."""
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return _default(value)
