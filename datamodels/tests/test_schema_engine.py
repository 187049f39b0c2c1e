"""The schema engine against real PostgreSQL: columns, indexes, alterations, refusals, rewrites.

Every change goes through `datamodels.services`; assertions read the catalog
(`pg_attribute`, `pg_indexes`, `pg_constraint`) and the user tables themselves.
"""

from __future__ import annotations

import pytest

from datamodels import services
from datamodels.models import DataModel, Field
from infinity.exceptions import SchemaError

from .conftest import (
    column_type,
    column_values,
    constraint_defs,
    fetch,
    filenode,
    index_defs,
    insert,
    read,
    read_all,
    schema_version,
    table_exists,
)

pytestmark = pytest.mark.django_db


def field_of(data_model: DataModel, name: str) -> Field:
    return Field.objects.select_related("data_model").get(data_model=data_model, name=name)


def user_tables() -> set[str]:
    return {row[0] for row in fetch(r"SELECT tablename FROM pg_tables WHERE tablename ~ '^dm_\d+'")}


@pytest.fixture
def targets(make_model):
    """A model `targets` with two records; returns their ids."""
    make_model("targets", [{"name": "label", "type": "text"}])
    return [insert("targets", {"label": "one"}), insert("targets", {"label": "two"})]


def model_with(make_model, attrs: dict) -> tuple[DataModel, Field]:
    """A model `items` with one field `value` defined by `attrs` (`to` names the target model)."""
    attrs = {"name": "value", **attrs}
    if "to" in attrs:
        attrs["related_model"] = DataModel.objects.get(name=attrs.pop("to"))
    data_model = make_model("items", [attrs])
    return data_model, field_of(data_model, "value")


# --- 1. every field type round-trips through its column ----------------------------------------

ROUND_TRIPS = [
    pytest.param({"type": "text", "max_length": 200}, "héllo, wörld ✓", "text", id="text"),
    pytest.param({"type": "long_text"}, "line one\nline two\n" * 2000, "text", id="long_text"),
    pytest.param({"type": "integer"}, -(2**63), "bigint", id="integer-min"),
    pytest.param({"type": "integer"}, 2**63 - 1, "bigint", id="integer-max"),
    pytest.param({"type": "number"}, 3.141592653589793, "double precision", id="number-float"),
    pytest.param({"type": "number", "decimal_places": 2}, 12.34, "numeric(38,2)", id="number-decimal"),
    pytest.param({"type": "boolean"}, False, "boolean", id="boolean"),
    pytest.param({"type": "date"}, "2024-02-29", "date", id="date"),
    pytest.param({"type": "datetime"}, "2024-02-29T23:59:58.123456Z", "timestamp with time zone", id="datetime"),
    pytest.param({"type": "email"}, "ada@example.com", "text", id="email"),
    pytest.param({"type": "url"}, "https://example.com/a?b=c#d", "text", id="url"),
    pytest.param({"type": "select", "choices": ["red", "green"]}, "green", "text", id="select"),
    pytest.param(
        {"type": "multi_select", "choices": ["red", "green", "blue"]}, ["blue", "red"], "text[]", id="multi_select"
    ),
    pytest.param({"type": "json"}, {"a": [1, 2.5, None, True], "b": {"c": "d"}}, "jsonb", id="json-object"),
    pytest.param({"type": "json"}, "just a string", "jsonb", id="json-string"),
    pytest.param({"type": "vector", "dimensions": 3}, [0.5, -1.0, 2.25], "vector(3)", id="vector"),
    pytest.param({"type": "relation", "to": "targets"}, "TARGET_1", "character varying(30)", id="relation-one"),
    pytest.param(
        {"type": "relation", "to": "targets", "many": True}, ["TARGET_1", "TARGET_0"], None, id="relation-many"
    ),
]


def with_targets(value, target_ids: list[str]):
    """Replace the `TARGET_<n>` placeholders of a parameter with real record ids."""
    if isinstance(value, str) and value.startswith("TARGET_"):
        return target_ids[int(value.removeprefix("TARGET_"))]
    if isinstance(value, list):
        return [with_targets(item, target_ids) for item in value]
    return value


