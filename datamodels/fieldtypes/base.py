"""The field-type interface and its registry.

A field type owns everything type-specific about a data-model field: its column
type, how a JSON value is validated into a Python value, how a stored value goes
back to JSON, which filter operators it accepts, and how another type's data is
converted into it (`sql_fits`/`sql_from_text`, used by retypes). Relations and
vectors add their extras in their own modules.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, ClassVar

from django.db import models
from psycopg.sql import Literal

# Filter operators, as written after the first colon of `filter=field:op value`.
EQ, NE, GT, GTE, LT, LTE, CONTAINS = "eq", "ne", "gt", "gte", "lt", "lte", "contains"
COMPARISONS = frozenset({EQ, NE, GT, GTE, LT, LTE})


class InvalidValue(ValueError):
    """A value that does not fit its field; the message is shown to the client."""


class FieldType:
    """One data-model field type (subclass per type, registered in `REGISTRY`)."""

    name: ClassVar[str]
    # Options of `datamodels.models.Field` that make sense for this type.
    options: ClassVar[frozenset[str]] = frozenset()
    operators: ClassVar[frozenset[str]] = frozenset({EQ, NE})
    can_be_unique: ClassVar[bool] = True
    can_sort: ClassVar[bool] = True
    # Types sharing a family share a column type: converting among them needs no rewrite.
    family: ClassVar[str | None] = None
    convertible: ClassVar[bool] = True

    # --- storage -------------------------------------------------------------
    def sql_type(self, field) -> str:
        raise NotImplementedError

    def model_field(self, field) -> models.Field:
        """The Django field of the generated model class (column `f_<id>`)."""
        raise NotImplementedError

    def attname(self, field) -> str:
        """The attribute of the generated model instance that holds the raw value."""
        return field.column

    def index_sql(self, field, table: str) -> list[str]:
        """CREATE INDEX statements for `indexed` (unique indexes are generic)."""
        col = field.column
        return [f'CREATE INDEX "{table}_{col}_idx" ON "{table}" ("{col}", id)']

    # --- values --------------------------------------------------------------
    def validate(self, field, value: Any) -> Any:
        """A JSON value (never None) → the Python value to store, or InvalidValue."""
        raise NotImplementedError

    def validator(self, field) -> Callable[[Any], Any]:
        """`validate` for one field, as a one-argument callable (worked out once per model
        class by `records.clean_record`): the same check, bound once."""
        return partial(self.validate, field)

    def to_json(self, field, value: Any) -> Any:
        return value

    def json_sql(self, field, row: str) -> str | None:
        """SQL for the value `to_json` gives, read from the row aliased `row`, for records
        PostgreSQL renders itself (`row_to_json`); None when only `to_json` can."""
        return f'{row}."{field.column}"'

    def sql_value(self, field, value: Any) -> str:
        """A validated value as an SQL literal of the column type (for DDL defaults)."""
        return f"{sql_literal(value)}::{self.sql_type(field)}"

    def parse_filter(self, field, raw: str) -> Any:
        """A filter value from the query string → the Python value to compare with."""
        return self.validate(field, raw)

    def check_options(self, field) -> list[str]:
        """Type-specific problems with a definition, as messages."""
        return []

    # --- conversions (retype) ------------------------------------------------
    def sql_to_text(self, field, col: str) -> str:
        return f"{col}::text"

    def sql_fits(self, field, text: str) -> str:
        """An SQL predicate: can the text value `text` become this type?"""
        return f"pg_input_is_valid({text}, '{self.sql_type(field)}')"

    def sql_from_text(self, field, text: str) -> str:
        return f"({text})::{self.sql_type(field)}"


def sql_literal(value) -> str:
    """A safe SQL literal for DDL, where parameters cannot be bound."""
    return Literal(value).as_string(None)


REGISTRY: dict[str, FieldType] = {}


def register(cls: type[FieldType]) -> type[FieldType]:
    REGISTRY[cls.name] = cls()
    return cls


def field_type(name: str) -> FieldType:
    return REGISTRY[name]
