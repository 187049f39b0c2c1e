"""Content negotiation: DRF's, with a shortcut for what nearly every API client sends.

No `Accept` header, `*/*` or exactly the first renderer's media type (JSON) picks the
first renderer, as DRF's own rules would, without parsing and ranking media types on
every request; anything else (`text/html`, `?format=`, quality values) goes to DRF.
"""

from rest_framework.negotiation import DefaultContentNegotiation


class JSONFirstNegotiation(DefaultContentNegotiation):
    """`DefaultContentNegotiation`, answered at once for the common `Accept` values."""

    def select_renderer(self, request, renderers, format_suffix=None):
        accept = request.META.get("HTTP_ACCEPT") or "*/*"
        first = renderers[0]
        if (accept == "*/*" or accept == first.media_type) and not format_suffix \
                and self.settings.URL_FORMAT_OVERRIDE not in request.query_params:
            return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