@pytest.mark.parametrize(("attrs", "value", "sql_type"), ROUND_TRIPS)
def test_field_type_has_its_column_type(make_model, targets, attrs, value, sql_type):
    data_model, field = model_with(make_model, attrs)
    assert column_type(data_model.db_table, field.column) == sql_type


@pytest.mark.parametrize(("attrs", "value", "sql_type"), ROUND_TRIPS)
def test_value_round_trips_through_the_column(make_model, targets, attrs, value, sql_type):
    model_with(make_model, attrs)
    value = with_targets(value, targets)
    record_id = insert("items", {"value": value})
    expected = sorted(value) if attrs.get("many") else value
    assert read("items", record_id, "value") == expected


# Index definitions as `pg_indexes` prints them; {t} is the table, {c} the column.
BTREE = {"idx": "CREATE INDEX {t}_{c}_idx ON public.{t} USING btree ({c}, id)"}
GIN = {"idx": "CREATE INDEX {t}_{c}_idx ON public.{t} USING gin ({c})"}
TRGM = {"trgm": "CREATE INDEX {t}_{c}_trgm ON public.{t} USING gin ({c} gin_trgm_ops)"}
UNIQ = {"uniq": "CREATE UNIQUE INDEX {t}_{c}_uniq ON public.{t} USING btree ({c})"}
HNSW = {"hnsw": "CREATE INDEX {t}_{c}_hnsw ON public.{t} USING hnsw ({c} vector_cosine_ops)"}

INDEXES = [
    pytest.param({"type": "text"}, {}, id="text-plain"),
    pytest.param({"type": "text", "unique": True}, UNIQ, id="text-unique"),
    pytest.param({"type": "text", "indexed": True}, BTREE | TRGM, id="text-indexed"),
    pytest.param({"type": "email", "unique": True, "indexed": True}, BTREE | TRGM | UNIQ, id="email-unique-indexed"),
    pytest.param({"type": "long_text", "indexed": True}, TRGM, id="long_text-indexed"),
    pytest.param({"type": "integer", "indexed": True}, BTREE, id="integer-indexed"),
    pytest.param({"type": "number", "unique": True}, UNIQ, id="number-unique"),
    pytest.param({"type": "boolean", "indexed": True}, BTREE, id="boolean-indexed"),
    pytest.param({"type": "datetime", "indexed": True}, BTREE, id="datetime-indexed"),
    pytest.param({"type": "select", "choices": ["a"], "indexed": True}, BTREE, id="select-indexed"),
    pytest.param({"type": "multi_select", "choices": ["a"], "indexed": True}, GIN, id="multi_select-indexed"),
    pytest.param({"type": "json", "indexed": True}, GIN, id="json-indexed"),
    pytest.param({"type": "vector", "dimensions": 3}, HNSW, id="vector"),
    pytest.param({"type": "vector", "dimensions": 3, "indexed": True}, HNSW, id="vector-indexed"),
    pytest.param({"type": "relation", "to": "targets"}, BTREE, id="relation-one"),
    pytest.param({"type": "relation", "to": "targets", "unique": True}, BTREE | UNIQ, id="relation-one-unique"),
    pytest.param({"type": "relation", "to": "targets", "many": True}, {}, id="relation-many"),
]


@pytest.mark.parametrize(("attrs", "expected"), INDEXES)
def test_field_gets_the_indexes_its_definition_asks_for(make_model, targets, attrs, expected):
    data_model, field = model_with(make_model, attrs)
    t, c = data_model.db_table, field.column
    assert index_defs(t) == {f"{t}_{c}_{suffix}": d.format(t=t, c=c) for suffix, d in expected.items()}


def test_to_one_relation_is_a_foreign_key_that_sets_null(make_model, targets):
    data_model, field = model_with(make_model, {"type": "relation", "to": "targets"})
    target_table = DataModel.objects.get(name="targets").db_table
    assert constraint_defs(data_model.db_table, "f") == [
        f"FOREIGN KEY ({field.column}) REFERENCES {target_table}(id) ON DELETE SET NULL"
    ]


def test_deleting_a_related_record_clears_the_to_one_relation(make_model, targets):
    data_model, field = model_with(make_model, {"type": "relation", "to": "targets"})
    record_id = insert("items", {"value": targets[0]})
    fetch(f'DELETE FROM "{DataModel.objects.get(name="targets").db_table}" WHERE id = %s RETURNING id', [targets[0]])
    assert read("items", record_id, "value") is None


