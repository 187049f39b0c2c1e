"""Search endpoints: `/api/public/data/{model}/search` (GET with `query`, POST with a
vector) and `/api/public/data/{model}/{id}/similar`.

Access is checked as for reading records (the `read` scope, the model's view
permission, and view access to any model reached through `include` or a filter).
"""

from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import APIView

from datamodels.api.views import RECORD_PERMISSIONS, resolve
from infinity.exceptions import BadRequest

from .. import selectors
from ..query import parse_search


class SearchView(APIView):
    """Semantic (or hybrid) search over a model's vector field."""

    permission_classes = RECORD_PERMISSIONS
    action_for = {"POST": "view"}  # a search by vector reads, whatever its method

    def get(self, request, model):
        schema, entry = resolve(request, model)
        query = parse_search(entry, schema, request.query_params)
        return Response({"data": selectors.search(entry, schema, query)})

    def post(self, request, model):
        schema, entry = resolve(request, model)
        if not isinstance(request.data, dict):
            raise BadRequest("The body must be a JSON object")
        query = parse_search(entry, schema, request.query_params, request.data)
        return Response({"data": selectors.search(entry, schema, query)})


class SimilarView(APIView):
    """The records most like one record, by its own vector."""

    permission_classes = RECORD_PERMISSIONS

    def get(self, request, model, record_id):
        schema, entry = resolve(request, model)
        query = parse_search(entry, schema, request.query_params, need_query=False, default_threshold=0.0)
        return Response({"data": selectors.similar(entry, schema, record_id, query)})
