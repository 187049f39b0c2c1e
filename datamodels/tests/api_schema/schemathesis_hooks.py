"""Schemathesis hooks for `schemathesis.toml`: valid requests name records and cursors that exist.

Two values of the records API are valid only if the server made them, which no schema
can say: a relation's value must be the id of an existing record, and a `cursor` must
be a `next_cursor` the server signed (SPEC §3: else 400). So in every *positive* case
for a records endpoint, each relation property (marked `x-related-model` in
`/api/schema`) gets ids of records of that model, and a `cursor` becomes one the
server gives for the case's `sort`, both read over HTTP just before the request with
the run's own headers; U+0000 leaves object keys inside json values (OpenAPI 3.0
cannot forbid it there). A webhook's URL must also resolve to an address the server may
send to (its SSRF guard asks DNS), so a positive create or update of `/api/webhooks`
gets `WEBHOOK_URL`: the fuzz server runs with INFINITY_WEBHOOK_ALLOW_PRIVATE=1 and
nothing listens there. Negative cases are left as generated, so their violations
still reach the server. No Django here: the CLI loads this module on its own.
"""

from __future__ import annotations

import zlib

import requests
import schemathesis
from schemathesis import GenerationMode

RECORDS = "/api/public/data/"
WRITES = {"POST", "PUT", "PATCH"}
SAMPLE = 20  # ids read per related model and case
WEBHOOKS = "/api/webhooks"
WEBHOOK_URL = "http://127.0.0.1:9/hook"  # the discard port: deliveries fail fast, nothing leaves the machine


@schemathesis.hook
def filter_case(context, case):
    """Not a case schemathesis 4.32.5 marks invalid though it describes it as valid ("Positive test case").

    It happens when the only part it negated was an optional body (PATCH) that it then left out:
    the request is valid, and the server rightly accepts it.
    """
    meta = case.meta
    return not (meta is not None and meta.generation.mode == GenerationMode.NEGATIVE
                and getattr(meta.phase.data, "description", None) == "Positive test case")


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE:
        return case
    if case.operation.path.startswith(WEBHOOKS) and case.method.upper() in WRITES:
        if isinstance(case.body, dict) and isinstance(case.body.get("url"), str):
            case.body["url"] = WEBHOOK_URL
        return case
    if not case.operation.path.startswith(RECORDS):
        return case
    if case.method.upper() in WRITES:
        case.body = without_nul_keys(case.body)
        relations = relation_properties(case.operation)
        if relations and isinstance(case.body, (dict, list)):
            ids = {model: existing_ids(case, model) for model in set(relations.values())}
            for item in case.body if isinstance(case.body, list) else [case.body]:
                if isinstance(item, dict):
                    point_at_records(item, relations, ids)
    elif case.method.upper() == "GET" and isinstance(case.query, dict) and "cursor" in case.query:
        cursor = next_cursor(case)
        if cursor is None:
            del case.query["cursor"]
        else:
            case.query["cursor"] = cursor
    return case


def without_nul_keys(value):
    """OpenAPI 3.0 cannot forbid U+0000 in an object key of a json value (`JsonValue` says it in words)."""
    if isinstance(value, dict):
        return {key.replace("\x00", "") if isinstance(key, str) else key: without_nul_keys(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [without_nul_keys(item) for item in value]
    return value


def _get(case, path: str, params: dict) -> dict:
    schema = case.operation.schema
    response = requests.get(f"{schema.get_base_url().rstrip('/')}{path}", params=params,
                            headers=dict(schema.config.headers or {}),
                            timeout=30)
    response.raise_for_status()
    return response.json()


def next_cursor(case) -> str | None:
    """A cursor the server gave for the case's sort (a cursor is signed: a made-up one is 400)."""
    params = {"limit": 1, "fields": "id"}
    if "sort" in case.query:
        params["sort"] = case.query["sort"]
    return _get(case, case.operation.path, params)["pagination"]["next_cursor"]


def relation_properties(operation) -> dict[str, str]:
    """Property → related model, for the input components the operation's body refers to."""
    components = operation.schema.raw_schema.get("components", {}).get("schemas", {})
    found = {}
    for name in _refs(operation.definition.raw.get("requestBody", {})):
        for prop, schema in components.get(name, {}).get("properties", {}).items():
            if isinstance(schema, dict) and "x-related-model" in schema:
                found[prop] = schema["x-related-model"]
    return found


def _refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"].rsplit("/", 1)[-1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def existing_ids(case, model: str) -> list[str]:
    return [record["id"] for record in _get(case, f"{RECORDS}{model}", {"fields": "id", "limit": SAMPLE})["data"]]


def point_at_records(item: dict, relations: dict[str, str], ids: dict[str, list[str]]) -> None:
    """Each generated id becomes an existing one (chosen by the generated text, so runs repeat)."""
    for prop, model in relations.items():
        value, known = item.get(prop), ids[model]
        if isinstance(value, str):
            item[prop] = _pick(value, known) if known else None
        elif isinstance(value, list):
            item[prop] = list(dict.fromkeys(_pick(v, known) for v in value if isinstance(v, str))) if known else []


def _pick(value: str, known: list[str]) -> str:
    return known[zlib.crc32(value.encode("utf-8", "surrogatepass")) % len(known)]
