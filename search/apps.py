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
        if search_paths not in openapi.MODEL_PATH_HOOKS:
            openapi.MODEL_PATH_HOOKS.append(search_paths)
        openapi.ERRORS.setdefault("503", ("ServiceUnavailable", "`SERVICE_UNAVAILABLE`: the embedding backend is "
                                                                "down or did not answer in time."))
        background.register("search", start)  # the embedding worker of `manage.py serve`