def test_to_many_relation_is_a_join_table_with_cascading_keys(make_model, targets):
    data_model, field = model_with(make_model, {"type": "relation", "to": "targets", "many": True})
    join, target_table = field.join_table, DataModel.objects.get(name="targets").db_table
    assert column_type(data_model.db_table, field.column) is None
    assert [column_type(join, c) for c in ("source_id", "target_id")] == ["character varying(30)"] * 2
    assert constraint_defs(join, "f") == [
        f"FOREIGN KEY (source_id) REFERENCES {data_model.db_table}(id) ON DELETE CASCADE",
        f"FOREIGN KEY (target_id) REFERENCES {target_table}(id) ON DELETE CASCADE",
    ]
    assert constraint_defs(join, "u") == ["UNIQUE (source_id, target_id)"]
    assert f"{join}_target_idx" in index_defs(join)


# --- 2. each kind of alteration keeps data -------------------------------------------------------


def test_adding_a_nullable_field_leaves_existing_records_empty(things):
    field = services.field_create(data_model=things, name="note", type="text")
    assert column_type(things.db_table, field.column) == "text"
    assert read_all("things", "note") == [None, None, None]


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        pytest.param({"type": "text", "default": "n/a"}, "n/a", id="text"),
        pytest.param({"type": "integer", "default": 7}, 7, id="integer"),
        pytest.param({"type": "number", "default": 0.25}, 0.25, id="number-float"),
        pytest.param({"type": "number", "decimal_places": 2, "default": 9.5}, 9.5, id="number-decimal"),
        pytest.param({"type": "boolean", "default": True}, True, id="boolean"),
        pytest.param({"type": "date", "default": "2024-01-31"}, "2024-01-31", id="date"),
        pytest.param({"type": "datetime", "default": "2024-01-31T10:00:00Z"}, "2024-01-31T10:00:00Z", id="datetime"),
        pytest.param({"type": "select", "choices": ["new", "old"], "default": "new"}, "new", id="select"),
        pytest.param(
            {"type": "multi_select", "choices": ["x", "y"], "default": ["y", "x"]}, ["y", "x"], id="multi_select"
        ),
        pytest.param({"type": "json", "default": {"k": [1, "two"]}}, {"k": [1, "two"]}, id="json"),
    ],
)
def test_adding_a_field_with_a_default_fills_existing_records(things, attrs, expected):
    services.field_create(data_model=things, name="extra", **attrs)
    assert read_all("things", "extra") == [expected] * 3


def test_a_default_is_not_left_on_the_column(things):
    field = services.field_create(data_model=things, name="stock", type="integer", default=7)
    rows = fetch(
        "SELECT column_default FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
        [things.db_table, field.column],
    )
    assert rows == [(None,)]


def test_renaming_a_field_keeps_its_column_and_data(things):
    field = field_of(things, "title")
    services.field_update(field=field, name="heading")
    renamed = field_of(things, "heading")
    assert (renamed.pk, renamed.column) == (field.pk, field.column)
    assert read_all("things", "heading") == ["alpha", "beta", "gamma"]
    assert "title" not in Field.objects.filter(data_model=things).values_list("name", flat=True)


def test_renaming_a_source_field_follows_in_the_vector_field(things):
    services.field_create(data_model=things, name="embedding", type="vector", dimensions=384, source_fields=["title"])
    services.field_update(field=field_of(things, "title"), name="heading")
    assert field_of(things, "embedding").source_fields == ["heading"]


def test_renaming_a_model_keeps_its_table(things):
    table = things.db_table
    services.data_model_update(data_model=things, name="gadgets")
    assert DataModel.objects.get(name="gadgets").db_table == table
    assert table_exists(table)
    assert read_all("gadgets", "title") == ["alpha", "beta", "gamma"]


