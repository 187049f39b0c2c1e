"""The API's resources, written once for both clients: records of a data model, and webhooks.

Each method plans a `Call` and hands it to the client's `_run`. On `Client`, `_run`
sends it and returns the result; on `AsyncClient` it returns a coroutine, so the same
method is awaited there (`await client.models.customers.get(id)`). Only `iterate`
differs (a generator or an async generator) and lives in each client's module.
"""

from __future__ import annotations

from typing import Any, Dict, Generic, Iterable, Mapping, Optional, Sequence, TypeVar, Union
from urllib.parse import quote

from .calls import _NO_BODY, Call, parse_created, parse_json, parse_page, parse_record, parse_records
from .calls import idempotency_key as new_idempotency_key
from .query import FilterArg, SortArg, list_params

RECORDS = "/api/public/data"
WEBHOOKS = "/api/webhooks"
Names = Union[None, str, Iterable[str]]


def segment(value: Any) -> str:
    """A model name or id as one URL path segment (`/` and friends escaped)."""
    return quote(str(value), safe="")


def if_match(etag: Any) -> Optional[str]:
    """`etag=` may be the ETag text or a `Record` read earlier (its `.etag` is used)."""
    return getattr(etag, "etag", etag)


class ModelResource:
    """The records of one data model: `client.models.customers` or `client.models["customers"]`."""

    def __init__(self, client: Any, name: str):
        self._client = client
        self.name = name
        self.path = f"{RECORDS}/{segment(name)}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def list(self, *, filter: FilterArg = None, sort: SortArg = None, fields: Names = None,
             include: Names = None, page: Optional[int] = None, limit: Optional[int] = None,
             cursor: Optional[str] = None):
        """One page: a `Page` with `.data` (records) and `.pagination` (page, limit, total, pages,
        next_cursor). Pass `cursor=page.next_cursor` to go on by keyset pagination."""
        params = list_params(filter=filter, sort=sort, fields=fields, include=include,
                             page=page, limit=limit, cursor=cursor)
        return self._client._run(Call.make("GET", self.path, parse_page, params=params))

    def get(self, record_id: str, *, fields: Names = None, include: Names = None):
        """One record; its `.etag` can be given back as `etag=` to a later write."""
        params = list_params(fields=fields, include=include)
        return self._client._run(Call.make("GET", self._record(record_id), parse_record, params=params))

    def create(self, data: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]], *,
               idempotency_key: Optional[str] = None):
        """Create one record (a dict) or several in one transaction (a list: bulk, up to 1,000).

        Sent with an `Idempotency-Key` (generated once per call unless given), so a
        create retried after a lost answer never writes twice."""
        body = data if isinstance(data, Mapping) else list(data)
        key = idempotency_key or new_idempotency_key()
        call = Call.make("POST", self.path, parse_created, json=body, headers={"Idempotency-Key": key})
        return self._client._run(call)

    def update(self, record_id: str, data: Mapping[str, Any], *, etag: Any = None):
        """Change the given fields (PATCH); with `etag=`, only if the record is unchanged since."""
        return self._write("PATCH", record_id, data, etag)

    def replace(self, record_id: str, data: Mapping[str, Any], *, etag: Any = None):
        """Replace the whole record (PUT): omitted optional fields go back to their defaults."""
        return self._write("PUT", record_id, data, etag)

    def delete(self, record_id: str, *, etag: Any = None):
        """Delete a record; answers `{"success": True, "message": ...}`."""
        headers = {"If-Match": if_match(etag)}
        return self._client._run(Call.make("DELETE", self._record(record_id), parse_json, headers=headers))

    def search(self, query: Optional[str] = None, *, vector: Optional[Sequence[float]] = None,
               limit: Optional[int] = None, threshold: Optional[float] = None, filter: FilterArg = None,
               fields: Names = None, include: Names = None, field: Optional[str] = None,
               mode: Optional[str] = None):
        """Semantic search, most similar first; each record carries `similarity`.

        By text (`query`, embedded by the server) or by a raw `vector` (sent as POST)."""
        if (query is None) == (vector is None):
            raise TypeError("search() takes a query or a vector, exactly one of them")
        params = list_params(filter=filter, fields=fields, include=include, field=field, mode=mode)
        path = f"{self.path}/search"
        if vector is None:
            params += list_params(query=query, limit=limit, threshold=threshold)
            return self._client._run(Call.make("GET", path, parse_records, params=params))
        body: Dict[str, Any] = {"vector": list(vector)}
        body.update({k: v for k, v in (("limit", limit), ("threshold", threshold)) if v is not None})
        return self._client._run(Call.make("POST", path, parse_records, json=body, params=params))

    def similar(self, record_id: str, *, limit: Optional[int] = None):
        """The records nearest to this record's own vector."""
        params = list_params(limit=limit)
        call = Call.make("GET", f"{self._record(record_id)}/similar", parse_records, params=params)
        return self._client._run(call)

    def _write(self, method: str, record_id: str, data: Mapping[str, Any], etag: Any):
        call = Call.make(method, self._record(record_id), parse_record, json=dict(data),
                         headers={"If-Match": if_match(etag)})
        return self._client._run(call)

    def _record(self, record_id: str) -> str:
        return f"{self.path}/{segment(record_id)}"



