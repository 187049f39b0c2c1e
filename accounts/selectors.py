"""Reads for accounts: API keys listed with what their displays need, in one or two queries."""

from django.db.models import QuerySet

from accounts.models import ApiKey


def apikey_list() -> QuerySet[ApiKey]:
    """Every API key, newest first, with its owner and models loaded (never needs the hash)."""
    return ApiKey.objects.select_related("user").prefetch_related("models").order_by("-created_at", "-id")
