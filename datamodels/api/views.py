"""The records API: `/api/public/data/{model}` and `/api/public/data/{model}/{id}`.

Views parse the request, call selectors/services and render; nothing else.
"""

from __future__ import annotations

from django.db import transaction
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import DataModelAccess
from accounts.ratelimits import RateLimited
from infinity.exceptions import BadRequest, NotFound, PreconditionFailed

from .. import lists, records, selectors
from ..dynamic import (confirm_schema, is_trusted, on_current_schema, prefetch_schema, recheck_schema,
                       request_schema, trust_cached_schema)
from ..fieldtypes.scalars import parse_datetime
from ..idempotency import idempotent
from ..query import parse_fields, parse_include


RECORD_PERMISSIONS = [RateLimited, IsAuthenticated, DataModelAccess]


def resolve(request, model: str):
    schema = request_schema(request)
    entry = schema.get(model)
    if entry is None:
        raise NotFound(f'Unknown model "{model}"')
    return schema, entry


def caller_of(request) -> str:
    prefix = getattr(request.auth, "prefix", None)
    return f"key:{prefix}" if prefix else f"user:{request.user.pk}"


def _matches(header: str | None, etag: str, *, weak: bool) -> bool:
    """RFC 9110: If-None-Match compares weakly (`W/"x"` matches `"x"`), If-Match strongly."""
    if header is None:
        return True
    tags = [tag.strip() for tag in header.split(",")]
    if weak:
        tags = [tag.removeprefix("W/") for tag in tags]
    return header.strip() == "*" or etag in tags


def _created(body: dict, status: int) -> Response:
    """A create's response; one record gets the ETag its GET would carry (replays included)."""
    response = Response(body, status=status)
    data = body.get("data")
    if isinstance(data, dict):
        response["ETag"] = selectors.etag_for(data["id"], parse_datetime(data["updated_at"]))
    return response


class RecordsAPIView(APIView):
    """Base of the records views: queues the request's reads before anything runs."""

    permission_classes = RECORD_PERMISSIONS
    guess = None  # what `read_ahead` worked out, for the handler to reuse

    def initial(self, request, *args, **kwargs):
        # Queued reads ride with the request's first statement, the rate-limit count; they
        # are guessed from the schema cached so far, which the stamp read with them checks.
        # A request trusting its schema reads no stamp: its writes check it.
        if not is_trusted(request):
            schema = prefetch_schema()
            entry = schema.get(kwargs["model"]) if schema is not None else None
            if entry is not None and request.method == "GET":
                self.guess = self.read_ahead(entry, schema, request.query_params, **kwargs)
        super().initial(request, *args, **kwargs)

    def read_ahead(self, entry, schema, params, **kwargs):
        raise NotImplementedError

    @property
    def default_response_headers(self):
        # `Allow` on OPTIONS (and on a 405, from the error handler), not on every answer.
        return super().default_response_headers if self.request.method == "OPTIONS" else {}


class RecordListView(RecordsAPIView):
    """List records of a model, or create one (object body) or many (array body)."""

    def initial(self, request, *args, **kwargs):
        if request.method == "POST":
            trust_cached_schema(request)  # creates check the schema in their INSERTs
        super().initial(request, *args, **kwargs)

    def read_ahead(self, entry, schema, params, **kwargs):
        return lists.prefetch_list(entry, schema, params)

    def get(self, request, model):
        schema, entry = resolve(request, model)
        page = lists.record_list(entry, schema, request.query_params, guess=self.guess)
        return Response({"data": page.data, "pagination": page.pagination})

    def post(self, request, model):
        data = request.data
        key = request.headers.get("Idempotency-Key")

        def access_again():  # on a newer schema: access again, not the rate limit
            DataModelAccess().has_permission(request, self)

        if key is not None and recheck_schema(request):
            access_again()  # a replay writes nothing, so no INSERT would check its schema
        return on_current_schema(request, lambda: self._post(request, model, data, key), on_moved=access_again)

    def _post(self, request, model, data, key):
        schema, entry = resolve(request, model)
        if key is None:
            status, body = self._create(request, entry, schema, data)
            return _created(body, status)
        status, body, replayed = idempotent(
            caller=caller_of(request), scope=f"records:{entry.name}", key=key, data=data,
            action=lambda: self._create(request, entry, schema, data),
        )
        response = _created(body, status)
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response

    def _create(self, request, entry, schema, data) -> tuple[int, dict]:
        stamp = schema.stamp
        if isinstance(data, list):
            created = records.records_create_bulk(entry=entry, items=data, stamp=stamp)
        elif isinstance(data, dict):
            created = [records.record_create(entry=entry, data=data, stamp=stamp)]
        else:
            raise BadRequest("The body must be a JSON object, or an array of objects")
        confirm_schema(request)  # written, on a current schema: nothing after this is tried again
        rendered = selectors.records_written(entry, schema, created)
        return 201, {"data": rendered if isinstance(data, list) else rendered[0]}


class RecordDetailView(RecordsAPIView):
    """Read, replace, update or delete one record; ETags guard concurrent writers."""

    def read_ahead(self, entry, schema, params, *, record_id, **kwargs):
        selectors.prefetch_record(entry, schema, record_id, params)

    def get(self, request, model, record_id):
        schema, entry = resolve(request, model)
        params = request.query_params
        body, etag = selectors.record_get(
            entry, schema, record_id,
            fields=parse_fields(entry, params.get("fields")),
            include=parse_include(entry, schema, params.get("include")),
        )
        if_none = request.headers.get("If-None-Match")
        if if_none is not None and _matches(if_none, etag, weak=True):
            response = Response(status=304)
        else:
            response = Response({"data": body})
        response["ETag"] = etag
        return response

    def put(self, request, model, record_id):
        return self._update(request, model, record_id, partial=False)

    def patch(self, request, model, record_id):
        return self._update(request, model, record_id, partial=True)

    def _update(self, request, model, record_id, *, partial):
        schema, entry = resolve(request, model)
        # No body reads as `{}`, which PUT refuses for a required field; a PATCH without one changes
        # nothing, so it is refused as the mistake it is (`{}` is the way to ask for nothing).
        if partial and not int(request.META.get("CONTENT_LENGTH") or 0):
            raise BadRequest("A PATCH needs a body: a JSON object of the fields to change")
        if not isinstance(request.data, dict):
            raise BadRequest("The body must be a JSON object")
        with transaction.atomic():
            record = self._locked(request, entry, record_id)
            records.record_update(entry=entry, record=record, data=request.data, partial=partial)
        body, etag = selectors.record_get(entry, schema, record_id)
        return Response({"data": body}, headers={"ETag": etag})

    def delete(self, request, model, record_id):
        schema, entry = resolve(request, model)
        with transaction.atomic():
            record = self._locked(request, entry, record_id)
            records.record_delete(entry=entry, record=record)
        return Response({"success": True, "message": "Record deleted successfully"})

    def _locked(self, request, entry, record_id):
        """The record, locked for this transaction, after checking If-Match."""
        record = selectors.record_queryset(entry, record_id).select_for_update().first()
        if record is None:
            raise NotFound("Record not found")
        etag = selectors.etag_for(record.pk, record.updated_at)
        if not _matches(request.headers.get("If-Match"), etag, weak=False):
            raise PreconditionFailed("The record has changed since you read it (ETag mismatch)")
        return record
