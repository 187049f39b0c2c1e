"""OpenAPI for the search endpoints of each model that has a vector field.

`search_paths` is registered with `datamodels.api.openapi.register_model_paths` (in
`search.apps`): for such a model it adds `/api/public/data/<name>/search` (GET by
text, POST by vector) and `/api/public/data/<name>/{id}/similar`, reusing the
records API's parameter and response helpers.
"""

from __future__ import annotations

from datamodels.api.openapi import (
    RECORDS_PREFIX,
    _json,
    _operation,
    _query,
    _responses,
    _shape_parameters,
    filter_parameter,
)
from datamodels.api.openapi_fields import (
    FLOAT32_MAX,
    RECORD_ID_EXAMPLE,
    model_components,
)
from datamodels.dynamic import ModelEntry, Schema

from ..backends import backend
from ..query import DEFAULT_LIMIT, DEFAULT_THRESHOLD, MAX_LIMIT, MAX_QUERY_CHARS

ERRORS = ("400", "401", "403", "404", "429", "500")
# A character that is neither NUL nor whitespace to `str.isspace` (what `str.strip` removes).
NOT_BLANK = "[^\\x00\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"


def search_paths(entry: ModelEntry, schema: Schema, names: dict[int, str]) -> dict:
    vectors = [f for f in entry.fields if f.type == "vector"]
    if not vectors:
        return {}
    label = entry.definition.label or entry.name
    results = _results(entry, schema, names)
    filters = _filter_params(entry, schema)
    # A text is embedded by the backend: only a field of its dimensions can be searched by text.
    texts = [f for f in vectors if f.dimensions == _backend_dimensions()]
    # hybrid also needs the searched field's source_fields: offered when every such field has them.
    hybrid = bool(texts) and all(f.source_fields for f in texts)
    vector_body = {"required": True, "content": {"application/json": {
        "schema": _vector_body(vectors, with_text=len(texts) == len(vectors))}}}
    record_id = {"name": "id", "in": "path", "required": True, "description": "The record id (`rec_` + ULID).",
                 "schema": {"type": "string", "minLength": 1, "example": RECORD_ID_EXAMPLE}}
    query = _query("query", _text() if texts else {"type": "string", "not": {}}, (
        "The text to search for; embedded with the model's embedding backend." if texts else
        "No vector field of this model has the embedding backend's dimensions: none can be searched by text."))
    by_text = [{**query, "required": True}, _limit(), _threshold(DEFAULT_THRESHOLD), _mode(hybrid),
               _field_param(texts or vectors, first=vectors[0]), *filters]
    search = {
        "get": _operation(entry, "search", f"Search {label} records by meaning", {"description": (
            "Records by cosine similarity to the query (`similarity` = 1 − cosine distance), best first, "
            "at or above `threshold`. `mode=hybrid` fuses full-text ranking over the field's source "
            "fields with similarity by reciprocal-rank fusion; each record then also has `score`.")},
            parameters=by_text, responses=_responses({"200": results}, *ERRORS, "503")),
        "post": _operation(entry, "search_by_vector", f"Search {label} records by vector", {"description": (
            "Like GET, with a vector of your own in the body instead of `query`.")},
            parameters=[_mode(hybrid and len(texts) == len(vectors)), _field_param(vectors), *filters],
            body=vector_body, responses=_responses({"200": results}, *ERRORS, "413", "415", "503")),
    }
    return {
        f"{RECORDS_PREFIX}{entry.name}/search": search,
        f"{RECORDS_PREFIX}{entry.name}/{{id}}/similar": {
            "get": _operation(entry, "similar", f"{label} records similar to one", {"description": (
                "The records nearest to this record's own vector, itself left out. 409 `CONFLICT` while "
                "its vector is not computed yet.")},
                parameters=[record_id, _limit(), _threshold(0.0), _field_param(vectors), *filters],
                responses=_responses({"200": results}, *ERRORS, "409")),
        },
    }


def _backend_dimensions() -> int | None:
    try:
        return backend().dimensions
    except ValueError:  # misconfigured embeddings: no text search works
        return None


def _results(entry: ModelEntry, schema: Schema, names: dict[int, str]) -> dict:
    record = model_components(entry, schema, names)[f"{names[entry.definition.pk]}Record"]
    item = {"type": "object", "description": record["description"],
            "properties": {
                **record["properties"],
                "similarity": {"type": "number", "description": "1 − cosine distance to the query vector."},
                "score": {"type": "number", "description": "`mode=hybrid` only: the reciprocal-rank fusion score."},
            },
            "required": ["similarity"], "additionalProperties": False}
    body = {"type": "object", "properties": {"data": {"type": "array", "items": item, "maxItems": MAX_LIMIT}},
            "required": ["data"]}
    return _json(body, "The matching records, best first.")


def _field_param(vectors: list, *, first=None) -> dict:
    """`field`: one of `vectors`; empty or omitted is the model's first vector field (`first`), allowed if it is one."""
    first = first or vectors[0]
    names = [f.name for f in vectors]
    param = _query("field", {"type": "string", "enum": [*names, ""] if first.name in names else names,
                             "default": first.name},
                   "The vector field to search, when the model has several (empty: the first).")
    return {**param, "required": first.name not in names}


def _filter_params(entry: ModelEntry, schema: Schema) -> list[dict]:
    return [filter_parameter(entry, schema), *_shape_parameters(entry, schema)]


def _limit() -> dict:
    return _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                  "At most this many records.")


def _threshold(default: float) -> dict:
    return _query("threshold", {"type": "number", "minimum": 0, "maximum": 1, "default": default},
                  "The lowest similarity returned.")


def _mode(hybrid: bool) -> dict:
    modes = ["vector", "hybrid", ""] if hybrid else ["vector", ""]
    return _query("mode", {"type": "string", "enum": modes, "default": "vector"},
                  "`hybrid` adds full-text ranking over the source fields (reciprocal-rank fusion): only for a "
                  "vector field with `source_fields`, and with a `query` text. Empty: `vector`.")


def _text() -> dict:
    """What `search.query` takes as a text: some character `str.strip` keeps, no NUL, at most the limit."""
    return {"type": "string", "maxLength": MAX_QUERY_CHARS, "pattern": f"^[^\\x00]*{NOT_BLANK}[^\\x00]*$"}


def _vector_body(vectors: list, *, with_text: bool) -> dict:
    sizes = sorted({f.dimensions for f in vectors})
    number = {"type": "number", "minimum": -FLOAT32_MAX, "maximum": FLOAT32_MAX}  # pgvector's 32-bit floats
    vector = {"type": "array", "items": number, "description": "As many numbers as the field has "
              f"dimensions ({', '.join(map(str, sizes))})."}
    if len(sizes) == 1:
        vector.update(minItems=sizes[0], maxItems=sizes[0])
    # A null limit or threshold is the default.
    body = {"type": "object", "properties": {
        "vector": vector,
        "limit": {"type": "integer", "nullable": True, "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        "threshold": {"type": "number", "nullable": True, "minimum": 0, "maximum": 1,
                      "default": DEFAULT_THRESHOLD},
    }, "required": ["vector"], "additionalProperties": False}
    if with_text:  # `vector` or a `query` text (or both); a null query counts as none
        body["properties"]["query"] = {**_text(), "nullable": True,
                                       "description": "A text instead of (or, for hybrid, with) the vector."}
        body.pop("required")
        body["anyOf"] = [{"required": ["vector"]}, {"required": ["query"], "properties": {"query": {"type": "string"}}}]
    return body
