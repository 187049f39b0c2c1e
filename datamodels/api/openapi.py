"""OpenAPI 3 for Infinity, generated from the live data models on every request.

drf-spectacular documents the ordinary DRF views and does the generic work (info,
security schemes, rendering, Swagger UI). The records API takes the model as a
URL parameter, so two hooks, wired in `SPECTACULAR_SETTINGS`, describe it:

- `exclude_record_routes` keeps the generic `/api/public/data/{model}` routes out
  of spectacular's introspection;
- `add_data_model_paths` adds, for each data model of `current_schema()`, its path
  set and components (`<Name>Record`, `<Name>Input`, `Patched<Name>Input`,
  `<Name>List`, `<Name>Response`, `<Name>BulkResponse`), and the parts every
  model shares: the error envelope, pagination, `/api/health`, both auth schemes.
  It also points the error statuses of the ordinary views (the accounts API, which
  names them with `error_responses_for`) at the shared error responses.

Nothing is cached: a model or field changed in the admin shows up in the next
fetch. A caller sees the models it may read (all of them offline, in `manage.py
spectacular`); anonymous callers get the shared skeleton, enough for Swagger UI
to offer "Authorize" and reload. `SchemaView` serves `/api/schema` (JSON,
`?format=yaml`), `DocsView` the Swagger UI at `/api/docs`.
"""

from __future__ import annotations

from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.renderers import (
    OpenApiJsonRenderer, OpenApiJsonRenderer2, OpenApiYamlRenderer, OpenApiYamlRenderer2,
)
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.permissions import require_access
from accounts.ratelimits import RateLimited
from infinity.exceptions import Forbidden
from infinity.openapi import complete_operation, error_components, error_refs, error_schemas
from infinity.openapi import error_responses_for  # noqa: F401  (views import it from here too)

from ..dynamic import ModelEntry, Schema, current_schema
from ..idempotency import MAX_KEY
from ..fieldtypes import CONTAINS, EQ, GT, GTE, LT, LTE, NE, REGISTRY
from ..query import MAX_INCLUDE_DEPTH, MAX_LIMIT, MAX_PAGE, SYSTEM_COLUMNS
from ..records import MAX_BULK
from .openapi_fields import RECORD_ID_EXAMPLE, json_value_schema, model_components, ref
from .openapi_filters import filter_pattern

RECORDS_PREFIX = "/api/public/data/"
SECURITY = [{"ApiKeyAuth": []}, {"jwtAuth": []}]
SECURITY_SCHEMES = {
    "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "jwtAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
}
OPERATOR_SYMBOLS = {EQ: ":", NE: ":!=", GT: ":>", GTE: ":>=", LT: ":<", LTE: ":<=", CONTAINS: ":~"}
# A string schema marked so (by any app: a key's or a webhook's model) gets the enum of the caller's models.
MODEL_NAME_MARK = "x-data-model-name"
MAX_INCLUDE_PATHS = 50  # beyond this, `include` items are documented as free text
# `query.encode_cursor`: a base64 payload and its HMAC-SHA256; empty is the first page, as without one.
CURSOR_PATTERN = "^(?:[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{43})?$"

API_DESCRIPTION = """\
Every data model gets a REST API under `/api/public/data/{model}`; this document
is generated from the models as they are now. Authenticate with `X-API-Key: <key>`
or `Authorization: Bearer <access token>`.

Every error uses one envelope: `{"error": {"code", "message", "details"?, "request_id"}}`,
where `request_id` equals the `X-Request-ID` response header. Codes: `BAD_REQUEST`,
`VALIDATION_ERROR` (400), `UNAUTHORIZED` (401), `FORBIDDEN` (403), `NOT_FOUND` (404),
`METHOD_NOT_ALLOWED` (405), `CONFLICT` (409), `PRECONDITION_FAILED` (412),
`PAYLOAD_TOO_LARGE` (413), `UNSUPPORTED_MEDIA_TYPE` (415), `RATE_LIMIT_EXCEEDED` (429),
`SERVER_ERROR` (500).
"""

