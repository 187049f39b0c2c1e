"""Search: embedding backends, computed vector fields, and vector search."""

from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"

    def ready(self):
        # datamodels never imports search: search plugs its checks into datamodels' hooks.
        from datamodels import services

        from .sources import check_vector_field

        if check_vector_field not in services.FIELD_CHECKS:
            services.FIELD_CHECKS.append(check_vector_field)
