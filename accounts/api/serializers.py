"""Representations of accounts objects in the API."""

from rest_framework import serializers


class UserSerializer(serializers.Serializer):
    """A user as `GET /api/auth/me` shows it: id, email, display name, staff flag."""

    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)
    name = serializers.SerializerMethodField()
    is_staff = serializers.BooleanField(read_only=True)

    def get_name(self, user) -> str:
        return user.get_full_name() or user.get_username()


class ApiKeySerializer(serializers.Serializer):
    """An API key as its owner sees it: never the hash, the raw key only at creation."""

    prefix = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    scopes = serializers.ListField(child=serializers.CharField(), read_only=True)
    models = serializers.SerializerMethodField()
    rate_limit = serializers.CharField(source="effective_rate_limit", read_only=True)
    expires_at = serializers.DateTimeField(read_only=True)
    revoked_at = serializers.DateTimeField(read_only=True)
    last_used_at = serializers.DateTimeField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)

    def get_models(self, key) -> list[str]:
        return sorted(m.name for m in key.models.all())
