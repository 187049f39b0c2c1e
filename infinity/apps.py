"""The project app: owns the pgvector extension migration."""

from django.apps import AppConfig


class InfinityConfig(AppConfig):
    name = "infinity"
    verbose_name = "Infinity"
