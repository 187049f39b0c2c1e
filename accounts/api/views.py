"""Accounts endpoints under /api/auth/: users with JWTs, who the caller is, and their API keys.

Each view's `extend_schema` documents it in `/api/schema`: bodies with the shapes of
`accounts.api.serializers`, errors with `error_responses_for` (the shared envelope).
"""

from django.conf import settings
from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services, users
from accounts.api.serializers import (
    ApiKeyCreatedSerializer, ApiKeyCreateRequestSerializer, ApiKeyListSerializer, ApiKeyRevokedSerializer,
    ApiKeySerializer, LoginRequestSerializer, LogoutResponseSerializer, RefreshRequestSerializer,
    SessionSerializer, SignupRequestSerializer, TokenPairSerializer, UserResponseSerializer, UserSerializer,
)
from accounts.models import ApiKey
from accounts.ratelimits import AuthRateLimited, RateLimited
from infinity.exceptions import BadRequest, Forbidden, NotFound
from infinity.openapi import error_responses_for, link, response_links

TAGS = ["auth"]
# An API key authenticates on the keys endpoints, but lacks the right to manage keys: a valid
# credential without the right is 403 (SPEC §4), so both schemes are documented, with the 403.
KEYS_NEED_A_TOKEN = "Needs an access token: an API key is refused with 403 `FORBIDDEN`."
PER_IP_AUTH = "Counted per client IP at `INFINITY_AUTH_RATE_LIMIT` (default `5/m`), against password guessing."
PER_IP = "Counted per client IP at the general `INFINITY_RATE_LIMIT`."


# A session's or a refresh's tokens feed the next refresh or logout; a new key's prefix its revocation.
_WITH_REFRESH = {"body": {"refresh": "$response.body#/refresh"}}
for _operation_id, _status in (("auth_signup", 201), ("auth_login", 200), ("auth_refresh", 200)):
    response_links(_operation_id, _status, Refresh=link("auth_refresh", **_WITH_REFRESH),
                   Logout=link("auth_logout", **_WITH_REFRESH))
response_links("auth_keys_create", 201,
               Revoke=link("auth_keys_revoke", parameters={"prefix": "$response.body#/data/prefix"}))


def body_of(request) -> dict:
    if not isinstance(request.data, dict):
        raise BadRequest("The body must be a JSON object")
    return request.data


def secret_response(data: dict, status: int = 200) -> Response:
    """A response carrying tokens or a raw key: no cache (browser or proxy) may keep it."""
    response = Response(data, status=status)
    add_never_cache_headers(response)
    return response


class SignupView(APIView):
    """`POST /api/auth/signup`: create a user and log them in."""

    authentication_classes = []
    permission_classes = [AuthRateLimited, AllowAny]

    @extend_schema(
        operation_id="auth_signup", summary="Sign up", tags=TAGS, request=SignupRequestSerializer,
        description="Creates a user, with no data-model permissions until granted, and logs them in. " + PER_IP_AUTH,
        responses={201: OpenApiResponse(SessionSerializer, "The new user and their tokens."),
                   **error_responses_for(400, 409, 413, 415, 429)},
    )
    def post(self, request):
        data = body_of(request)
        user = users.user_signup(email=data.get("email"), password=data.get("password"), name=data.get("name"))
        return secret_response({"user": UserSerializer(user).data, **users.tokens_for(user)}, status=201)


class LoginView(APIView):
    """`POST /api/auth/login`: email and password for an access and a refresh token."""

    authentication_classes = []
    permission_classes = [AuthRateLimited, AllowAny]

    @extend_schema(
        operation_id="auth_login", summary="Log in", tags=TAGS, request=LoginRequestSerializer,
        description="A wrong email or password (or an inactive user) is the same 401. " + PER_IP_AUTH,
        responses={200: OpenApiResponse(SessionSerializer, "The user and their tokens."),
                   **error_responses_for(400, 401, 413, 415, 429)},
    )
    def post(self, request):
        data = body_of(request)
        user = users.user_login(email=data.get("email"), password=data.get("password"))
        return secret_response({"user": UserSerializer(user).data, **users.tokens_for(user)})


class RefreshView(APIView):
    """`POST /api/auth/refresh`: a new access token; the refresh token is rotated."""

    # No password is guessed here (a refresh token is a signed secret), so the general
    # per-IP limit applies, not the tight login one: many users behind one NAT refresh.
    authentication_classes = []
    permission_classes = [RateLimited, AllowAny]

    @extend_schema(
        operation_id="auth_refresh", summary="Refresh the access token", tags=TAGS, request=RefreshRequestSerializer,
        description="A new access token and a new refresh token; the one sent stops working. " + PER_IP,
        responses={200: OpenApiResponse(TokenPairSerializer, "The new token pair."),
                   **error_responses_for(400, 401, 413, 415, 429)},
    )
    def post(self, request):
        return secret_response(users.token_refresh(refresh=body_of(request).get("refresh")))


