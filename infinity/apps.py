"""The project app: owns the pgvector extension migration and database connection setup."""

from django.apps import AppConfig
from django.db.backends.signals import connection_created


class InfinityConfig(AppConfig):
    name = "infinity"
    verbose_name = "Infinity"

    def ready(self):
        from .timestamps import use_fast_loader

        connection_created.connect(use_fast_loader, dispatch_uid="infinity-fast-timestamptz")
