"""Accounts endpoints under /api/auth/: who the caller is."""

from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import UserSerializer


class MeView(APIView):
    """`GET /api/auth/me`: the authenticated user, as `{"data": {...}}`."""

    def get(self, request):
        return Response({"data": UserSerializer(request.user).data})
