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
