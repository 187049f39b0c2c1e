"""The project app: owns the pgvector extension migration and database connection setup."""

from django.apps import AppConfig
from django.core.signals import request_finished, request_started
from django.db.backends.signals import connection_created


class InfinityConfig(AppConfig):
    name = "infinity"
    verbose_name = "Infinity"

    def ready(self):
        from . import prefetch
        from .timestamps import use_fast_loader

        connection_created.connect(use_fast_loader, dispatch_uid="infinity-fast-timestamptz")
        # Rows read ahead for a request never serve another one.
        request_started.connect(prefetch.reset, dispatch_uid="infinity-prefetch-start")
        request_finished.connect(prefetch.reset, dispatch_uid="infinity-prefetch-finish")
