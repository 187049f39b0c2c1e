"""DRF authentication: `X-API-Key` (our keys) and `Authorization: Bearer` (simplejwt access tokens).

With `ApiKeyAuthentication`, `request.user` is the key's owner and `request.auth` the key.
No header means "not this scheme" (DRF then answers 401 through IsAuthenticated); a header
that does not name a live key is a 401 at once, with a message saying why in general terms.
`BearerAuthentication` is simplejwt's, with failures turned into plain-sentence 401s.
"""

from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts.services import apikey_authenticate
from infinity.exceptions import Unauthorized

HEADER = "HTTP_X_API_KEY"
INVALID_TOKEN = "Invalid or expired access token"


def _anonymous(request) -> None:
    # DRF marks the request anonymous only for its own APIException; do it for ours
    # too, so nothing downstream re-runs authentication or sees a session user.
    request.user, request.auth = AnonymousUser(), None


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticates a request by the raw API key in its `X-API-Key` header."""

    def authenticate(self, request):
        raw = request.META.get(HEADER)
        if raw is None:
            return None
        try:
            key = apikey_authenticate(raw.strip())
        except Unauthorized:
            _anonymous(request)
            raise
        return key.user, key

    def authenticate_header(self, request):
        # Any value makes DRF answer 401 rather than 403 to unauthenticated requests.
        return 'ApiKey realm="api"'


class BearerAuthentication(JWTAuthentication):
    """`Authorization: Bearer <access token>`; a bad, expired or refresh token is a 401 that says so."""

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except InvalidToken:
            # simplejwt's detail is a dict naming token classes; one sentence is enough.
            _anonymous(request)
            raise Unauthorized(INVALID_TOKEN) from None
        except AuthenticationFailed as exc:  # inactive or deleted user, malformed header
            _anonymous(request)
            detail = exc.detail.get("detail") if isinstance(exc.detail, dict) else exc.detail
            raise Unauthorized(str(detail or INVALID_TOKEN)) from None
