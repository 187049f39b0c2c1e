"""Search: embedding backends, computed vector fields, and vector search."""

from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"

    def ready(self):
        # datamodels never imports search: search plugs its checks into datamodels' hooks.
        from datamodels import services
        from datamodels.api import openapi
        from infinity import background

        from .api.openapi import search_paths
        from .sources import check_vector_field
        from .worker import start

        if check_vector_field not in services.FIELD_CHECKS:
            services.FIELD_CHECKS.append(check_vector_field)
        openapi.register_model_paths(search_paths)
        background.register("search", start)  # the embedding worker of `manage.py serve`
