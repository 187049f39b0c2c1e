"""The field-type registry: one class per type (see `base.FieldType`)."""

from . import relations, scalars  # noqa: F401  (registers the types)
from .base import COMPARISONS, CONTAINS, EQ, GT, GTE, LT, LTE, NE, REGISTRY, FieldType, InvalidValue, field_type

__all__ = [
    "COMPARISONS", "CONTAINS", "EQ", "GT", "GTE", "LT", "LTE", "NE",
    "REGISTRY", "FieldType", "InvalidValue", "field_type",
]
