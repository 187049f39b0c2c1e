"""The search query grammar: `query`/`vector`, `field`, `limit`, `threshold`, `mode`,
and the list parameters `filter`, `fields`, `include` (parsed by `datamodels.query`).

`parse_search` validates a request against the model and returns a `SearchQuery`,
or raises `ValidationFailed` naming the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field

from datamodels.dynamic import ModelEntry, Schema
from datamodels.fieldtypes import InvalidValue, field_type
from datamodels.query import Filter, parse_fields, parse_filter, parse_include, parse_int
from infinity.exceptions import ValidationFailed

DEFAULT_LIMIT, MAX_LIMIT, DEFAULT_THRESHOLD = 10, 100, 0.7
MAX_QUERY_CHARS = 2000
MODES = ("vector", "hybrid")
BODY_KEYS = frozenset({"vector", "query", "limit", "threshold"})


@dataclass
class SearchQuery:
    """A validated search: what to compare with, on which field, and how to shape results."""

    field: object  # the vector field searched
    text: str | None = None  # the query text (embedded, and in hybrid mode also full-text matched)
    vector: list[float] | None = None  # a raw vector (POST), used as is
    limit: int = DEFAULT_LIMIT
    threshold: float = DEFAULT_THRESHOLD
    mode: str = "vector"
    filters: list[Filter] = dc_field(default_factory=list)
    fields: list[str] | None = None
    include: dict = dc_field(default_factory=dict)


def invalid(param: str, message: str) -> ValidationFailed:
    return ValidationFailed("Invalid query parameter", details=[{"field": param, "message": message}])


def parse_search(entry: ModelEntry, schema: Schema, params, body: dict | None = None, *,
                 need_query: bool = True, default_threshold: float = DEFAULT_THRESHOLD) -> SearchQuery:
    """Parse a search request: query string `params`, and the JSON `body` of a POST."""
    body = body or {}
    unknown = sorted(set(body) - BODY_KEYS)
    if unknown:
        raise ValidationFailed("Invalid field value", details=[{"field": k, "message": "Unknown field"} for k in unknown])
    source = {**{k: params.get(k) for k in ("limit", "threshold")}, **{k: body[k] for k in ("limit", "threshold")
                                                                      if k in body}}
    query = SearchQuery(
        field=vector_field(entry, params.get("field")),
        limit=_limit(source.get("limit")),
        threshold=_threshold(source.get("threshold"), default_threshold),
        mode=_mode(params.get("mode")),
        filters=[parse_filter(entry, schema, raw) for raw in params.getlist("filter")],
        fields=parse_fields(entry, params.get("fields")),
        include=parse_include(entry, schema, params.get("include")),
    )
    if "vector" in body:
        query.vector = _vector(query.field, body["vector"])
    text = body.get("query", params.get("query"))
    if text is not None or (need_query and query.vector is None):
        query.text = _text(text)
    if query.mode == "hybrid" and (query.text is None or not query.field.source_fields):
        raise invalid("mode", "hybrid needs a `query` text and a vector field with source_fields")
    return query


def vector_field(entry: ModelEntry, name: str | None):
    vectors = [f for f in entry.fields if f.type == "vector"]
    if not vectors:
        raise invalid("field", f'The model "{entry.name}" has no vector field to search')
    if not name:
        return vectors[0]
    chosen = entry.by_name.get(name)
    if chosen is None or chosen.type != "vector":
        names = ", ".join(f.name for f in vectors)
        raise invalid("field", f'"{name}" is not a vector field of "{entry.name}" (one of: {names})')
    return chosen


def _limit(raw) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if raw is not None and not isinstance(raw, str):
        raise invalid("limit", "Must be a whole number")
    return parse_int({"limit": raw}, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)


def _threshold(raw, default: float) -> float:
    if raw is None or raw == "":
        return default
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = float(raw)
    except (TypeError, ValueError):
        raise invalid("threshold", "Must be a number between 0 and 1") from None
    if not 0 <= value <= 1:
        raise invalid("threshold", "Must be a number between 0 and 1")
    return value


def _mode(raw: str | None) -> str:
    if raw in (None, ""):
        return "vector"
    if raw not in MODES:
        raise invalid("mode", f"Must be one of: {', '.join(MODES)}")
    return raw


def _text(raw) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise invalid("query", "A non-empty search text is required")
    if len(raw) > MAX_QUERY_CHARS or "\x00" in raw:
        raise invalid("query", f"Must be at most {MAX_QUERY_CHARS} characters, without NUL")
    return raw.strip()


def _vector(field, raw) -> list[float]:
    try:
        return field_type("vector").validate(field, raw)
    except InvalidValue as exc:
        raise ValidationFailed("Invalid field value", details=[{"field": "vector", "message": str(exc)}]) from None
