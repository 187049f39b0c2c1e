"""`X-API-Key` authentication for DRF: `request.user` is the key's owner, `request.auth` the key.

No header means "not this scheme" (DRF then answers 401 through IsAuthenticated); a header
that does not name a live key is a 401 at once, with a message saying why in general terms.
"""

from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication

from accounts.services import apikey_authenticate
from infinity.exceptions import Unauthorized

HEADER = "HTTP_X_API_KEY"


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticates a request by the raw API key in its `X-API-Key` header."""

    def authenticate(self, request):
        raw = request.META.get(HEADER)
        if raw is None:
            return None
        try:
            key = apikey_authenticate(raw.strip())
        except Unauthorized:
            # DRF marks the request anonymous only for its own APIException; do it for ours
            # too, so nothing downstream re-runs authentication or sees a session user.
            request.user, request.auth = AnonymousUser(), None
            raise
        return key.user, key

    def authenticate_header(self, request):
        # Any value makes DRF answer 401 rather than 403 to unauthenticated requests.
        return 'ApiKey realm="api"'