RETYPES = [
    pytest.param({"type": "text"}, ["1", " 42 ", "-7", None], {"type": "integer"}, [1, 42, -7, None], "bigint",
                 id="text-integer"),
    pytest.param({"type": "integer"}, [1, -3, 2**53], {"type": "number"}, [1.0, -3.0, 9007199254740992.0],
                 "double precision", id="integer-number"),
    pytest.param({"type": "integer"}, [5, -12], {"type": "number", "decimal_places": 2}, [5.0, -12.0],
                 "numeric(38,2)", id="integer-decimal"),
    pytest.param({"type": "number"}, [1.5, 2.0, -0.25, 1e20], {"type": "text"}, ["1.5", "2", "-0.25", "1e+20"],
                 "text", id="number-text"),
    pytest.param({"type": "number", "decimal_places": 2}, [1.5, 3], {"type": "text"}, ["1.50", "3.00"], "text",
                 id="decimal-text"),
    pytest.param({"type": "text"}, ["short", "x" * 10000], {"type": "long_text"}, ["short", "x" * 10000], "text",
                 id="text-long_text"),
    pytest.param({"type": "long_text"}, ["short", "x" * 10000], {"type": "text"}, ["short", "x" * 10000], "text",
                 id="long_text-text"),
    pytest.param({"type": "text"}, ["a", "b", None], {"type": "select", "choices": ["a", "b", "c"]},
                 ["a", "b", None], "text", id="text-select"),
    pytest.param({"type": "select", "choices": ["a", "b"]}, ["a", "b"], {"type": "multi_select"}, [["a"], ["b"]],
                 "text[]", id="select-multi_select"),
    pytest.param({"type": "text"}, [" a , b ", "c", "", None], {"type": "multi_select", "choices": ["a", "b", "c"]},
                 [["a", "b"], ["c"], [], None], "text[]", id="text-multi_select"),
    pytest.param({"type": "multi_select", "choices": ["a", "b"]}, [["b", "a"]], {"choices": ["a", "b", "c"]},
                 [["b", "a"]], "text[]", id="choice-added"),
    pytest.param({"type": "multi_select", "choices": ["a", "b"]}, [["a", "b"], ["b"]], {"type": "text"},
                 ["a,b", "b"], "text", id="multi_select-text"),
    pytest.param({"type": "integer"}, [5, -1], {"type": "json"}, [5, -1], "jsonb", id="integer-json"),
    pytest.param({"type": "number"}, [2.5], {"type": "json"}, [2.5], "jsonb", id="number-json"),
    pytest.param({"type": "boolean"}, [True, False], {"type": "json"}, [True, False], "jsonb", id="boolean-json"),
    pytest.param({"type": "text"}, ["hi", "42"], {"type": "json"}, ["hi", "42"], "jsonb", id="text-json"),
    pytest.param({"type": "json"}, [7, "seven"], {"type": "text"}, ["7", "seven"], "text", id="json-text"),
    pytest.param({"type": "text"}, ["true", "no"], {"type": "boolean"}, [True, False], "boolean", id="text-boolean"),
    pytest.param({"type": "date"}, ["2024-03-01"], {"type": "datetime"}, ["2024-03-01T00:00:00Z"],
                 "timestamp with time zone", id="date-datetime"),
    pytest.param({"type": "text"}, ["2024-03-01"], {"type": "date"}, ["2024-03-01"], "date", id="text-date"),
]


@pytest.mark.parametrize(("old", "values", "new", "expected", "sql_type"), RETYPES)
def test_retype_keeps_values_that_fit(make_model, old, values, new, expected, sql_type):
    data_model = make_model("items", [{"name": "value", **old}])
    for value in values:
        insert("items", {"value": value})
    services.field_update(field=field_of(data_model, "value"), **new)
    field = field_of(data_model, "value")
    assert (field.type, column_type(data_model.db_table, field.column)) == (new.get("type", old["type"]), sql_type)
    assert read_all("items", "value") == expected


@pytest.mark.parametrize(
    ("option", "suffixes"), [("unique", ["uniq"]), ("indexed", ["idx", "trgm"])]
)
def test_toggling_an_index_option_creates_then_drops_the_index(things, option, suffixes):
    field = field_of(things, "title")
    names = [f"{things.db_table}_{field.column}_{s}" for s in suffixes]
    services.field_update(field=field, **{option: True})
    assert sorted(index_defs(things.db_table)) == sorted(names)
    services.field_update(field=field_of(things, "title"), **{option: False})
    assert index_defs(things.db_table) == {}
    assert read_all("things", "title") == ["alpha", "beta", "gamma"]


