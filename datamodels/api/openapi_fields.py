"""JSON schemas of a data model's records and inputs, one builder per field type.

`model_components` gives a model's `<Name>Record`, `<Name>Input` and friends for
`datamodels.api.openapi`; `strict` schemas (inputs) carry the write-time limits.
"""

from __future__ import annotations

from ..dynamic import ModelEntry, Schema

INT64 = (-(2**63), 2**63 - 1)
FLOAT32_MAX = 3.4028234663852886e38  # pgvector stores 32-bit floats
RECORD_ID_EXAMPLE = "rec_01HZX3K5V6Y7Z8A9B0C1D2E3F4"


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def json_value_schema() -> dict:
    """`JsonValue`: any JSON value a json field stores; PostgreSQL's jsonb holds no U+0000 in a string.

    (Nor in an object key, which OpenAPI 3.0 cannot constrain: the description says so.)
    """
    nested = {"nullable": True, "allOf": [ref("JsonValue")]}
    return {
        "description": "Any JSON value. No string in it, object keys included, may contain U+0000.",
        "anyOf": [{"type": "boolean"}, {"type": "number"}, {"type": "string", "pattern": NO_NUL},
                  {"type": "array", "items": nested}, {"type": "object", "additionalProperties": nested}],
    }


# What Django's URLValidator(schemes=["http", "https"]) accepts, in the plain form a pattern can say.
HTTP_URL = "^https?://(?:[a-z0-9]+\\.)+[a-z]{2,63}(?::[0-9]{1,4})?(?:/[A-Za-z0-9._~%!$&'()*+,;=:@/?#-]*)?$"
NO_NUL = "^[^\\x00]*$"  # PostgreSQL text cannot hold U+0000: the server refuses it in any value


def _text(field, strict):
    schema = {"type": "string"}
    if strict and field.max_length:
        schema["maxLength"] = field.max_length
    if strict:
        schema["pattern"] = field.regex or NO_NUL
    return schema


def _formatted(fmt, *, limits=True):
    def build(field, strict):
        return {**(_text(field, strict) if limits else {"type": "string"}), "format": fmt}
    return build


def _number(json_type, fmt, low, high):
    def build(field, strict):
        schema = {"type": json_type, "format": fmt}
        if strict:
            minimum = field.min_value if field.min_value is not None else low
            maximum = field.max_value if field.max_value is not None else high
            schema.update({k: v for k, v in (("minimum", minimum), ("maximum", maximum)) if v is not None})
        return schema
    return build


def _vector(field, strict):
    number = {"type": "number", "minimum": -FLOAT32_MAX, "maximum": FLOAT32_MAX} if strict else {"type": "number"}
    items = {"type": "array", "items": number}
    if field.dimensions:
        items.update(minItems=field.dimensions, maxItems=field.dimensions)
    return items


# Each builder gives the JSON schema of a non-null value; `strict` adds the write-time limits.
TYPE_SCHEMAS = {
    "text": _text,
    "long_text": _text,
    "email": _formatted("email"),
    "url": lambda field, strict: {**_formatted("uri")(field, strict), **({"pattern": HTTP_URL} if strict else {})},
    "date": _formatted("date", limits=False),
    "datetime": _formatted("date-time", limits=False),
    "select": lambda field, strict: {"type": "string", "enum": list(field.choices)},
    "multi_select": lambda field, strict: {"type": "array", "items": {"type": "string", "enum": list(field.choices)}},
    "integer": _number("integer", "int64", *INT64),
    "number": _number("number", "double", None, None),
    "boolean": lambda field, strict: {"type": "boolean"},
    "json": lambda field, strict: {"allOf": [ref("JsonValue")]} if strict else {},
    "vector": _vector,
}


def value_schema(field, *, strict: bool) -> dict:
    """The schema of a field's non-null value (relations: their ids); unknown types accept anything."""
    if field.type == "relation":
        record_id = {"type": "string", "pattern": NO_NUL} if strict else {"type": "string"}
        return {"type": "array", "items": record_id} if field.many else record_id
    build = TYPE_SCHEMAS.get(field.type)
    return build(field, strict) if build else {}


