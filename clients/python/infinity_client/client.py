"""`Client`: the synchronous client, one connection pool, with retries and JWT refresh.

    from infinity_client import Client

    with Client(api_key="inf_…", base_url="http://127.0.0.1:8000") as client:
        customer = client.models.customers.create({"name": "Jane Doe", "status": "active"})
        for record in client.models.customers.iterate(filter={"status": "active"}):
            ...
"""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, Iterator, Optional

import httpx

from .base import ClientBase
from .calls import _NO_BODY, Call, Tokens, connection_error, parse_json, raw_call
from .errors import error_from_response
from .query import FilterArg, SortArg
from .resources import ModelResource, Models, Names, WebhookResource
from .results import Record


class Model(ModelResource):
    """The records of one data model, for `Client`."""

    def iterate(self, *, filter: FilterArg = None, sort: SortArg = None, fields: Names = None,
                include: Names = None, limit: Optional[int] = 100) -> Iterator[Record]:
        """Every matching record, fetched page by page by cursor as you go (`limit` per request)."""
        cursor = None
        while True:
            page = self.list(filter=filter, sort=sort, fields=fields, include=include, limit=limit, cursor=cursor)
            yield from page.data
            cursor = page.next_cursor
            if not cursor:
                return


class Client(ClientBase):
    """A synchronous Infinity client; `with Client(...) as client:` closes its connections."""

    def __init__(self, api_key: Optional[str] = None, *, base_url: Optional[str] = None,
                 event_hooks: Optional[Dict[str, Any]] = None, http_client: Optional[httpx.Client] = None,
                 **options: Any):
        super().__init__(api_key, base_url=base_url, **options)
        self._http = http_client or httpx.Client(**self._http_options(event_hooks))
        if http_client is not None and not str(http_client.base_url):
            http_client.base_url = self.base_url  # a pool of your own, e.g. with proxies or certificates
        self._refresh_lock = threading.Lock()
        self.models: Models[Model] = Models(self, Model)
        self.webhooks = WebhookResource(self)

    @classmethod
    def login(cls, email: str, password: str, **options: Any) -> "Client":
        """A client signed in as a user (JWT); it refreshes its access token by itself."""
        client = cls(api_key="", **options)
        try:
            answer = client._run(Call.make("POST", "/api/auth/login", parse_json,
                                           json={"email": email, "password": password},
                                           authenticated=False, repeatable=False))
        except BaseException:
            client.close()
            raise
        client.tokens = Tokens(answer["access"], answer["refresh"])
        client.user = answer.get("user")
        return client

    def logout(self) -> None:
        """End the JWT session: the server kills the refresh token."""
        if self.tokens is not None:
            self._run(Call.make("POST", "/api/auth/logout", parse_json, json={"refresh": self.tokens.refresh},
                                authenticated=False, repeatable=False))
            self.tokens = None

    def me(self) -> Dict[str, Any]:
        """The signed-in user (`GET /api/auth/me`)."""
        return self._run(Call.make("GET", "/api/auth/me", parse_json))["data"]

    def health(self) -> Dict[str, Any]:
        return self._run(Call.make("GET", "/api/health", parse_json, authenticated=False))

    def request(self, method: str, path: str, *, params: Any = None, json: Any = _NO_BODY,
                content: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None) -> Any:
        """Any call by path (`/api/...`), with this client's credentials, retries and errors."""
        return self._run(raw_call(method, path, params=params, json=json, content=content, headers=headers))

    def _run(self, call: Call) -> Any:
        """Send a call, retrying as `self.retry` allows; its parsed answer or an exception."""
        attempt, refreshed = 0, False
        while True:
            if call.authenticated and self.tokens is not None and self.tokens.expiring():
                self._refresh(self.tokens.access)
            request = call.build(self._http, self._auth_headers() if call.authenticated else {})
            try:
                response = self._http.send(request)
            except httpx.TransportError as exc:
                delay = self.retry.after_error(exc, call, attempt)
                if delay is None:
                    raise connection_error(exc) from exc
            else:
                if response.status_code == 401 and call.authenticated and self.tokens and not refreshed:
                    refreshed = True  # the access token was refused early: once, with a fresh one
                    self._refresh(request.headers["Authorization"].split(" ", 1)[1])
                    continue
                if response.status_code < 400:
                    return call.parse(response)
                delay = self.retry.after_response(response, call, attempt)
                if delay is None:
                    raise error_from_response(response)
            attempt += 1
            time.sleep(delay)

    def _refresh(self, stale_access: str) -> None:
        with self._refresh_lock:
            if self.tokens is None or self.tokens.access != stale_access:
                return  # another thread refreshed meanwhile
            answer = self._run(Call.make("POST", "/api/auth/refresh", parse_json,
                                         json={"refresh": self.tokens.refresh},
                                         authenticated=False, repeatable=False))
            self.tokens.update(answer["access"], answer.get("refresh"))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
