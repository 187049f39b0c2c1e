"""Settings both clients read the same way: credentials, base URL, retries, default headers."""

from __future__ import annotations

import os
import platform
from typing import Any, Dict, Optional, Union

import httpx

from .calls import RetryPolicy, Tokens

__version__ = "0.1.0"

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 30.0
# The reference gives its base URL with this path; the client adds it per call.
RECORDS_SUFFIX = "/api/public/data"
USER_AGENT = f"infinity-client-python/{__version__} (Python {platform.python_version()}; httpx {httpx.__version__})"


def normalise_base_url(base_url: Optional[str]) -> str:
    """The server's root URL: the argument, else INFINITY_URL, else the local `make run` address."""
    url = (base_url or os.environ.get("INFINITY_URL") or DEFAULT_URL).rstrip("/")
    if url.endswith(RECORDS_SUFFIX):
        url = url[: -len(RECORDS_SUFFIX)]
    return url


class ClientBase:
    """What `Client` and `AsyncClient` hold apart from their connection pool."""

    def __init__(
        self,
        api_key: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        timeout: Union[float, httpx.Timeout, None] = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        max_retry_after: float = 60.0,
        headers: Optional[Dict[str, str]] = None,
    ):
        self.api_key = api_key if api_key is not None else os.environ.get("INFINITY_API_KEY")
        self.base_url = normalise_base_url(base_url)
        self.timeout = timeout
        self.retry = RetryPolicy(max_retries=max_retries, max_retry_after=max_retry_after)
        self.tokens: Optional[Tokens] = None
        self.user: Optional[Dict[str, Any]] = None  # the signed-in user, after login()
        self._default_headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}

    def _http_options(self, event_hooks: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        return {"base_url": self.base_url, "timeout": self.timeout, "headers": self._default_headers,
                "event_hooks": event_hooks or {}, "follow_redirects": False}

    def _auth_headers(self) -> Dict[str, str]:
        if self.tokens is not None:
            return {"Authorization": f"Bearer {self.tokens.access}"}
        if self.api_key:
            return {"X-API-Key": self.api_key}
        return {}

    def __repr__(self) -> str:
        how = "jwt" if self.tokens else ("api_key" if self.api_key else "anonymous")
        return f"<{type(self).__name__} {self.base_url} ({how})>"