class LogoutView(APIView):
    """`POST /api/auth/logout`: the given refresh token stops working."""

    authentication_classes = []
    permission_classes = [RateLimited, AllowAny]

    @extend_schema(
        operation_id="auth_logout", summary="Log out", tags=TAGS, request=RefreshRequestSerializer,
        description="The refresh token sent stops working; access tokens run out on their own. " + PER_IP,
        responses={200: OpenApiResponse(LogoutResponseSerializer, "Logged out."),
                   **error_responses_for(400, 401, 413, 415, 429)},
    )
    def post(self, request):
        users.token_logout(refresh=body_of(request).get("refresh"))
        return Response({"success": True})


class MeView(APIView):
    """`GET /api/auth/me`: the authenticated user, as `{"data": {...}}`."""

    @extend_schema(
        operation_id="auth_me", summary="Who am I", tags=TAGS,
        description="The user behind the API key or access token.",
        responses={200: OpenApiResponse(UserResponseSerializer, "The caller."),
                   **error_responses_for(401, 429)},
    )
    def get(self, request):
        return Response({"data": UserSerializer(request.user).data})


class KeysPermission(IsAuthenticated):
    """Keys are managed by logged-in users; an API key cannot mint or revoke keys."""

    def has_permission(self, request, view):
        if isinstance(request.auth, ApiKey):
            raise Forbidden("API keys cannot manage API keys: log in and use an access token")
        return super().has_permission(request, view)


def may_raise_rate_limits(user) -> bool:
    """Whoever may create keys in the admin may give one a looser limit than the default."""
    return user.is_staff and user.has_perm("accounts.add_apikey")


class KeyListView(APIView):
    """`GET /api/auth/keys` lists the caller's keys; `POST` creates one and shows it once."""

    permission_classes = [RateLimited, KeysPermission]

    @extend_schema(
        operation_id="auth_keys_list", summary="List my API keys", tags=TAGS,
        description="Every key of the caller, revoked and expired ones included; never a raw key or its hash. "
                    + KEYS_NEED_A_TOKEN,
        responses={200: OpenApiResponse(ApiKeyListSerializer, "The caller's keys."),
                   **error_responses_for(401, 403, 429)},
    )
    def get(self, request):
        keys = ApiKey.objects.filter(user=request.user).prefetch_related("models")
        return Response({"data": ApiKeySerializer(keys, many=True).data})

    @extend_schema(
        operation_id="auth_keys_create", summary="Create an API key", tags=TAGS,
        request=ApiKeyCreateRequestSerializer,
        description="The answer carries the raw key, this once. A key never does more than its owner may. "
                    + KEYS_NEED_A_TOKEN,
        responses={201: OpenApiResponse(ApiKeyCreatedSerializer, "The new key, with its raw value."),
                   **error_responses_for(400, 401, 403, 413, 415, 429)},
    )
    def post(self, request):
        data = body_of(request)
        key, raw = services.apikey_create(
            user=request.user, name=data.get("name"), scopes=data.get("scopes"), models=data.get("models"),
            rate_limit=data.get("rate_limit"), expires_days=data.get("expires_days"),
            rate_ceiling=None if may_raise_rate_limits(request.user) else settings.INFINITY["RATE_LIMIT"],
        )
        return secret_response({"data": {**ApiKeySerializer(key).data, "key": raw}}, status=201)


class KeyDetailView(APIView):
    """`DELETE /api/auth/keys/{prefix}`: revoke one of the caller's keys."""

    permission_classes = [RateLimited, KeysPermission]

    @extend_schema(
        operation_id="auth_keys_revoke", summary="Revoke an API key", tags=TAGS,
        parameters=[OpenApiParameter("prefix", str, OpenApiParameter.PATH, description="The key's prefix, "
                                     "e.g. `inf_ab12cd34`.")],
        description="The key is refused (401) from then on (by other server processes within "
                    "`INFINITY_KEY_CACHE_SECONDS`); revoking it again is harmless. Another user's key, or an unknown "
                    "prefix, is 404. " + KEYS_NEED_A_TOKEN,
        responses={200: OpenApiResponse(ApiKeyRevokedSerializer, "Revoked."),
                   **error_responses_for(401, 403, 404, 429)},
    )
    def delete(self, request, prefix):
        # PostgreSQL cannot compare text holding NUL (a DataError, so a 400); such a prefix names no key.
        if "\x00" in prefix or not ApiKey.objects.filter(user=request.user, prefix=prefix).exists():
            raise NotFound("No such API key")
        services.apikey_revoke(prefix=prefix)
        return Response({"success": True, "message": "API key revoked"})