def test_dropping_a_field_drops_its_column(things):
    field = field_of(things, "title")
    services.field_delete(field=field)
    assert column_type(things.db_table, field.column) is None
    assert not Field.objects.filter(pk=field.pk).exists()


def test_dropping_a_to_many_field_drops_its_join_table(make_model, targets):
    data_model, field = model_with(make_model, {"type": "relation", "to": "targets", "many": True})
    services.field_delete(field=field)
    assert not table_exists(field.join_table)


def test_deleting_a_model_drops_its_table_and_join_tables(make_model, targets):
    data_model, field = model_with(make_model, {"type": "relation", "to": "targets", "many": True})
    insert("items", {"value": targets})
    services.data_model_delete(data_model=data_model)
    assert (table_exists(data_model.db_table), table_exists(field.join_table)) == (False, False)
    assert not DataModel.objects.filter(name="items").exists()
    assert not Field.objects.filter(pk=field.pk).exists()


def test_deleting_a_model_with_a_relation_to_itself(make_model):
    data_model = make_model("nodes", [{"name": "label", "type": "text"}])
    services.field_create(data_model=data_model, name="parent", type="relation", related_model=data_model)
    services.field_create(data_model=data_model, name="links", type="relation", related_model=data_model, many=True)
    services.data_model_delete(data_model=data_model)
    assert not table_exists(data_model.db_table)


@pytest.mark.parametrize("many", [False, True], ids=["to-one", "to-many"])
def test_deleting_a_model_that_others_relate_to_is_refused(make_model, targets, many):
    model_with(make_model, {"type": "relation", "to": "targets", "many": many})
    target = DataModel.objects.get(name="targets")
    version = schema_version()
    with pytest.raises(SchemaError) as exc:
        services.data_model_delete(data_model=target)
    assert exc.value.message == '"targets" cannot be deleted while these relations point to it: items.value'
    assert (table_exists(target.db_table), schema_version()) == (True, version)
    assert read_all("targets", "label") == ["one", "two"]


# --- 3. lossy changes are refused unless forced --------------------------------------------------

# old definition, its values, the change, the refusal (after `from`), values and column type when forced
LOSSY = [
    pytest.param(
        {"type": "text"}, ["1", "x", "3"], {"type": "integer"},
        "text to integer would lose 1 value(s) that do not convert",
        [1, None, 3], "bigint", id="text-integer",
    ),
    pytest.param(
        {"type": "number"}, [1.0, 1.5], {"type": "integer"},
        "number to integer would lose 1 value(s) that do not convert",
        [1, None], "bigint", id="number-integer",
    ),
    pytest.param(
        {"type": "text"}, ["2024-01-01", "soon"], {"type": "date"},
        "text to date would lose 1 value(s) that do not convert",
        ["2024-01-01", None], "date", id="text-date",
    ),
    pytest.param(
        {"type": "text"}, ["a@b.co", "nope"], {"type": "email"},
        "text to email would lose 1 value(s) that do not convert",
        ["a@b.co", None], "text", id="text-email",
    ),
    pytest.param(
        {"type": "text"}, ["a", "b", "c"], {"type": "select", "choices": ["a"]},
        "text to select would lose 2 value(s) that do not convert",
        ["a", None, None], "text", id="text-select",
    ),
    pytest.param(
        {"type": "select", "choices": ["a", "b"]}, ["a", "b"], {"choices": ["a"]},
        "select to select would lose 1 value(s) that do not convert",
        ["a", None], "text", id="choice-removed",
    ),
    pytest.param(
        {"type": "text"}, ["a,b", "a,x"], {"type": "multi_select", "choices": ["a", "b"]},
        "text to multi_select would lose 1 value(s) that do not convert",
        [["a", "b"], None], "text[]", id="text-multi_select",
    ),
    pytest.param(
        {"type": "multi_select", "choices": ["a", "b"]}, [["a"], ["a", "b"]], {"choices": ["a"]},
        "multi_select to multi_select would lose 1 value(s) that do not convert",
        [["a"], None], "text[]", id="multi_choice-removed",
    ),
    pytest.param(
        {"type": "vector", "dimensions": 3}, [[1, 2, 3], [4, 5, 6]], {"dimensions": 4},
        "vector(3) to vector(4) would lose 2 value(s) that do not carry over",
        [None, None], "vector(4)", id="vector-dimensions",
    ),
]


