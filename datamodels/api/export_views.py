"""`GET /api/public/data/{model}/export`: a model's records as one streamed CSV, JSON Lines or JSON file.

Access is a list's (read scope, view permission, and view on models reached by dotted
filters); `filter`, `sort` and `fields` are the list grammar. The body streams from
PostgreSQL's COPY (`datamodels.transfer.exports`) in constant memory; errors found
before the first byte (a bad parameter) get the usual envelope.
"""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.utils import timezone
from rest_framework.views import APIView

from infinity.exceptions import ValidationFailed

from ..transfer.exports import CONTENT_TYPES, export_plan, filename, stream
from .views import RECORD_PERMISSIONS, resolve


class RecordExportView(APIView):
    """Stream every record of a model (or those the filters keep) as a file download."""

    permission_classes = RECORD_PERMISSIONS

    def perform_content_negotiation(self, request, force=False):
        # `format` names the file format here, not a DRF renderer: errors are JSON whatever it says.
        renderer = self.get_renderers()[0]
        return renderer, renderer.media_type

    def get(self, request, model):
        schema, entry = resolve(request, model)
        fmt = request.query_params.get("format") or "csv"
        if fmt not in CONTENT_TYPES:
            raise ValidationFailed("Invalid query parameter", details=[
                {"field": "format", "message": f"Must be one of: {', '.join(CONTENT_TYPES)}"}])
        plan = export_plan(entry, schema, request.query_params, fmt)
        response = StreamingHttpResponse(stream(plan), content_type=CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="{filename(entry, fmt, timezone.now())}"'
        response["Cache-Control"] = "no-store"
        return response