FILTER_GRAMMAR = """\
`field<op>value`, repeatable; every filter must hold. `<op>` follows the first colon:
`:` equals, `:!=` not equal, `:>` `:<` `:>=` `:<=` compare, `:~` contains
(case-insensitive). Values are parsed by the field's type (`total:>100`,
`created_at:>=2024-01-01T00:00:00Z`, `vip:true`); `field:null` and `field:!=null`
test for empty values; related fields are reached with a dot (`company.name:~acme`).
A value that does not parse, an unknown field or an operator the type does not
allow is a 400 `VALIDATION_ERROR` naming the filter."""


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Describes `accounts.authentication.ApiKeyAuthentication` for drf-spectacular."""

    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return SECURITY_SCHEMES["ApiKeyAuth"]


class BearerScheme(OpenApiAuthenticationExtension):
    """Describes `accounts.authentication.BearerAuthentication` (simplejwt's, subclassed) for drf-spectacular."""

    target_class = "accounts.authentication.BearerAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema):
        return SECURITY_SCHEMES["jwtAuth"]


class SchemaView(SpectacularAPIView):
    """`GET /api/schema`: the OpenAPI document, JSON by default, YAML with `?format=yaml`."""

    renderer_classes = [OpenApiJsonRenderer2, OpenApiJsonRenderer, OpenApiYamlRenderer, OpenApiYamlRenderer2]
    # Open to anyone (anonymous callers get no data models), but counted like any API call.
    permission_classes = [RateLimited]

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        # Spectacular's notes on undocumented views belong in `manage.py spectacular --validate`,
        # not in the server log of every schema request.
        with GENERATOR_STATS.silence():
            return super().get(request, *args, **kwargs)


class DocsView(SpectacularSwaggerView):
    """`GET /api/docs`: Swagger UI for `/api/schema`, assets served locally (sidecar)."""

    url_name = "schema"

    def _get_schema_auth_names(self):
        # Swagger UI re-fetches the schema with these credentials once the user authorizes,
        # so the data models appear; spectacular only does so when SERVE_PUBLIC is off.
        return list(SECURITY_SCHEMES)


# --- hooks ---------------------------------------------------------------------

# Other apps' routes under /api/public/data/{model}/... (search, export) are documented per model too:
# each registers, in its AppConfig.ready, a function (entry, schema, names) → {path: path item} whose
# operations declare their errors with `infinity.openapi.error_refs` (see README "OpenAPI and docs").
MODEL_PATH_BUILDERS: list = []


def register_model_paths(build) -> None:
    if build not in MODEL_PATH_BUILDERS:
        MODEL_PATH_BUILDERS.append(build)


def exclude_record_routes(endpoints, **kwargs):
    """PREPROCESSING_HOOKS: the generic record routes are documented per model instead."""
    return [endpoint for endpoint in endpoints if not endpoint[0].startswith(RECORDS_PREFIX)]


def add_data_model_paths(result, generator, request, public, **kwargs):
    """POSTPROCESSING_HOOKS: one path set and component set per data model, plus shared parts."""
    result.setdefault("info", {}).setdefault("description", API_DESCRIPTION)
    components = result.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(shared_schemas())
    components.setdefault("responses", {}).update(error_components())
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    paths = result.setdefault("paths", {})
    for item in paths.values():
        for operation in item.values():
            complete_operation(operation)
    paths["/api/health"] = health_path()
    # Only what the caller may read: relations to other models stay plain ids.
    entries = visible_models(current_schema(), request)
    schema = Schema(0, {e.name: e for e in entries}, {e.definition.pk: e for e in entries})
    names = component_names(entries, taken=set(schemas))
    name_model_names(schemas, [entry.name for entry in entries])
    for entry in entries:
        schemas.update(model_components(entry, schema, names))
        paths.update(model_paths(entry, schema, names))
        for build in MODEL_PATH_BUILDERS:
            paths.update(build(entry, schema, names))
    result["paths"] = dict(sorted(paths.items()))
    components["schemas"] = dict(sorted(schemas.items()))
    return result


def name_model_names(node, model_names: list[str]) -> None:
    """Each schema marked with `MODEL_NAME_MARK` gets the enum of `model_names` (none: no value fits)."""
    if isinstance(node, dict):
        if node.get(MODEL_NAME_MARK):
            node.pop("not", None)
            node.pop("enum", None)
            node.update({"enum": list(model_names)} if model_names else {"not": {}})
        for value in node.values():
            name_model_names(value, model_names)
    elif isinstance(node, list):
        for value in node:
            name_model_names(value, model_names)


def visible_models(schema: Schema, request) -> list[ModelEntry]:
    """The models the caller may read, by name; all of them for offline generation (no request)."""
    entries = sorted(schema.by_name.values(), key=lambda e: e.name)
    if request is None:
        return entries
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    return [entry for entry in entries if _may_view(request, entry)]


def _may_view(request, entry: ModelEntry) -> bool:
    try:
        require_access(request, entry.definition, "view")
    except Forbidden:
        return False
    return True


def component_names(entries: list[ModelEntry], taken: set[str]) -> dict[int, str]:
    """Model id → component base name: `order_items` → `OrderItems` (`OrderItems_<id>` on a clash)."""
    names, used = {}, set(taken)
    for entry in sorted(entries, key=lambda e: e.definition.pk):
        base = "".join(part.capitalize() for part in entry.name.split("_"))
        if any(name in used for name in _derived(base)):
            base = f"{base}_{entry.definition.pk}"
        used.update(_derived(base))
        names[entry.definition.pk] = base
    return names


def _derived(base: str) -> list[str]:
    return [f"{base}{suffix}" for suffix in ("Record", "Input", "List", "Response", "BulkResponse")] + [
        f"Patched{base}Input"
    ]


# --- shared components ---------------------------------------------------------

def shared_schemas() -> dict:
    return {
        **error_schemas(),
        "JsonValue": json_value_schema(),
        "Pagination": {
            "type": "object",
            "description": "`page`, `total` and `pages` are left out of responses to a `cursor` request.",
            "properties": {
                "page": {"type": "integer", "minimum": 1},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                "total": {"type": "integer", "minimum": 0},
                "pages": {"type": "integer", "minimum": 0},
                "next_cursor": {"type": "string", "nullable": True, "description": "Pass as `cursor` for the next "
                                "page, in constant time however deep; null on the last page."},
            },
            "required": ["limit", "next_cursor"],
        },
        "Deletion": {
            "type": "object",
            "properties": {"success": {"type": "boolean", "enum": [True]}, "message": {"type": "string"}},
            "required": ["success", "message"],
            "example": {"success": True, "message": "Record deleted successfully"},
        },
        "Health": {
            "type": "object",
            "properties": {"status": {"type": "string", "enum": ["ok", "degraded"]}, "version": {"type": "string"}},
            "required": ["status", "version"],
        },
    }


def _responses(success: dict, *errors: str) -> dict:
    return {**success, **error_refs(*errors)}


def _json(schema: dict, description: str, headers: dict | None = None) -> dict:
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def health_path() -> dict:
    return {"get": {
        "operationId": "health",
        "summary": "Health check",
        "description": "Needs no authentication. 503 with `status: degraded` when the database is unreachable.",
        "tags": ["health"],
        "security": [],
        "responses": {
            "200": _json(ref("Health"), "The API is up."),
            "503": _json(ref("Health"), "The database is unreachable."),
        },
    }}


# --- per-model paths -----------------------------------------------------------

def model_paths(entry: ModelEntry, schema: Schema, names: dict[int, str]) -> dict:
    """`/api/public/data/<name>` (list, create) and `/api/public/data/<name>/{id}` (read, write, delete)."""
    base, label = names[entry.definition.pk], entry.definition.label or entry.name
    about = {"description": f"{label}: {entry.definition.description}"} if entry.definition.description else {}
    return {
        f"{RECORDS_PREFIX}{entry.name}": _collection_path(entry, schema, base, label, about),
        f"{RECORDS_PREFIX}{entry.name}/{{id}}": _record_path(entry, schema, base, label, about),
    }


def _collection_path(entry, schema, base, label, about) -> dict:
    created = _json({"oneOf": [ref(f"{base}Response"), ref(f"{base}BulkResponse")]},
                    "Created: the record, or the records of an array body (only one record has an `ETag`).",
                    {"Idempotent-Replayed": {"schema": {"type": "string"}}, **ETAG})
    created["links"] = _record_links(entry, "$response.body#/data/id", etag=True, read=True)
    bulk = {"description": f"An object creates one record; an array of 1 to {MAX_BULK} objects creates them all "
                           "in one transaction (or none)."}
    idempotency = _header("Idempotency-Key", "Retrying with the same key returns the first response (kept 24 h) "
                          "instead of creating a duplicate.", minLength=1, maxLength=MAX_KEY)
    return {
        "get": _operation(entry, "list", f"List {label} records", about,
                          parameters=list_parameters(entry, schema),
                          responses=_responses({"200": _json(ref(f"{base}List"), "One page of records.")},
                                               "400", "401", "403", "404", "429", "500")),
        "post": _operation(entry, "create", f"Create {label} records", bulk,
                           parameters=[idempotency], body=_create_body(entry, base),
                           responses=_responses({"201": created},
                                                "400", "401", "403", "404", "409", "413", "415", "429", "500")),
    }


def _record_path(entry, schema, base, label, about) -> dict:
    id_param = {"name": "id", "in": "path", "required": True, "description": "The record id (`rec_` + ULID).",
                "schema": {"type": "string", "minLength": 1, "example": RECORD_ID_EXAMPLE}}
    if_none_match = _header("If-None-Match", "An ETag you read: 304 when the record is unchanged.")
    return {
        "get": _operation(entry, "retrieve", f"Get a {label} record", about,
                          parameters=[id_param, *_shape_parameters(entry, schema), if_none_match],
                          responses=_responses({"200": _single(entry, base), "304": {"description": "Not modified."}},
                                               "400", "401", "403", "404", "429", "500")),
        "put": _write_operation(entry, "update", f"Replace a {label} record", id_param, base, f"{base}Input"),
        "patch": _write_operation(entry, "partial_update", f"Update a {label} record", id_param, base,
                                  f"Patched{base}Input"),
        "delete": _operation(entry, "destroy", f"Delete a {label} record", about,
                             parameters=[id_param, _if_match()],
                             responses=_responses({"200": _json(ref("Deletion"), "Deleted.")},
                                                  "401", "403", "404", "412", "429", "500")),
    }


def _operation(entry, action, summary, extra, *, parameters, responses, body=None) -> dict:
    operation = {"operationId": f"{entry.name}_{action}", "summary": summary, "tags": [entry.name], **extra,
                 "parameters": parameters, "security": SECURITY, "responses": responses}
    if body is not None:
        operation["requestBody"] = body
    return operation


def _write_operation(entry, action, summary, id_param, base, body_component) -> dict:
    partial = action == "partial_update"
    description = ("Only the fields given change." if partial else
                   "Every required field must be given; omitted optional fields are reset to their default.")
    body = {"required": partial or _needs_a_body(entry),
            "content": {"application/json": {"schema": ref(body_component)}}}
    return _operation(entry, action, summary, {"description": description},
                      parameters=[id_param, _if_match()], body=body,
                      responses=_responses({"200": _single(entry, base)},
                                           "400", "401", "403", "404", "409", "412", "413", "415", "429", "500"))


ETAG = {"ETag": {"schema": {"type": "string"}, "description": "A strong validator, for `If-Match`."}}


def _single(entry: ModelEntry, base: str) -> dict:
    response = _json(ref(f"{base}Response"), "The record.", ETAG)
    response["links"] = _record_links(entry, "$request.path.id", etag=True, read=False)
    return response


def _record_links(entry: ModelEntry, record_id: str, *, etag: bool, read: bool) -> dict:
    """OpenAPI links from a response naming a record to the operations on it (with its ETag when it has one)."""
    guard = {"header.If-Match": "$response.header.ETag"} if etag else {}
    links = {"GetRecord": ("retrieve", {})} if read else {}
    links.update(ReplaceRecord=("update", guard), UpdateRecord=("partial_update", guard),
                 DeleteRecord=("destroy", guard))
    return {name: {"operationId": f"{entry.name}_{action}", "parameters": {"id": record_id, **extra}}
            for name, (action, extra) in links.items()}


def _needs_a_body(entry: ModelEntry) -> bool:
    """No body is read as `{}`: a create or replace goes without one only if no field is required."""
    return any(field.required and field.default is None for field in entry.fields)


def _create_body(entry: ModelEntry, base: str) -> dict:
    many = {"type": "array", "items": ref(f"{base}Input"), "minItems": 1, "maxItems": MAX_BULK}
    return {"required": _needs_a_body(entry),
            "content": {"application/json": {"schema": {"oneOf": [ref(f"{base}Input"), many]}}}}


def _header(name: str, description: str, **limits) -> dict:
    return {"name": name, "in": "header", "required": False, "description": description,
            "schema": {"type": "string", **limits}}


def _if_match() -> dict:
    # RFC 9110: a list of entity tags, possibly empty, or `*`; a tag that is not the record's own
    # (an empty list, a made-up tag) is 412 like a stale one, never a 400.
    return _header("If-Match", "The ETag you read (or a comma-separated list, or `*`): 412 `PRECONDITION_FAILED` "
                   "unless one of them is the record's current ETag.")


# --- query parameters ----------------------------------------------------------

def list_parameters(entry: ModelEntry, schema: Schema) -> list[dict]:
    return [
        _query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
               "Page number; past the end is an empty page."),
        _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50}, "Records per page."),
        _query("sort", {"type": "array", "items": {"type": "string", "enum": [*_sort_values(entry), ""]}},
               "`field`, `field:asc` or `field:desc`, repeatable, applied in order; `id` breaks ties in the "
               "direction of the last key. Default `created_at:desc`.", explode=True),
        filter_parameter(entry, schema),
        *_shape_parameters(entry, schema),
        _query("cursor", {"type": "string", "pattern": CURSOR_PATTERN}, "`pagination.next_cursor` of the previous "
               "page, unchanged and with the same `sort`: keyset pagination. Cursors are signed: one the server did "
               "not give, or given for another `sort`, is a 400 `BAD_REQUEST`."),
    ]