@pytest.mark.parametrize(("old", "values", "new", "loss", "forced", "forced_type"), LOSSY)
def test_lossy_change_is_refused_and_changes_nothing(make_model, old, values, new, loss, forced, forced_type):
    data_model = make_model("items", [{"name": "value", **old}])
    for value in values:
        insert("items", {"value": value})
    field, version = field_of(data_model, "value"), schema_version()
    sql_type, stored = column_type(data_model.db_table, field.column), column_values(field)
    with pytest.raises(SchemaError) as exc:
        services.field_update(field=field, **new)
    assert exc.value.message == f'changing "value" from {loss}; fix or clear them first, or force the change'
    assert column_type(data_model.db_table, field.column) == sql_type
    assert column_values(field) == stored
    assert (field_of(data_model, "value").type, schema_version()) == (old["type"], version)


@pytest.mark.parametrize(("old", "values", "new", "loss", "forced", "forced_type"), LOSSY)
def test_forced_lossy_change_empties_values_that_do_not_fit(make_model, old, values, new, loss, forced, forced_type):
    data_model = make_model("items", [{"name": "value", **old}])
    for value in values:
        insert("items", {"value": value})
    services.field_update(field=field_of(data_model, "value"), force=True, **new)
    field = field_of(data_model, "value")
    assert column_type(data_model.db_table, field.column) == forced_type
    assert read_all("items", "value") == forced


def test_forced_vector_resize_keeps_its_hnsw_index(make_model):
    data_model = make_model("items", [{"name": "value", "type": "vector", "dimensions": 3}])
    insert("items", {"value": [1, 2, 3]})
    services.field_update(field=field_of(data_model, "value"), force=True, dimensions=4)
    t, c = data_model.db_table, field_of(data_model, "value").column
    assert index_defs(t) == {f"{t}_{c}_hnsw": HNSW["hnsw"].format(t=t, c=c)}


def test_vector_resize_without_data_needs_no_force(make_model):
    data_model = make_model("items", [{"name": "value", "type": "vector", "dimensions": 3}])
    services.field_update(field=field_of(data_model, "value"), dimensions=4)
    assert column_type(data_model.db_table, field_of(data_model, "value").column) == "vector(4)"


@pytest.mark.parametrize("force", [False, True], ids=["plain", "forced"])
def test_making_a_field_with_duplicates_unique_is_refused(things, force):
    insert("things", {"title": "alpha"})
    field, version = field_of(things, "title"), schema_version()
    with pytest.raises(SchemaError) as exc:
        services.field_update(field=field, unique=True, force=force)
    assert exc.value.message == '"title" cannot be unique: 1 value(s) occur more than once'
    assert (index_defs(things.db_table), field_of(things, "title").unique, schema_version()) == ({}, False, version)


@pytest.mark.parametrize("force", [False, True], ids=["plain", "forced"])
def test_retype_that_makes_unique_values_collide_is_refused(make_model, force):
    data_model = make_model("items", [{"name": "value", "type": "text", "unique": True}])
    insert("items", {"value": "1"})
    insert("items", {"value": "01"})
    field = field_of(data_model, "value")
    with pytest.raises(SchemaError) as exc:
        services.field_update(field=field, type="integer", force=force)
    assert exc.value.message == '"value" cannot be unique: 1 value(s) would occur more than once as integer'
    assert column_type(data_model.db_table, field.column) == "text"
    assert column_values(field) == ["1", "01"]


# --- 4. invalid definitions are refused with clear messages --------------------------------------

MODEL_NAME_ERRORS = [
    ("Customers", 'model name "Customers" must start with a lowercase letter and use only a-z, 0-9 and _'),
    ("1abc", 'model name "1abc" must start with a lowercase letter and use only a-z, 0-9 and _'),
    ("first-name", 'model name "first-name" must start with a lowercase letter and use only a-z, 0-9 and _'),
    ("", 'model name "" must start with a lowercase letter and use only a-z, 0-9 and _'),
    ("a" * 64, f'model name "{"a" * 64}" is longer than 63 characters'),
    ("select", 'model name "select" is a reserved word'),
    ("search", 'model name "search" is a reserved word'),
]