def _nullable(schema: dict) -> dict:
    if not schema:  # "any value" already includes null
        return schema
    schema = {**schema, "nullable": True}
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    return schema


def _describe(field, schema: dict) -> dict:
    notes = [field.help_text] if field.help_text else []
    if field.unique:
        notes.append("Unique: a value already used is a 409 `CONFLICT`.")
    if field.type == "vector":
        source = f" computed from {', '.join(field.source_fields)}" if field.source_fields else ""
        notes.append(f"Vector of {field.dimensions} numbers{source}; returned only when named in `fields`.")
    if field.type == "json":
        notes.append("Any JSON value.")
    return {**schema, "description": " ".join(notes)} if notes else schema


def record_property(field, names: dict[int, str]) -> dict:
    """A field as it appears in a record: nullable; a relation may be expanded by `include`."""
    if field.type != "relation" or field.related_model_id not in names:  # a target the caller cannot read
        return _describe(field, _nullable(value_schema(field, strict=False)))
    expanded = ref(f"{names[field.related_model_id]}Record")
    if field.many:
        return _describe(field, {"type": "array", "items": {"anyOf": [{"type": "string"}, expanded]},
                                 "description": "Ids of the related records, or the records with `include`."})
    return _describe(field, {"anyOf": [{"type": "string", "nullable": True}, expanded],
                             "description": "Id of the related record, or the record with `include`."})


def input_property(field, names: dict[int, str], schema_: Schema) -> dict:
    """A field in a write body, with the limits the server enforces.

    A relation names its model in `x-related-model` (when the caller may read it): its
    values must be ids of that model's records, which no schema keyword can say.
    """
    schema = value_schema(field, strict=True)
    if field.type == "relation" and field.related_model_id in names:
        schema["x-related-model"] = schema_.by_id[field.related_model_id].name
    if field.required and schema.get("type") == "string" and "enum" not in schema:
        schema["minLength"] = max(schema.get("minLength", 0), 1)
    if field.required and schema.get("type") == "array":
        schema["minItems"] = max(schema.get("minItems", 0), 1)
    if not field.required:
        schema = _nullable(schema)
    if field.default is not None:
        schema["default"] = field.default
    return _describe(field, schema)


def model_components(entry: ModelEntry, schema: Schema, names: dict[int, str]) -> dict:
    base = names[entry.definition.pk]
    system = {
        "id": {"type": "string", "readOnly": True, "example": RECORD_ID_EXAMPLE},
        "created_at": {"type": "string", "format": "date-time", "readOnly": True},
        "updated_at": {"type": "string", "format": "date-time", "readOnly": True},
    }
    record = {
        "type": "object",
        "description": f"A record of `{entry.name}`. Every key is present unless `fields` narrows them; "
                       "vector fields only when named in `fields`.",
        "properties": {**system, **{f.name: record_property(f, names) for f in entry.fields}},
        "additionalProperties": False,
    }
    # A vector with source_fields is computed in the background: clients cannot set it.
    writable = {f.name: input_property(f, names, schema) for f in entry.fields
                if not (f.type == "vector" and f.source_fields)}
    required = [f.name for f in entry.fields if f.required and f.default is None]
    body = {"type": "object", "properties": writable, "additionalProperties": False}
    return {
        f"{base}Record": record,
        f"{base}Input": {**body, **({"required": required} if required else {}),
                         "description": f"A full `{entry.name}` record to create or replace (PUT)."},
        f"Patched{base}Input": {**body, "description": f"The `{entry.name}` fields to change."},
        f"{base}List": {
            "type": "object",
            "properties": {"data": {"type": "array", "items": ref(f"{base}Record")}, "pagination": ref("Pagination")},
            "required": ["data", "pagination"],
        },
        f"{base}Response": {"type": "object", "properties": {"data": ref(f"{base}Record")}, "required": ["data"]},
        f"{base}BulkResponse": {
            "type": "object",
            "properties": {"data": {"type": "array", "items": ref(f"{base}Record")}},
            "required": ["data"],
        },
    }