def filter_parameter(entry: ModelEntry, schema: Schema) -> dict:
    """The repeatable `filter` query parameter exactly as lists take it (search reuses it)."""
    return _query("filter", {"type": "array", "items": {"type": "string", "pattern": filter_pattern(entry, schema)}},
                  f"{FILTER_GRAMMAR}\n\nFields and operators: {_filter_help(entry)}.", explode=True,
                  example=_filter_example(entry))


def _shape_parameters(entry: ModelEntry, schema: Schema) -> list[dict]:
    names = [*SYSTEM_COLUMNS, *(f.name for f in entry.fields)]
    # An empty name (`fields=`, `fields=id,,name`) is skipped by the server, so the enums allow "".
    params = [_query("fields", {"type": "array", "items": {"type": "string", "enum": [*names, ""]}},
                     "Only these keys, comma-separated (vector fields appear only when named here).", explode=False)]
    paths = include_paths(entry, schema)
    if paths:
        items = {"type": "string", "enum": [*paths, ""]} if len(paths) <= MAX_INCLUDE_PATHS else {"type": "string"}
        params.append(_query("include", {"type": "array", "items": items},
                             f"Relations to expand into records, comma-separated, nested with dots (depth ≤ "
                             f"{MAX_INCLUDE_DEPTH}).", explode=False))
    return params


