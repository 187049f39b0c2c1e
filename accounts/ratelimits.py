"""Rate limits: the `N/unit[,N/unit...]` format (units s, m, h, d), and their enforcement.

`parse_rate_limit("100/m,5000/d")` gives `[(100, 60), (5000, 86400)]`, shortest window
first, or raises `ValueError` with a sentence a user can act on. `RateLimited` (a DRF
permission, first in the chain) counts each API request per key, user or IP;
`RateLimitHeadersMiddleware` puts the tightest window in the X-RateLimit-* headers.
"""

import re
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django_ratelimit.core import ALL, EXPIRATION_FUDGE, _get_window, _make_cache_key
from rest_framework.exceptions import Throttled
from rest_framework.permissions import BasePermission

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_UNIT_NAMES = {seconds: unit for unit, seconds in UNIT_SECONDS.items()}
# The counters are 64-bit (PostgreSQL bigint in accounts_counter, Redis INCRBY): a window
# may allow as many requests as they can count. (19 digits at most, before int() is asked.)
MAX_COUNT = 2**63 - 1
_WINDOW = re.compile(r"(?P<count>[1-9][0-9]{0,18})/(?P<unit>[smhd])")
FORMAT_HINT = (f"expected N/unit[,N/unit...] with N a whole number from 1 to {MAX_COUNT} "
               "and unit s, m, h or d, each unit once, e.g. 100/m,5000/d")


def parse_rate_limit(text: str) -> list[tuple[int, int]]:
    """Parse a rate limit into (count, seconds) windows, shortest window first."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"Rate limit is empty: {FORMAT_HINT}")
    windows: dict[int, int] = {}
    for part in text.split(","):
        match = _WINDOW.fullmatch(part.strip())
        if match is None or int(match["count"]) > MAX_COUNT:
            raise ValueError(f"Invalid rate limit {part.strip()!r}: {FORMAT_HINT}")
        seconds = UNIT_SECONDS[match["unit"]]
        if seconds in windows:
            raise ValueError(f"Rate limit {text.strip()!r} gives the /{match['unit']} window twice")
        windows[seconds] = int(match["count"])
    return [(count, seconds) for seconds, count in sorted(windows.items())]


def format_rate_limit(windows: list[tuple[int, int]]) -> str:
    """The canonical text of parsed windows: `[(100, 60)]` gives `100/m`."""
    return ",".join(f"{count}/{_UNIT_NAMES[seconds]}" for count, seconds in windows)


def rate_capped(rate: str, ceiling: str) -> str:
    """`rate` applied on top of `ceiling`: the windows of both, canonical.

    `10/m` under `100/m,5000/d` gives `10/m,5000/d`, so it only ever tightens; a rate
    that allows more than `ceiling` in one of its windows (`1000/m`) is a `ValueError`.
    """
    own = {seconds: count for count, seconds in parse_rate_limit(rate)}
    cap = {seconds: count for count, seconds in parse_rate_limit(ceiling)}
    if any(seconds in cap and count > cap[seconds] for seconds, count in own.items()):
        raise ValueError(
            f"Rate limit {rate} allows more than the default {ceiling}; only an administrator can raise it"
        )
    return format_rate_limit([(count, seconds) for seconds, count in sorted({**cap, **own}.items())])


# --- enforcement -----------------------------------------------------------------
# Counting follows django-ratelimit (fixed windows, one counter per caller and window)
# on the "ratelimit" cache: Redis with REDIS_URL, else `accounts.counters`.

GROUP = "infinity"


@dataclass
class Usage:
    """The state of a caller's tightest window after counting this request."""

    limit: int
    remaining: int
    reset: int  # unix seconds when the window restarts
    retry_after: int | None  # set when the request is over a limit


_cache: dict[str, list[tuple[int, int]]] = {}


def _parsed(text: str) -> list[tuple[int, int]]:
    if text not in _cache:
        _cache[text] = parse_rate_limit(text)
    return _cache[text]


# --- leases: a process reserves several requests of a large window at once ------------
# The shared counter counts what processes have *reserved*; each grant comes from the
# counter's atomic increment, so across every process no caller is served more than its
# limit. A window of `count` requests is reserved `count // LEASE_DIVISOR` at a time (at
# most INFINITY_RATE_LIMIT_LEASE, at least 1, which counts every request): a window of
# 100/m is counted exactly, one of 1,000,000/s costs the counter one statement per 50
# requests per process. What a process reserved and did not use is lost with its window,
# so a caller may be refused up to (processes × lease) requests early, never served more.

LEASE_DIVISOR = 100
LEASES_KEPT = 10_000  # past this many, leases of ended windows are dropped


