"""Accounts endpoints under /api/auth/: users with JWTs, who the caller is, and their API keys."""

from django.conf import settings
from django.utils.cache import add_never_cache_headers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services, users
from accounts.api.serializers import ApiKeySerializer, UserSerializer
from accounts.models import ApiKey
from accounts.ratelimits import AuthRateLimited, RateLimited
from infinity.exceptions import BadRequest, Forbidden, NotFound


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

    def post(self, request):
        data = body_of(request)
        user = users.user_signup(email=data.get("email"), password=data.get("password"), name=data.get("name"))
        return secret_response({"user": UserSerializer(user).data, **users.tokens_for(user)}, status=201)


class LoginView(APIView):
    """`POST /api/auth/login`: email and password for an access and a refresh token."""

    authentication_classes = []
    permission_classes = [AuthRateLimited, AllowAny]

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

    def post(self, request):
        return secret_response(users.token_refresh(refresh=body_of(request).get("refresh")))


class LogoutView(APIView):
    """`POST /api/auth/logout`: the given refresh token stops working."""

    authentication_classes = []
    permission_classes = [RateLimited, AllowAny]

    def post(self, request):
        users.token_logout(refresh=body_of(request).get("refresh"))
        return Response({"success": True})


class MeView(APIView):
    """`GET /api/auth/me`: the authenticated user, as `{"data": {...}}`."""

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

    def get(self, request):
        keys = ApiKey.objects.filter(user=request.user).prefetch_related("models")
        return Response({"data": ApiKeySerializer(keys, many=True).data})

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

    def delete(self, request, prefix):
        if not ApiKey.objects.filter(user=request.user, prefix=prefix).exists():
            raise NotFound("No such API key")
        services.apikey_revoke(prefix=prefix)
        return Response({"success": True, "message": "API key revoked"})
