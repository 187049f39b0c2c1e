"""Search: embedding backends and vector search (not built yet)."""

from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