@dataclass
class _Lease:
    end: int  # the window it belongs to
    left: int  # requests reserved and not yet served by this process
    reserved: int  # the shared counter when this process last reserved


_leases: dict[str, _Lease] = {}
_leases_lock = threading.Lock()


def lease_size(count: int) -> int:
    return max(1, min(settings.INFINITY["RATE_LIMIT_LEASE"], count // LEASE_DIVISOR))


def _served_locally(key: str, end: int) -> _Lease | None:
    """This process's lease on `key`'s window, with one request taken from it, if it has one left."""
    lease = _leases.get(key)
    if lease is None or lease.end != end or lease.left < 1:
        return None
    lease.left -= 1
    return lease


def _granted(key: str, end: int, count: int, total: int, amount: int, now: int) -> _Lease:
    """The lease `amount` more on the counter (now at `total`) gives; `left` < 0 when refused."""
    granted = min(amount, count - (total - amount))
    lease = _Lease(end, granted - 1, min(total, count))
    if granted > 1:  # something left to serve locally
        if len(_leases) >= LEASES_KEPT:
            for stale in [k for k, kept in _leases.items() if kept.end <= now]:
                del _leases[stale]
        _leases[key] = lease
    return lease


def consume(request, *, identity: str, rate: str, group: str = GROUP) -> Usage:
    """Count one request for `identity` in every window of `rate`, in at most one round trip.

    Counters are django-ratelimit's (its windows and cache keys, on its cache), reserved
    in leases (above). Within limits, the window with the fewest requests left is
    reported; past one, the exceeded window that ends last, so Retry-After and
    X-RateLimit-Reset agree.
    """
    now = int(time.time())
    windows, wanted = [], []
    with _leases_lock:
        for count, seconds in _parsed(rate):
            end = _get_window(identity, seconds)
            key = _make_cache_key(group, end, f"{count}/{seconds}s", identity, ALL)
            lease = _served_locally(key, end)
            windows.append((count, end, key, lease))
            if lease is None:
                wanted.append((key, seconds + EXPIRATION_FUDGE, lease_size(count)))
    reserved = caches[settings.RATELIMIT_USE_CACHE].incr_many(wanted) if wanted else []
    totals = {key: (total, amount) for (key, _, amount), total in zip(wanted, reserved)}
    tightest = blocked = None
    with _leases_lock:
        for count, end, key, lease in windows:
            if lease is None:
                lease = _granted(key, end, count, *totals[key], now)
            window = Usage(count, max(count - lease.reserved + lease.left, 0), end, None)
            if lease.left < 0 and (blocked is None or window.reset >= blocked.reset):
                window.retry_after = max(end - now, 1)
                blocked = window
            if tightest is None or window.remaining < tightest.remaining:
                tightest = window
    return blocked or tightest


def caller_identity(request) -> tuple[str, str]:
    """Who is counted, and against which rate: the API key, else the user, else the IP."""
    key = request.auth if getattr(request.auth, "prefix", None) else None
    if key is not None:
        return f"key:{key.prefix}", key.effective_rate_limit
    if request.user and request.user.is_authenticated:
        return f"user:{request.user.pk}", settings.INFINITY["RATE_LIMIT"]
    return f"ip:{client_ip(request)}", settings.INFINITY["RATE_LIMIT"]


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _enforce(request, identity: str, rate: str) -> bool:
    usage = consume(request, identity=identity, rate=rate)
    request._request.infinity_ratelimit = usage  # read by RateLimitHeadersMiddleware
    if usage.retry_after is not None:
        raise Throttled(wait=usage.retry_after, detail="Rate limit exceeded")
    return True


class RateLimited(BasePermission):
    """Counts every API request against its caller's limit; over it → 429 with Retry-After."""

    def has_permission(self, request, view):
        identity, rate = caller_identity(request)
        return _enforce(request, identity, rate)


class AuthRateLimited(BasePermission):
    """Login and signup: counted per IP at INFINITY_AUTH_RATE_LIMIT, against password guessing."""

    def has_permission(self, request, view):
        return _enforce(request, f"auth-ip:{client_ip(request)}", settings.INFINITY["AUTH_RATE_LIMIT"])


class RateLimitHeadersMiddleware:
    """Adds X-RateLimit-Limit/Remaining/Reset to responses of counted requests."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        usage = getattr(request, "infinity_ratelimit", None)
        if usage is not None:
            response["X-RateLimit-Limit"] = str(usage.limit)
            response["X-RateLimit-Remaining"] = str(usage.remaining)
            response["X-RateLimit-Reset"] = str(usage.reset)
        return response