@pytest.mark.parametrize(("name", "message"), MODEL_NAME_ERRORS, ids=[m[0][:10] or "empty" for m in MODEL_NAME_ERRORS])
def test_bad_model_name_is_refused(db, name, message):
    tables, version = user_tables(), schema_version()
    with pytest.raises(SchemaError) as exc:
        services.data_model_create(name=name, fields=[{"name": "title", "type": "text"}])
    assert exc.value.message == message
    assert (DataModel.objects.count(), user_tables(), schema_version()) == (0, tables, version)


def test_a_63_character_model_name_is_accepted(make_model):
    assert table_exists(make_model("a" * 63).db_table)


def test_duplicate_model_name_is_refused(things):
    with pytest.raises(SchemaError) as exc:
        services.data_model_create(name="things")
    assert exc.value.message == 'a model named "things" already exists'


@pytest.mark.parametrize(
    ("name", "new_name", "message"),
    [
        ("things", "Things", 'model name "Things" must start with a lowercase letter and use only a-z, 0-9 and _'),
        ("things", "others", 'a model named "others" already exists'),
    ],
)
def test_bad_model_rename_is_refused(make_model, name, new_name, message):
    data_model, _ = make_model("things"), make_model("others")
    with pytest.raises(SchemaError) as exc:
        services.data_model_update(data_model=data_model, name=new_name)
    assert exc.value.message == message
    assert DataModel.objects.get(pk=data_model.pk).name == "things"


RESERVED = ["id", "created_at", "updated_at", "page", "limit", "sort", "filter", "fields", "include", "cursor",
            "query", "threshold"]
NAME_RULE = "must start with a lowercase letter, use only a-z, 0-9 and _, and be at most 63 characters"
ALL_TYPES = ("boolean, date, datetime, email, integer, json, long_text, multi_select, number, relation, select, "
             "text, url, vector")

FIELD_ERRORS = [
    *[pytest.param({"name": n, "type": "text"}, f'field name "{n}" {NAME_RULE}', id=f"name-{n[:8] or 'empty'}")
      for n in ("Title", "2nd", "first-name", "", "a" * 64)],
    *[pytest.param({"name": n, "type": "text"}, f'field name "{n}" is reserved', id=f"reserved-{n}") for n in RESERVED],
    pytest.param({"name": "title", "type": "integer"}, 'title: the model already has a field named "title"',
                 id="duplicate"),
    pytest.param({"name": "price", "type": "money"}, f'price: unknown type "money" (one of: {ALL_TYPES})',
                 id="unknown-type"),
    pytest.param({"name": "status", "type": "select"}, "status: choices must be a non-empty list of strings",
                 id="select-no-choices"),
    pytest.param({"name": "tags", "type": "multi_select", "choices": ["a", "a"]}, "tags: choices must not repeat",
                 id="repeated-choices"),
    pytest.param({"name": "embedding", "type": "vector"}, "embedding: dimensions must be between 1 and 16000",
                 id="vector-no-dimensions"),
    pytest.param({"name": "embedding", "type": "vector", "dimensions": 16001},
                 "embedding: dimensions must be between 1 and 16000", id="vector-too-many-dimensions"),
    pytest.param({"name": "company", "type": "relation"}, "company: a relation needs `to`: the model it points to",
                 id="relation-no-to"),
    pytest.param({"name": "stock", "type": "integer", "min_value": 10, "max_value": 1},
                 "stock: min must not be greater than max", id="min-over-max"),
    pytest.param({"name": "code", "type": "text", "regex": "[a-"},
                 "code: regex is not a valid regular expression: unterminated character set at position 0",
                 id="bad-regex"),
    pytest.param({"name": "stock", "type": "integer", "default": "many"},
                 "stock: default is invalid: Must be an integer",
                 id="default-integer"),
    pytest.param({"name": "stock", "type": "integer", "min_value": 0, "default": -1},
                 "stock: default is invalid: Must be at least 0", id="default-below-min"),
    pytest.param({"name": "status", "type": "select", "choices": ["on", "off"], "default": "maybe"},
                 "status: default is invalid: Must be one of: on, off", id="default-not-a-choice"),
    pytest.param({"name": "day", "type": "date", "default": "tomorrow"},
                 "day: default is invalid: Must be a date as YYYY-MM-DD", id="default-date"),
    pytest.param({"name": "embedding", "type": "vector", "dimensions": 384, "source_fields": ["qty"]},
                 "embedding: source_fields must name text fields of this model (not: qty)", id="source-not-text"),
    pytest.param({"name": "embedding", "type": "vector", "dimensions": 384, "source_fields": ["title", "nope"]},
                 "embedding: source_fields must name text fields of this model (not: nope)", id="source-unknown"),
    pytest.param({"name": "bio", "type": "long_text", "unique": True}, "bio: a long_text field cannot be unique",
                 id="unique-long_text"),
    pytest.param({"name": "data", "type": "json", "unique": True}, "data: a json field cannot be unique",
                 id="unique-json"),
]


