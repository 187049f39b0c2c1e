"""`AsyncClient`: the asyncio twin of `Client`, the same surface awaited.

    async with AsyncClient(api_key="inf_…") as client:
        page = await client.models.customers.list(filter={"status": "active"}, limit=50)
        async for record in client.models.customers.iterate(sort="created_at:desc"):
            ...
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Dict, Optional

import httpx

from .base import ClientBase
from .calls import _NO_BODY, Call, Tokens, connection_error, parse_json, raw_call
from .errors import error_from_response
from .query import FilterArg, SortArg
from .resources import ModelResource, Models, Names, WebhookResource
from .results import Record


class AsyncModel(ModelResource):
    """The records of one data model, for `AsyncClient`: every method is awaited."""

    async def iterate(self, *, filter: FilterArg = None, sort: SortArg = None, fields: Names = None,
                      include: Names = None, limit: Optional[int] = 100) -> AsyncIterator[Record]:
        """Every matching record, fetched page by page by cursor as you go: `async for record in ...`."""
        cursor = None
        while True:
            page = await self.list(filter=filter, sort=sort, fields=fields, include=include, limit=limit,
                                   cursor=cursor)
            for record in page.data:
                yield record
            cursor = page.next_cursor
            if not cursor:
                return


class AsyncClient(ClientBase):
    """An asyncio Infinity client; `async with AsyncClient(...) as client:` closes its connections."""

    def __init__(self, api_key: Optional[str] = None, *, base_url: Optional[str] = None,
                 event_hooks: Optional[Dict[str, Any]] = None, http_client: Optional[httpx.AsyncClient] = None,
                 **options: Any):
        super().__init__(api_key, base_url=base_url, **options)
        self._http = http_client or httpx.AsyncClient(**self._http_options(event_hooks))
        if http_client is not None and not str(http_client.base_url):
            http_client.base_url = self.base_url  # a pool of your own, e.g. with proxies or certificates
        self._refresh_lock: Optional[asyncio.Lock] = None
        self.models: Models[AsyncModel] = Models(self, AsyncModel)
        self.webhooks = WebhookResource(self)

    @classmethod
    async def login(cls, email: str, password: str, **options: Any) -> "AsyncClient":
        """A client signed in as a user (JWT): `client = await AsyncClient.login(email, password)`."""
        client = cls(api_key="", **options)
        try:
            answer = await client._run(Call.make("POST", "/api/auth/login", parse_json,
                                                 json={"email": email, "password": password},
                                                 authenticated=False, repeatable=False))
        except BaseException:
            await client.aclose()
            raise
        client.tokens = Tokens(answer["access"], answer["refresh"])
        client.user = answer.get("user")
        return client

    async def logout(self) -> None:
        if self.tokens is not None:
            await self._run(Call.make("POST", "/api/auth/logout", parse_json,
                                      json={"refresh": self.tokens.refresh}, authenticated=False,
                                      repeatable=False))
            self.tokens = None

    async def me(self) -> Dict[str, Any]:
        return (await self._run(Call.make("GET", "/api/auth/me", parse_json)))["data"]

    async def health(self) -> Dict[str, Any]:
        return await self._run(Call.make("GET", "/api/health", parse_json, authenticated=False))

    async def request(self, method: str, path: str, *, params: Any = None, json: Any = _NO_BODY,
                      content: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None) -> Any:
        """Any call by path (`/api/...`), with this client's credentials, retries and errors."""
        return await self._run(raw_call(method, path, params=params, json=json, content=content, headers=headers))

    async def _run(self, call: Call) -> Any:
        """Send a call, retrying as `self.retry` allows; its parsed answer or an exception."""
        attempt, refreshed = 0, False
        while True:
            if call.authenticated and self.tokens is not None and self.tokens.expiring():
                await self._refresh(self.tokens.access)
            request = call.build(self._http, self._auth_headers() if call.authenticated else {})
            try:
                response = await self._http.send(request)
            except httpx.TransportError as exc:
                delay = self.retry.after_error(exc, call, attempt)
                if delay is None:
                    raise connection_error(exc) from exc
            else:
                if response.status_code == 401 and call.authenticated and self.tokens and not refreshed:
                    refreshed = True  # the access token was refused early: once, with a fresh one
                    await self._refresh(request.headers["Authorization"].split(" ", 1)[1])
                    continue
                if response.status_code < 400:
                    return call.parse(response)
                delay = self.retry.after_response(response, call, attempt)
                if delay is None:
                    raise error_from_response(response)
            attempt += 1
            await asyncio.sleep(delay)

    async def _refresh(self, stale_access: str) -> None:
        if self._refresh_lock is None:
            self._refresh_lock = asyncio.Lock()
        async with self._refresh_lock:
            if self.tokens is None or self.tokens.access != stale_access:
                return  # another task refreshed meanwhile
            answer = await self._run(Call.make("POST", "/api/auth/refresh", parse_json,
                                               json={"refresh": self.tokens.refresh},
                                               authenticated=False, repeatable=False))
            self.tokens.update(answer["access"], answer.get("refresh"))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()
