"""List parameters in the forms Python callers like, turned into the reference's query strings.

Filters: the reference's strings (`"status:active"`, `"total:>100"`), a list of them,
or a dict whose keys may end in an operator suffix::

    {"status": "active", "total__gt": 100, "name__contains": "acme", "deleted_at": None}
    -> filter=status:active&filter=total:>100&filter=name:~acme&filter=deleted_at:null

Sorts: `"created_at:desc"`, `"-created_at"`, a list of those, or `[("created_at", "desc")]`
(also the JavaScript SDK's `[{"field": "created_at", "direction": "desc"}]`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

Params = List[Tuple[str, str]]
FilterArg = Union[None, str, Mapping[str, Any], Iterable[Union[str, Mapping[str, Any]]]]
SortArg = Union[None, str, Iterable[Union[str, Tuple[str, str], Mapping[str, str]]]]

# Suffix of a dict key -> the operator that follows the field name in the filter string.
OPERATORS = {
    "eq": ":", "gt": ":>", "lt": ":<", "gte": ":>=", "lte": ":<=", "ne": ":!=",
    "contains": ":~", "icontains": ":~",
}
DIRECTIONS = ("asc", "desc")


def filter_values(filters: FilterArg) -> list[str]:
    """Every filter string for the `filter` parameter, in the order given."""
    if filters is None:
        return []
    if isinstance(filters, str):
        return [filters]
    if isinstance(filters, Mapping):
        return [_filter_from_pair(key, value) for key, value in filters.items()]
    values: list[str] = []
    for item in filters:
        if not isinstance(item, (str, Mapping)):
            raise TypeError(f"A filter must be a string or a dict, not {type(item).__name__}")
        values += filter_values(item)
    return values


def _filter_from_pair(key: str, value: Any) -> str:
    field, _, suffix = key.rpartition("__")
    if not field or suffix not in OPERATORS:
        field, suffix = key, "eq"
    return f"{field}{OPERATORS[suffix]}{format_value(value)}"


def format_value(value: Any) -> str:
    """A Python value as the server parses it in a filter: `true`, `null`, ISO dates with `Z`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return iso_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def iso_datetime(value: dt.datetime) -> str:
    """ISO 8601 in UTC with `Z`, as the server writes them; naive datetimes are taken as UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat() + "Z"


def sort_values(sort: SortArg) -> list[str]:
    """Every `field:direction` string for the `sort` parameter, in order."""
    if sort is None:
        return []
    if isinstance(sort, str):
        return [_sort_from_text(part) for part in sort.split(",") if part.strip()]
    if isinstance(sort, tuple) and len(sort) == 2 and all(isinstance(part, str) for part in sort) \
            and sort[1].lower() in DIRECTIONS:
        return [_sort_from_pair(*sort)]
    values: list[str] = []
    for item in sort:
        if isinstance(item, str):
            values += sort_values(item)
        elif isinstance(item, Mapping):
            values.append(_sort_from_pair(item["field"], item.get("direction", "asc")))
        elif isinstance(item, Sequence) and len(item) == 2:
            values.append(_sort_from_pair(*item))
        else:
            raise TypeError(f"A sort must be 'field:dir', (field, dir) or a dict, not {item!r}")
    return values


def _sort_from_text(text: str) -> str:
    text = text.strip()
    if text.startswith("-"):
        return f"{text[1:]}:desc"
    return text


def _sort_from_pair(field: str, direction: str) -> str:
    direction = str(direction).lower()
    if direction not in DIRECTIONS:
        raise ValueError(f"Sort direction must be 'asc' or 'desc', not {direction!r}")
    return f"{field}:{direction}"


def names(value: Union[None, str, Iterable[str]]) -> Optional[str]:
    """`fields`/`include` as the comma-separated list the server reads."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return ",".join(value)


def list_params(
    *,
    filter: FilterArg = None,
    sort: SortArg = None,
    fields: Union[None, str, Iterable[str]] = None,
    include: Union[None, str, Iterable[str]] = None,
    **scalars: Any,
) -> Params:
    """Query parameters of a list or search call; `filter` and `sort` repeat, None is left out."""
    params: Params = [("filter", value) for value in filter_values(filter)]
    params += [("sort", value) for value in sort_values(sort)]
    for name, value in (("fields", names(fields)), ("include", names(include)), *scalars.items()):
        if value is not None:
            params.append((name, format_value(value)))
    return params
