"""infinity-client: the Python client for Infinity's REST API (records, webhooks, search).

    from infinity_client import Client

    client = Client(api_key="inf_…", base_url="http://127.0.0.1:8000")  # or INFINITY_API_KEY / INFINITY_URL
    jane = client.models.customers.create({"name": "Jane Doe", "status": "active"})
    active = client.models.customers.list(filter={"status": "active"}, sort="created_at:desc")

`AsyncClient` is the same, awaited. Errors are `infinity_client.errors` classes;
`infinity_client.webhooks.verify` checks a delivery's signature.
"""

from . import errors, webhooks
from .async_client import AsyncClient, AsyncModel
from .base import __version__
from .client import Client, Model
from .errors import (APIConnectionError, APIError, APITimeoutError, BadRequest, Conflict, Forbidden, InfinityError,
                     MethodNotAllowed, NotFound, PayloadTooLarge, PreconditionFailed, RateLimited, ServerError,
                     ServiceUnavailable, Unauthorized, UnsupportedMediaType, ValidationError)
from .results import Page, Record

__all__ = [
    "AsyncClient", "AsyncModel", "Client", "Model", "Page", "Record", "errors", "webhooks", "__version__",
    "InfinityError", "APIError", "APIConnectionError", "APITimeoutError", "BadRequest", "ValidationError",
    "Unauthorized", "Forbidden", "NotFound", "MethodNotAllowed", "Conflict", "PreconditionFailed",
    "PayloadTooLarge", "UnsupportedMediaType", "RateLimited", "ServerError", "ServiceUnavailable",
]