@pytest.mark.parametrize(("attrs", "message"), FIELD_ERRORS)
def test_bad_field_definition_is_refused_and_changes_nothing(make_model, attrs, message):
    data_model = make_model("things", [{"name": "title", "type": "text"}, {"name": "qty", "type": "integer"}])
    columns = fetch("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass ORDER BY attnum",
                    [data_model.db_table])
    version, tables = schema_version(), user_tables()
    with pytest.raises(SchemaError) as exc:
        services.field_create(data_model=data_model, **attrs)
    assert exc.value.message == message
    assert list(Field.objects.filter(data_model=data_model).values_list("name", flat=True)) == ["title", "qty"]
    assert fetch("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass ORDER BY attnum",
                 [data_model.db_table]) == columns
    assert (schema_version(), user_tables()) == (version, tables)


def test_model_with_one_bad_field_is_not_created(db):
    tables = user_tables()
    with pytest.raises(SchemaError) as exc:
        services.data_model_create(name="things", fields=[{"name": "title", "type": "text"},
                                                          {"name": "id", "type": "text"}])
    assert exc.value.message == 'field name "id" is reserved'
    assert (DataModel.objects.count(), Field.objects.count(), user_tables()) == (0, 0, tables)


def test_bad_field_change_is_refused_and_changes_nothing(things):
    field = field_of(things, "title")
    with pytest.raises(SchemaError) as exc:
        services.field_update(field=field, type="select")
    assert exc.value.message == "title: choices must be a non-empty list of strings"
    assert (field_of(things, "title").type, column_values(field)) == ("text", ["alpha", "beta", "gamma"])


# --- 5. which changes rewrite the table ----------------------------------------------------------


@pytest.mark.parametrize(
    "attrs",
    [
        pytest.param({"type": "text"}, id="nullable"),
        pytest.param({"type": "text", "default": "n/a"}, id="text-default"),
        pytest.param({"type": "integer", "default": 7}, id="integer-default"),
        pytest.param({"type": "json", "default": {"k": 1}}, id="json-default"),
        pytest.param({"type": "vector", "dimensions": 3}, id="vector"),
    ],
)
def test_adding_a_field_does_not_rewrite_the_table(things, attrs):
    before = filenode(things.db_table)
    services.field_create(data_model=things, name="extra", **attrs)
    assert filenode(things.db_table) == before


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"name": "heading"}, id="rename"),
        pytest.param({"type": "long_text"}, id="text-long_text"),
        pytest.param({"unique": True}, id="unique"),
        pytest.param({"indexed": True}, id="indexed"),
    ],
)
def test_metadata_and_same_column_changes_do_not_rewrite_the_table(things, change):
    before = filenode(things.db_table)
    services.field_update(field=field_of(things, "title"), **change)
    assert filenode(things.db_table) == before


def test_a_real_retype_rewrites_the_table(make_model):
    data_model = make_model("items", [{"name": "value", "type": "text"}])
    insert("items", {"value": "12"})
    before = filenode(data_model.db_table)
    services.field_update(field=field_of(data_model, "value"), type="integer")
    assert filenode(data_model.db_table) != before