M = TypeVar("M", bound=ModelResource)


class Models(Generic[M]):
    """`client.models`: each attribute or item is a data model's records by its name."""

    def __init__(self, client: Any, resource: type):
        self._client = client
        self._resource = resource
        self._cache: Dict[str, M] = {}

    def __getitem__(self, name: str) -> M:
        if name not in self._cache:
            self._cache[name] = self._resource(self._client, name)
        return self._cache[name]

    def __getattr__(self, name: str) -> M:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]


class WebhookResource:
    """`client.webhooks`: the webhook endpoints (`/api/webhooks`), for keys with the `webhooks` scope."""

    def __init__(self, client: Any):
        self._client = client

    def list(self, *, page: Optional[int] = None, limit: Optional[int] = None):
        params = list_params(page=page, limit=limit)
        return self._client._run(Call.make("GET", WEBHOOKS, parse_page, params=params))

    def create(self, url: str, events: Iterable[str], *, models: Optional[Iterable[str]] = None,
               secret: Optional[str] = None, active: Optional[bool] = None,
               description: Optional[str] = None, fields: Optional[Iterable[str]] = None):
        """A new webhook; its `secret` is in this answer only (and on rotation): keep it."""
        body: Dict[str, Any] = {"url": url, "events": list(events)}
        optional = {"models": models, "secret": secret, "active": active, "description": description,
                    "fields": fields}
        for name, value in optional.items():
            if value is not None:
                body[name] = value if isinstance(value, (str, bool)) else list(value)
        # Not repeatable: without an idempotency promise from the server a retry could add a twin.
        return self._client._run(Call.make("POST", WEBHOOKS, parse_record, json=body, repeatable=False))

    def get(self, webhook_id: Any):
        return self._client._run(Call.make("GET", self._one(webhook_id), parse_record))

    def update(self, webhook_id: Any, **changes: Any):
        """PATCH: e.g. `update(id, active=False)` or `update(id, events=["record.created"])`."""
        return self._client._run(Call.make("PATCH", self._one(webhook_id), parse_record, json=changes))

    def delete(self, webhook_id: Any):
        return self._client._run(Call.make("DELETE", self._one(webhook_id), parse_json))

    def test(self, webhook_id: Any):
        """Send a `ping` delivery now; answers the delivery (202)."""
        return self._client._run(Call.make("POST", f"{self._one(webhook_id)}/test", parse_record,
                                           repeatable=False))

    def deliveries(self, webhook_id: Any, *, status: Optional[str] = None, page: Optional[int] = None,
                   limit: Optional[int] = None):
        """A webhook's deliveries, newest first, each with its `attempts` (a `Page`);
        `status`: only "pending", "delivered" or "failed" ones."""
        params = list_params(status=status, page=page, limit=limit)
        return self._client._run(Call.make("GET", f"{self._one(webhook_id)}/deliveries", parse_page,
                                           params=params))

    def rotate_secret(self, webhook_id: Any, *, secret: Optional[str] = None):
        """A new secret (generated, or yours) in the answer, with `previous_secret_expires_at`:
        until then deliveries carry a signature by the old secret too."""
        body = {"secret": secret} if secret is not None else _NO_BODY
        return self._client._run(Call.make("POST", f"{self._one(webhook_id)}/rotate-secret", parse_record,
                                           json=body, repeatable=False))

    def resend(self, delivery_id: Any):
        """Deliver an event again, now, under the same delivery id; answers the delivery (202)."""
        return self._client._run(Call.make("POST", f"{WEBHOOKS}/deliveries/{segment(delivery_id)}/resend",
                                           parse_record, repeatable=False))

    def _one(self, webhook_id: Any) -> str:
        return f"{WEBHOOKS}/{segment(webhook_id)}"
