"""Relation and vector field types: the two that reach beyond one scalar column."""

from __future__ import annotations

from django.db import models
from pgvector import Vector
from pgvector.django import VectorField

from .base import EQ, NE, FieldType, InvalidValue, register

MAX_DIMENSIONS = 16000
# pgvector stores float4 components: from this magnitude up a double rounds to infinity.
FLOAT4_OVERFLOW = 2.0**128 - 2.0**103


def model_label(data_model_id: int) -> str:
    """The generated class name of a data model inside the private apps registry."""
    return f"dynamic.DM{data_model_id}"


@register
class RelationType(FieldType):
    """To-one: a foreign-key column (ON DELETE SET NULL); to-many: a join table."""

    name = "relation"
    options = frozenset({"to", "many"})
    operators = frozenset({EQ, NE})
    convertible = False

    def sql_type(self, field):
        return "varchar(30)"

    def model_field(self, field):
        target = model_label(field.related_model_id)
        if field.many:
            return models.ManyToManyField(
                target,
                through=f"dynamic.DM{field.data_model_id}F{field.pk}",
                through_fields=("source", "target"),
                related_name=f"r_{field.pk}",
                symmetrical=False,
            )
        return models.ForeignKey(
            target, db_column=field.column, null=True, on_delete=models.DO_NOTHING, db_constraint=False,
            related_name=f"r_{field.pk}",
        )

    def attname(self, field):
        return f"{field.column}_id"

    def json_sql(self, field, row):
        if not field.many:
            return super().json_sql(field, row)
        # The ids in the order they were linked, as the renderer reads them.
        return (f"""(SELECT coalesce(json_agg(link.target_id ORDER BY link.id), '[]') FROM "{field.join_table}" """
                f"""link WHERE link.source_id = {row}."id")""")

    def validate(self, field, value):
        if field.many:
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise InvalidValue("Must be a list of record ids")
            return list(dict.fromkeys(value))
        if not isinstance(value, str):
            raise InvalidValue("Must be a record id")
        return value

    def parse_filter(self, field, raw):
        return raw

    @property
    def can_be_unique(self):
        return True

    def check_options(self, field):
        if field.related_model_id is None:
            return ["a relation needs `to`: the model it points to"]
        return []


@register
class VectorType(FieldType):
    """A pgvector `vector(n)` column with an HNSW cosine index."""

    name = "vector"
    options = frozenset({"dimensions", "source_fields"})
    operators = frozenset()
    can_be_unique = False
    can_sort = False
    convertible = False

    def sql_type(self, field):
        return f"vector({field.dimensions})"

    def model_field(self, field):
        return VectorField(dimensions=field.dimensions, db_column=field.column, null=True)

    def index_sql(self, field, table):
        return []

    def validate(self, field, value):
        if not isinstance(value, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
        ):
            raise InvalidValue("Must be a list of numbers")
        if len(value) != field.dimensions:
            raise InvalidValue(f"Must have exactly {field.dimensions} numbers")
        # Compared before any float(): a huge int would overflow it, and NaN fails every comparison.
        if not all(-FLOAT4_OVERFLOW < v < FLOAT4_OVERFLOW for v in value):
            raise InvalidValue("Must only contain 32-bit floats (at most 3.4e38 in magnitude)")
        return [float(v) for v in value]

    def json_sql(self, field, row):
        return None  # float32 components: `to_json` widens them as it always has

    def to_json(self, field, value):
        if value is None:
            return None
        return [float(v) for v in value]

    def sql_value(self, field, value):
        return f"'{Vector._to_db(value)}'::{self.sql_type(field)}"

    def check_options(self, field):
        if not field.dimensions or not 1 <= field.dimensions <= MAX_DIMENSIONS:
            return [f"dimensions must be between 1 and {MAX_DIMENSIONS}"]
        return []