def _query(name: str, schema: dict, description: str, *, explode: bool | None = None, example=None) -> dict:
    param = {"name": name, "in": "query", "required": False, "description": description, "schema": schema}
    if explode is not None:
        param.update(style="form", explode=explode)
    if example is not None:
        param["example"] = example
    return param


def _sort_values(entry: ModelEntry) -> list[str]:
    columns = [*SYSTEM_COLUMNS, *(f.name for f in entry.fields if _sortable(f))]
    return [value for column in columns for value in (column, f"{column}:asc", f"{column}:desc")]


def _sortable(field) -> bool:
    kind = REGISTRY.get(field.type)
    return bool(kind and kind.can_sort and not (field.type == "relation" and field.many))


def _filter_help(entry: ModelEntry) -> str:
    parts = ["`id` (`:` `:!=`)", "`created_at`, `updated_at` (`:` `:!=` `:>` `:<` `:>=` `:<=`)"]
    for field in entry.fields:
        operators = _operators(field)
        if operators:
            parts.append(f"`{field.name}` ({' '.join(f'`{symbol}`' for symbol in operators)})")
    return "; ".join(parts)


def _operators(field) -> list[str]:
    kind = REGISTRY.get(field.type)
    allowed = kind.operators if kind else frozenset()
    return [symbol for op, symbol in OPERATOR_SYMBOLS.items() if op in allowed]


def _filter_example(entry: ModelEntry) -> list[str]:
    samples = {"text": ":~a", "long_text": ":~a", "email": ":~@", "url": ":~http", "integer": ":>=0",
               "number": ":>=0", "boolean": ":true", "date": ":>=2024-01-01", "datetime": ":>=2024-01-01T00:00:00Z"}
    for field in entry.fields:
        if field.type in samples:
            return [f"{field.name}{samples[field.type]}"]
        if field.type == "select" and field.choices:
            return [f"{field.name}:{field.choices[0]}"]
    return ["created_at:>=2024-01-01T00:00:00Z"]


def include_paths(entry: ModelEntry, schema: Schema, prefix: str = "", depth: int = 1) -> list[str]:
    """Every relation path `include` accepts (`company`, `company.owner`, …), up to the depth limit."""
    paths = []
    for field in entry.fields:
        if field.type != "relation" or field.related_model_id not in schema.by_id:
            continue
        path = f"{prefix}{field.name}"
        paths.append(path)
        if depth < MAX_INCLUDE_DEPTH and len(paths) <= MAX_INCLUDE_PATHS:
            paths += include_paths(schema.by_id[field.related_model_id], schema, f"{path}.", depth + 1)
    return paths
