"""OpenAPI for the search endpoints of each model that has a vector field.

`search_paths` is registered with `datamodels.api.openapi.register_model_paths` (in
`search.apps`): for such a model it adds `/api/public/data/<name>/search` (GET by
text, POST by vector) and `/api/public/data/<name>/{id}/similar`, reusing the
records API's parameter and response helpers.
"""

from __future__ import annotations

from datamodels.api.openapi import (RECORDS_PREFIX, _json, _operation, _query, _responses, _shape_parameters,
                                    FILTER_GRAMMAR)
from datamodels.api.openapi_fields import RECORD_ID_EXAMPLE, model_components
from datamodels.dynamic import ModelEntry, Schema

from ..query import DEFAULT_LIMIT, DEFAULT_THRESHOLD, MAX_LIMIT, MAX_QUERY_CHARS

ERRORS = ("400", "401", "403", "404", "429", "500")


def search_paths(entry: ModelEntry, schema: Schema, names: dict[int, str]) -> dict:
    vectors = [f for f in entry.fields if f.type == "vector"]
    if not vectors:
        return {}
    label = entry.definition.label or entry.name
    results = _results(entry, schema, names)
    common = [_field_param(vectors), *_filter_params(entry, schema)]
    by_text = [_query("query", {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS},
                      "The text to search for; embedded with the model's embedding backend."),
               _limit(), _threshold(DEFAULT_THRESHOLD), _mode(), *common]
    vector_body = {"required": True, "content": {"application/json": {"schema": _vector_body(vectors)}}}
    record_id = {"name": "id", "in": "path", "required": True, "description": "The record id (`rec_` + ULID).",
                 "schema": {"type": "string", "minLength": 1, "example": RECORD_ID_EXAMPLE}}
    return {
        f"{RECORDS_PREFIX}{entry.name}/search": {
            "get": _operation(entry, "search", f"Search {label} records by meaning", {"description": (
                "Records by cosine similarity to the query (`similarity` = 1 − cosine distance), best first, "
                "at or above `threshold`. `mode=hybrid` fuses full-text ranking over the field's source "
                "fields with similarity by reciprocal-rank fusion; each record then also has `score`.")},
                parameters=by_text, responses=_responses({"200": results}, *ERRORS, "503")),
            "post": _operation(entry, "search_by_vector", f"Search {label} records by vector", {"description": (
                "Like GET, with a vector of your own in the body instead of `query`.")},
                parameters=[_mode(), *common], body=vector_body,
                responses=_responses({"200": results}, *ERRORS, "413", "415", "503")),
        },
        f"{RECORDS_PREFIX}{entry.name}/{{id}}/similar": {
            "get": _operation(entry, "similar", f"{label} records similar to one", {"description": (
                "The records nearest to this record's own vector, itself left out. 409 `CONFLICT` while "
                "its vector is not computed yet.")},
                parameters=[record_id, _limit(), _threshold(0.0), *common],
                responses=_responses({"200": results}, *ERRORS, "409")),
        },
    }


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


def _field_param(vectors: list) -> dict:
    return _query("field", {"type": "string", "enum": [f.name for f in vectors], "default": vectors[0].name},
                  "The vector field to search, when the model has several.")


def _filter_params(entry: ModelEntry, schema: Schema) -> list[dict]:
    return [_query("filter", {"type": "array", "items": {"type": "string", "minLength": 1}},
                   f"{FILTER_GRAMMAR}\n\nAs in lists.", explode=True),
            *_shape_parameters(entry, schema)]


def _limit() -> dict:
    return _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                  "At most this many records.")


def _threshold(default: float) -> dict:
    return _query("threshold", {"type": "number", "minimum": 0, "maximum": 1, "default": default},
                  "The lowest similarity returned.")


def _mode() -> dict:
    return _query("mode", {"type": "string", "enum": ["vector", "hybrid"], "default": "vector"},
                  "`hybrid` adds full-text ranking over the source fields (reciprocal-rank fusion).")


def _vector_body(vectors: list) -> dict:
    sizes = sorted({f.dimensions for f in vectors})
    vector = {"type": "array", "items": {"type": "number"}, "description": "As many numbers as the field has "
              f"dimensions ({', '.join(map(str, sizes))})."}
    if len(sizes) == 1:
        vector.update(minItems=sizes[0], maxItems=sizes[0])
    return {"type": "object", "properties": {
        "vector": vector,
        "query": {"type": "string", "minLength": 1, "description": "A text instead of (or, for hybrid, with) "
                                                                   "the vector."},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        "threshold": {"type": "number", "minimum": 0, "maximum": 1, "default": DEFAULT_THRESHOLD},
    }, "additionalProperties": False}
