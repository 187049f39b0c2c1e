"""The `filter` parameter of a model's list operation as a pattern: what `datamodels.query` accepts.

`filter_pattern` gives one regular expression (ECMA 262 and Python alike: no
lookarounds, no `\\d`) matching `path<op>value` for every path the model can filter
on (its fields, `id`, `created_at`, `updated_at`, and the same through relations with
dots), each with the operators its type allows and a value that parses for that type.
Where the server's parser is more lenient than a pattern can say simply (`+5`,
`2024-02-29`, week dates), the pattern keeps to a plain subset, so a value it allows is
always accepted.
"""

from __future__ import annotations

from ..dynamic import ModelEntry, Schema
from ..fieldtypes import CONTAINS, EQ, GT, GTE, LT, LTE, NE, REGISTRY
from ..query import MAX_INCLUDE_DEPTH

SYMBOLS = {EQ: "", NE: "!=", GT: ">", GTE: ">=", LT: "<", LTE: "<=", CONTAINS: "~"}
MAX_PATHS = 400  # beyond this, only the model's own fields (relation chains grow fast)

ANY = "[^\\x00]*"  # PostgreSQL text holds no NUL; the server refuses it in any filter
# Any text that does not start with an operator symbol, so it is read as the value of `:`.
PLAIN = "(?:[^\\x00<>~!][^\\x00]*|![^\\x00=][^\\x00]*|!)?"
INTEGER = "-?[0-9]{1,18}"  # within 64 bits
NUMBER = "-?[0-9]{1,15}(?:\\.[0-9]{1,15})?(?:[eE]-?[0-9]{1,2})?"
BOOLEAN = "(?:true|false|yes|no|1|0)"
DATE = "[1-9][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
DATETIME = (f"{DATE}(?:T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\\.[0-9]{{1,6}})?)?"
            "(?:Z|[+-](?:0[0-9]|1[0-3]):[0-5][0-9])?)?")
EMAIL = "[a-z0-9]{1,20}(?:\\.[a-z0-9]{1,20})?@[a-z0-9]{1,20}\\.[a-z]{2,6}"
URL = "https?://[a-z0-9]{1,20}\\.[a-z]{2,6}(?:/[a-z0-9]{0,20})?"
NULL = "null"


def filter_pattern(entry: ModelEntry, schema: Schema) -> str:
    """`^(?:path|path)(?:values)|...$`: one alternative per kind of value, paths grouped."""
    leaves = list(_leaves(entry, schema, "", 1))
    if len(leaves) > MAX_PATHS:
        leaves = list(_leaves(entry, schema, "", MAX_INCLUDE_DEPTH + 1))
    groups: dict[str, list[str]] = {}
    for path, values in leaves:
        groups.setdefault(values, []).append(_escape(path))
    alternatives = [f"(?:{'|'.join(paths)}):{values}" for values, paths in groups.items()]
    return f"^(?:{'|'.join(alternatives)})$"


def _leaves(entry: ModelEntry, schema: Schema, prefix: str, depth: int):
    """(path, value pattern) for every filterable path from `entry`, through relations up to the depth limit."""
    yield f"{prefix}id", _ops((EQ, NE), PLAIN, nullable=False)
    for name in ("created_at", "updated_at"):
        yield f"{prefix}{name}", _ops((EQ, NE, GT, GTE, LT, LTE), DATETIME, nullable=False)
    for field in entry.fields:
        yield f"{prefix}{field.name}", value_pattern(field)
        target = schema.by_id.get(field.related_model_id) if field.type == "relation" else None
        if target is not None and depth <= MAX_INCLUDE_DEPTH:
            yield from _leaves(target, schema, f"{prefix}{field.name}.", depth + 1)


def value_pattern(field) -> str:
    """`<op>value` for one field: `:null`/`:!=null` always; otherwise values its type parses."""
    kind = REGISTRY.get(field.type)
    allowed = kind.operators if kind else frozenset()
    contains = [f"~{ANY}"] if CONTAINS in allowed else []
    compare = tuple(op for op in (EQ, NE, GT, GTE, LT, LTE) if op in allowed)
    values = _typed_value(field)
    if values is None or not compare:
        return _alternatives([*(f"{SYMBOLS[op]}{NULL}" for op in (EQ, NE)), *contains])
    return _alternatives([_ops(compare, values, nullable=True), *contains])


def _typed_value(field) -> str | None:
    if field.type in ("text", "long_text"):
        if field.regex:  # only `~` (contains) skips the field's own pattern
            return None
        return f"[^\\x00]{{0,{field.max_length}}}" if field.max_length else ANY
    if field.type in ("select", "multi_select"):
        return _alternatives([_escape(choice) for choice in field.choices])
    if field.type == "relation":
        return PLAIN
    return {"email": EMAIL, "url": URL, "integer": INTEGER, "number": NUMBER, "boolean": BOOLEAN,
            "date": DATE, "datetime": DATETIME}.get(field.type)


def _ops(operators, values: str, *, nullable: bool) -> str:
    choices = [f"{SYMBOLS[op]}{values}" for op in operators]
    if nullable:
        choices += [f"{SYMBOLS[op]}{NULL}" for op in (EQ, NE) if op in operators]
    return _alternatives(choices)


def _alternatives(choices: list[str]) -> str:
    return f"(?:{'|'.join(choices)})"


def _escape(text: str) -> str:
    """Regex metacharacters escaped the way ECMA 262 and Python both read."""
    return "".join(f"\\{char}" if char in "\\^$.|?*+()[]{}" else char for char in text)
