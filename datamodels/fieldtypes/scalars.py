"""Scalar field types: text-like, numbers, booleans, dates, choices and JSON."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import models
from .base import COMPARISONS, CONTAINS, EQ, NE, FieldType, InvalidValue, register, sql_literal

MAX_DIGITS = 38  # decimal numbers are numeric(38, d): 38 - d digits before the point
MAX_DECIMAL_PLACES = 20  # numeric(38, d) keeps 18+ digits before the point
# One digit more than a column holds, so quantizing a value one digit too large still
# works and is refused by the digit check; larger values trap InvalidOperation.
# Half away from zero, as PostgreSQL rounds numeric (so API writes and SQL retypes agree).
_NUMERIC = Context(prec=MAX_DIGITS + 1, rounding=ROUND_HALF_UP, traps=[InvalidOperation])
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # with fullmatch: `$` would let "…\n" through
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


class TextBase(FieldType):
    """Shared by every type stored as `text`."""

    family = "text"
    options = frozenset({"max_length", "regex"})
    operators = COMPARISONS | {CONTAINS}

    def sql_type(self, field) -> str:
        return "text"

    def model_field(self, field):
        return models.TextField(db_column=field.column, null=True)

    def index_sql(self, field, table):
        statements = super().index_sql(field, table)
        col = field.column
        statements.append(f'CREATE INDEX "{table}_{col}_trgm" ON "{table}" USING gin ("{col}" gin_trgm_ops)')
        return statements

    def validate(self, field, value):
        if not isinstance(value, str):
            raise InvalidValue("Must be a string")
        if field.max_length and len(value) > field.max_length:
            raise InvalidValue(f"Must be at most {field.max_length} characters")
        if field.regex and not re.search(field.regex, value):
            raise InvalidValue(f"Must match the pattern {field.regex}")
        return value

    def sql_to_text(self, field, col):
        return col

    def sql_fits(self, field, text):
        return "TRUE"

    def sql_from_text(self, field, text):
        return text

    def check_options(self, field):
        if field.regex:
            try:
                re.compile(field.regex)
            except re.error as exc:
                return [f"regex is not a valid regular expression: {exc}"]
        return []


@register
class TextType(TextBase):
    name = "text"


@register
class LongTextType(TextBase):
    name = "long_text"
    can_be_unique = False

    def index_sql(self, field, table):
        col = field.column
        return [f'CREATE INDEX "{table}_{col}_trgm" ON "{table}" USING gin ("{col}" gin_trgm_ops)']


@register
class EmailType(TextBase):
    name = "email"
    options = frozenset({"max_length"})
    _validator = EmailValidator()
    # Django's own two patterns, compiled here once: its lazy wrappers cost a third of a
    # check. They only ever accept early (the common address); anything else still goes
    # through the whole EmailValidator, so what is accepted and refused does not change.
    _user = re.compile(_validator.user_regex.pattern, _validator.user_regex.flags).match
    _domain = re.compile(_validator.domain_regex.pattern, _validator.domain_regex.flags).match

    def validate(self, field, value):
        value = super().validate(field, value)
        user, at, domain = value.rpartition("@")
        if at and len(value) <= 320 and self._user(user) and self._domain(domain):
            return value
        try:
            self._validator(value)
        except ValidationError:
            raise InvalidValue("Must be a valid email address") from None
        return value

    def sql_fits(self, field, text):
        return f"({text}) ~ '^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$'"


@register
class UrlType(TextBase):
    name = "url"
    options = frozenset({"max_length"})
    _validator = URLValidator(schemes=["http", "https"])

    def validate(self, field, value):
        value = super().validate(field, value)
        try:
            self._validator(value)
        except ValidationError:
            raise InvalidValue("Must be a valid http(s) URL") from None
        return value

    def sql_fits(self, field, text):
        return f"({text}) ~* '^https?://[^[:space:]/$.?#][^[:space:]]*$'"


@register
class SelectType(TextBase):
    name = "select"
    options = frozenset({"choices"})
    operators = frozenset({EQ, NE, CONTAINS})

    def validate(self, field, value):
        if not isinstance(value, str) or value not in field.choices:
            raise InvalidValue(f"Must be one of: {', '.join(field.choices)}")
        return value

    def index_sql(self, field, table):
        return FieldType.index_sql(self, field, table)

    def sql_fits(self, field, text):
        return f"({text}) = ANY({sql_literal(list(field.choices))}::text[])"

    def check_options(self, field):
        return _check_choices(field)


@register
class MultiSelectType(FieldType):
    name = "multi_select"
    options = frozenset({"choices"})
    can_be_unique = False
    can_sort = False

    def sql_type(self, field):
        return "text[]"

    def model_field(self, field):
        return ArrayField(models.TextField(), db_column=field.column, null=True)

    def index_sql(self, field, table):
        col = field.column
        return [f'CREATE INDEX "{table}_{col}_idx" ON "{table}" USING gin ("{col}")']

    def validate(self, field, value):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise InvalidValue("Must be a list of strings")
        unknown = [item for item in value if item not in field.choices]
        if unknown:
            raise InvalidValue(f"Must only contain: {', '.join(field.choices)}")
        return list(dict.fromkeys(value))

    def parse_filter(self, field, raw):
        # `tags:x` means "contains x": filters compare one choice with the list.
        return SelectType.validate(self, field, raw)

    def sql_to_text(self, field, col):
        return f"array_to_string({col}, ',')"

    # No subqueries here: ALTER COLUMN ... TYPE ... USING refuses them.
    def sql_fits(self, field, text):
        return f"({self.sql_from_text(field, text)} <@ {sql_literal(list(field.choices))}::text[])"

    def sql_from_text(self, field, text):
        return rf"array_remove(regexp_split_to_array(trim({text}), '\s*,\s*'), '')"

    def check_options(self, field):
        return _check_choices(field)


def _check_choices(field) -> list[str]:
    choices = field.choices
    if not isinstance(choices, list) or not choices:
        return ["choices must be a non-empty list of strings"]
    if not all(isinstance(c, str) and c for c in choices):
        return ["choices must be non-empty strings"]
    if len(set(choices)) != len(choices):
        return ["choices must not repeat"]
    return []


class NumberBase(FieldType):
    """Shared by integer and number: min/max and numeric comparisons."""

    options = frozenset({"min", "max"})
    operators = COMPARISONS

    def check_range(self, field, value):
        if field.min_value is not None and value < field.min_value:
            raise InvalidValue(f"Must be at least {_num(field.min_value)}")
        if field.max_value is not None and value > field.max_value:
            raise InvalidValue(f"Must be at most {_num(field.max_value)}")
        return value

    def check_options(self, field):
        bounds = [v for v in (field.min_value, field.max_value) if v is not None]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in bounds):
            return ["min and max must be finite numbers"]
        if field.min_value is not None and field.max_value is not None and field.min_value > field.max_value:
            return ["min must not be greater than max"]
        return []


def _num(value: float):
    return int(value) if float(value).is_integer() else value


@register
class IntegerType(NumberBase):
    name = "integer"

    def sql_type(self, field):
        return "bigint"

    def model_field(self, field):
        return models.BigIntegerField(db_column=field.column, null=True)

    def validate(self, field, value):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidValue("Must be an integer")
        if not -(2**63) <= value < 2**63:
            raise InvalidValue("Must fit in 64 bits")
        return self.check_range(field, value)

    def parse_filter(self, field, raw):
        try:
            return int(raw)
        except ValueError:
            raise InvalidValue("Must be an integer") from None


@register
class NumberType(NumberBase):
    name = "number"
    options = frozenset({"min", "max", "decimal_places"})

    def check_options(self, field):
        errors = super().check_options(field)
        if field.decimal_places is not None and not 0 <= field.decimal_places <= MAX_DECIMAL_PLACES:
            errors.append(f"decimal_places must be between 0 and {MAX_DECIMAL_PLACES}")
        return errors

    def sql_type(self, field):
        if field.decimal_places is not None:
            return f"numeric(38, {field.decimal_places})"
        return "double precision"

    def model_field(self, field):
        if field.decimal_places is not None:
            return models.DecimalField(
                db_column=field.column, null=True, max_digits=38, decimal_places=field.decimal_places
            )
        return models.FloatField(db_column=field.column, null=True)

    def validate(self, field, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
            raise InvalidValue("Must be a number")
        self.check_range(field, value)
        if field.decimal_places is not None:
            return _to_numeric(value, field.decimal_places)
        try:
            return float(value)
        except OverflowError:  # an integer beyond what a double holds
            raise InvalidValue("Must fit in a double-precision float") from None

    def to_json(self, field, value):
        return float(value) if isinstance(value, Decimal) else value

    def json_sql(self, field, row):
        column = super().json_sql(field, row)
        return f"{column}::float8" if field.decimal_places is not None else column  # a float, as `to_json`

    def parse_filter(self, field, raw):
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise InvalidValue("Must be a number") from None
        if not value.is_finite():
            raise InvalidValue("Must be a number")
        return value if field.decimal_places is not None else float(value)

    def sql_fits(self, field, text):
        return f"(pg_input_is_valid({text}, 'numeric') AND lower(trim({text})) NOT IN ('nan', 'infinity', '-infinity', '+infinity'))"


def _finite(value: int | float) -> bool:
    # math.isfinite raises OverflowError on an int too large for a float; ints are finite.
    return isinstance(value, int) or math.isfinite(value)


def _to_numeric(value: int | float, places: int) -> Decimal:
    """A JSON number → a Decimal with `places` decimals that fits numeric(38, places)."""
    whole = MAX_DIGITS - places
    try:
        number = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), context=_NUMERIC)
    except InvalidOperation:
        number = None
    if number is None or number.adjusted() >= whole:
        raise InvalidValue(f"Must have at most {whole} digits before the decimal point")
    return number


@register
class BooleanType(FieldType):
    name = "boolean"
    can_be_unique = False

    def sql_type(self, field):
        return "boolean"

    def model_field(self, field):
        return models.BooleanField(db_column=field.column, null=True)

    def validate(self, field, value):
        if not isinstance(value, bool):
            raise InvalidValue("Must be true or false")
        return value

    def parse_filter(self, field, raw):
        lowered = raw.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise InvalidValue("Must be true or false")


@register
class DateType(FieldType):
    name = "date"
    operators = COMPARISONS

    def sql_type(self, field):
        return "date"

    def model_field(self, field):
        return models.DateField(db_column=field.column, null=True)

    def validate(self, field, value):
        # fromisoformat alone also takes week dates (2024-W01-1) and 20240101.
        if isinstance(value, str) and _DATE.fullmatch(value):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise InvalidValue("Must be a date as YYYY-MM-DD")

    def to_json(self, field, value):
        return value.isoformat() if value is not None else None


def parse_datetime(value) -> dt.datetime:
    """ISO 8601 → an aware UTC datetime (naive values are taken as UTC)."""
    if isinstance(value, str) and len(value) >= 10:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.timezone.utc)
            try:
                return parsed.astimezone(dt.timezone.utc)
            except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
                raise InvalidValue("Must be between years 1 and 9999 in UTC") from None
    raise InvalidValue("Must be an ISO 8601 date-time, e.g. 2024-01-01T00:00:00Z")


def datetime_json_sql(column: str) -> str:
    """SQL writing a timestamptz as `format_datetime` does: ISO 8601 in UTC with `Z`, and
    six digits of microseconds when there are any (PostgreSQL's own JSON trims zeros)."""
    return (f"""replace(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), """
            "'.000000Z', 'Z')")


def format_datetime(value: dt.datetime | None) -> str | None:
    """An aware datetime → ISO 8601 UTC with `Z`, microseconds kept when present."""
    if value is None:
        return None
    if value.tzinfo is not dt.timezone.utc:  # values read from PostgreSQL are UTC already
        value = value.astimezone(dt.timezone.utc)
    return value.isoformat().replace("+00:00", "Z")


@register
class DateTimeType(FieldType):
    name = "datetime"
    operators = COMPARISONS

    def sql_type(self, field):
        return "timestamptz"

    def model_field(self, field):
        return models.DateTimeField(db_column=field.column, null=True)

    def validate(self, field, value):
        return parse_datetime(value)

    def to_json(self, field, value):
        return format_datetime(value)

    def json_sql(self, field, row):
        return datetime_json_sql(super().json_sql(field, row))

    def sql_to_text(self, field, col):
        return f"""to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


@register
class JsonType(FieldType):
    name = "json"
    operators = frozenset()
    can_be_unique = False
    can_sort = False

    def sql_type(self, field):
        return "jsonb"

    def model_field(self, field):
        return models.JSONField(db_column=field.column, null=True)

    def index_sql(self, field, table):
        col = field.column
        return [f'CREATE INDEX "{table}_{col}_idx" ON "{table}" USING gin ("{col}")']

    def validate(self, field, value):
        return value

    def sql_value(self, field, value):
        return f"{sql_literal(json.dumps(value))}::jsonb"

    def sql_to_text(self, field, col):
        return f"({col} #>> '{{}}')"

    def sql_fits(self, field, text):
        return "TRUE"

    def sql_from_text(self, field, text):
        return f"to_jsonb({text})"
