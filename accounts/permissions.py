"""Who may touch which data model: API-key scopes and model lists, and users' Django permissions.

A request is allowed only when both hold: the key (if any) has the scope and may touch
the model, and its owner (or the JWT user) has the Django permission — so a key never
does more than its owner may. Models reached through `include=` or a dotted filter
need view access too, so no relation leaks a model the caller cannot read.
"""

from rest_framework.permissions import BasePermission

from accounts.models import ApiKey
from datamodels.dynamic import recheck_schema, request_schema
from datamodels.permissions import permission_name
from infinity.exceptions import Forbidden

ACTIONS = {"GET": "view", "HEAD": "view", "OPTIONS": "view", "POST": "add", "PUT": "change", "PATCH": "change",
           "DELETE": "delete"}
SCOPES = {"view": "read", "add": "write", "change": "write", "delete": "delete"}


def require_access(request, data_model, action: str) -> None:
    """Raise `Forbidden` unless the caller may do `action` on `data_model`."""
    key = request.auth if isinstance(request.auth, ApiKey) else None
    if key is not None:
        scope = SCOPES[action]
        if not key.has_scope(scope):
            raise Forbidden(f'This API key lacks the "{scope}" scope')
        allowed = _key_model_ids(key)
        if allowed and data_model.pk not in allowed:
            raise Forbidden(f'This API key may not access "{data_model.name}"')
    user = request.user
    if not user.is_superuser and not user.has_perm(permission_name(action, data_model.name)):
        raise Forbidden(f'You may not {action} records of "{data_model.name}"')


def _key_model_ids(key: ApiKey) -> set[int]:
    if not hasattr(key, "_model_ids"):
        key._model_ids = set(key.models.values_list("pk", flat=True))
    return key._model_ids


def reached_models(entry, schema, params) -> list:
    """Data models a request reads through relations: `include` paths and dotted filters."""
    paths = [p.strip() for raw in params.getlist("include") for p in raw.split(",") if p.strip()]
    paths += [raw.partition(":")[0].rpartition(".")[0] for raw in params.getlist("filter") if "." in raw.partition(":")[0]]
    reached = {}
    for path in paths:
        current = entry
        for name in path.split("."):
            field = current.by_name.get(name)
            if field is None or field.type != "relation" or field.related_model_id not in schema.by_id:
                break  # the view answers 400 for a bad path
            current = schema.by_id[field.related_model_id]
            reached[current.definition.pk] = current.definition
    return list(reached.values())


class DataModelAccess(BasePermission):
    """Checks the request's action on `view.kwargs["model"]` and every model it reaches."""

    def has_permission(self, request, view):
        try:
            return self._allowed(request, view)
        except Forbidden:
            if not recheck_schema(request):
                raise
            return self._allowed(request, view)  # refused on a schema trusted unchecked: again on the current one

    def _allowed(self, request, view) -> bool:
        schema = request_schema(request)
        entry = schema.get(view.kwargs.get("model", ""))
        if entry is None:
            return True  # the view answers 404
        action = getattr(view, "action_for", {}).get(request.method) or ACTIONS.get(request.method, "view")
        require_access(request, entry.definition, action)
        for data_model in reached_models(entry, schema, request.query_params):
            require_access(request, data_model, "view")
        return True
