"""The model builder in a real Chromium: every flow a user meets, clicked through the admin.

Each test drives the add/change page with `BuilderPage` (real typing, clicks on the real
buttons), then checks what the page shows (messages, errors on the right row) and what
is stored: the `DataModel`/`Field` rows, and the real table's columns and values read
with SQL. The live server commits, so `committed_schema` drops the user tables after.
"""

from __future__ import annotations

import pytest

from datamodels import services
from datamodels.models import DataModel, Field

from ..conftest import fetch, insert, schema_version, table_exists
from .builder_page import BuilderPage

pytestmark = pytest.mark.usefixtures("committed_schema")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The login is real, its hasher need not be slow (the live server shares these settings)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def builder(admin_page) -> BuilderPage:
    return BuilderPage(admin_page)


def table_columns(data_model) -> dict[str, str]:
    """The real table's columns and their types, as PostgreSQL prints them."""
    rows = fetch(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
        [data_model.db_table],
    )
    return dict(rows)


def values(field: Field) -> list:
    """The stored values of a field's column, in record (id) order."""
    return [row[0] for row in fetch(f'SELECT "{field.column}" FROM "{field.data_model.db_table}" ORDER BY id')]


def stored_fields(data_model) -> list[tuple]:
    return list(Field.objects.filter(data_model=data_model).order_by("position", "id").values_list("name", "type"))


def field(data_model, name: str) -> Field:
    return Field.objects.select_related("data_model").get(data_model=data_model, name=name)


@pytest.fixture
def gadgets():
    """A model `gadgets` with a text `code` and a text `notes`, and no records yet."""
    return services.data_model_create(name="gadgets", fields=[
        {"name": "code", "type": "text"}, {"name": "notes", "type": "text"},
    ])


def add_records(model: str, *rows: dict) -> None:
    for row in rows:
        insert(model, row)


# --- adding ----------------------------------------------------------------------------------


def test_add_a_model_with_fields_of_several_types(builder):
    builder.open_add()
    builder.page.fill("#id_name", "gadgets")
    builder.page.fill("#id_label", "Gadget")
    builder.set(0, name="code", required=True, max_length=20)
    price = builder.add_row()
    builder.set(price, name="price", type="number")
    # Picking the type opened its options: they are filled without clicking any summary.
    assert builder.input(price, "decimal_places").is_visible()
    builder.set(price, min_value=0, decimal_places=2)
    status = builder.add_row()
    builder.set(status, name="status", type="select")
    assert builder.input(status, "choices").is_visible()
    builder.set(status, choices="new, used", default="new")
    builder.add_row()  # a blank row added by mistake and left untouched

    builder.save()

    assert builder.messages() == ["The data model “Gadget” was added successfully. You may edit it again below."]
    data_model = DataModel.objects.get(name="gadgets")
    assert builder.page.url.endswith(f"/admin/datamodels/datamodel/{data_model.pk}/change/")
    assert stored_fields(data_model) == [("code", "text"), ("price", "number"), ("status", "select")]
    code, price, status = (field(data_model, name) for name in ("code", "price", "status"))
    assert (code.required, code.max_length) == (True, 20)
    assert (price.min_value, price.decimal_places) == (0, 2)
    assert (status.choices, status.default) == (["new", "used"], "new")
    assert table_columns(data_model) == {
        "id": "character varying(30)",
        "created_at": "timestamp with time zone", "updated_at": "timestamp with time zone",
        code.column: "text", price.column: "numeric(38,2)", status.column: "text",
    }
    # The saved page shows the three fields and one blank row for the next.
    assert [builder.input(index, "name").input_value() for index in range(4)] == ["code", "price", "status", ""]


def test_add_a_field_to_an_existing_model_fills_its_default_into_existing_records(builder, gadgets):
    add_records("gadgets", {"code": "a1"}, {"code": "a2"})
    builder.open_change(gadgets)
    new = builder.rows().count() - 1
    builder.set(new, name="in_stock", type="boolean", default="true")

    builder.save()

    assert builder.messages() == ["The data model “gadgets” was changed successfully. You may edit it again below."]
    assert stored_fields(gadgets) == [("code", "text"), ("notes", "text"), ("in_stock", "boolean")]
    in_stock = field(gadgets, "in_stock")
    assert table_columns(gadgets)[in_stock.column] == "boolean"
    assert values(in_stock) == [True, True]
    assert values(field(gadgets, "code")) == ["a1", "a2"]


def test_add_relations_picking_their_target_from_the_list(builder, gadgets):
    makers = services.data_model_create(name="makers", label="Maker", fields=[{"name": "name", "type": "text"}])
    builder.open_change(gadgets)
    maker = builder.rows().count() - 1
    builder.set(maker, name="maker", type="relation")
    assert builder.input(maker, "related_model").is_visible()
    builder.set(maker, related_model="Maker")
    # Just the list: no buttons that would edit or delete the target model from this row.
    assert builder.row(maker).locator(".related-widget-wrapper-link").count() == 0
    parts = builder.add_row()
    builder.set(parts, name="parts", type="relation", related_model="Maker", many=True)

    builder.save()

    assert builder.error_note() is None, builder.all_row_errors()
    maker, parts = field(gadgets, "maker"), field(gadgets, "parts")
    assert (maker.type, maker.related_model_id, maker.many) == ("relation", makers.pk, False)
    assert (parts.type, parts.related_model_id, parts.many) == ("relation", makers.pk, True)
    assert table_columns(gadgets)[maker.column] == table_columns(makers)["id"]
    assert parts.column not in table_columns(gadgets) and table_exists(parts.join_table)
    foreign_keys = fetch(
        "SELECT confrelid::regclass::text FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = 'f'",
        [gadgets.db_table],
    )
    assert foreign_keys == [(makers.db_table,)]
    # Back on the page, each relation's group is open and shows its target.
    for name in ("maker", "parts"):
        target = builder.input(builder.index_of(name), "related_model")
        assert target.is_visible() and target.locator("option:checked").inner_text() == "Maker"


def test_add_a_vector_that_embeds_text_fields(builder, gadgets):
    builder.open_change(gadgets)
    new = builder.rows().count() - 1
    builder.set(new, name="embedding", type="vector")
    assert builder.input(new, "dimensions").is_visible()
    builder.set(new, dimensions=384, source_fields="code, notes")

    builder.save()

    assert builder.error_note() is None, builder.all_row_errors()
    embedding = field(gadgets, "embedding")
    assert (embedding.dimensions, embedding.source_fields) == (384, ["code", "notes"])
    assert table_columns(gadgets)[embedding.column] == "vector(384)"


# --- what a browser posts back -------------------------------------------------------------------


def test_saving_the_change_page_untouched_changes_nothing(builder):
    makers = services.data_model_create(name="makers", fields=[{"name": "name", "type": "text"}])
    data_model = services.data_model_create(name="gadgets", label="Gadget", fields=[
        {"name": "code", "type": "text", "required": True, "unique": True, "max_length": 20, "regex": "^[a-z]+$"},
        {"name": "price", "type": "number", "min_value": 0, "decimal_places": 2, "default": 9.5},
        {"name": "status", "type": "select", "choices": ["new", "used"], "default": "new"},
        {"name": "tags", "type": "multi_select", "choices": ["a", "b"]},
        {"name": "maker", "type": "relation", "related_model": makers},
        {"name": "parts", "type": "relation", "related_model": makers, "many": True},
        {"name": "embedding", "type": "vector", "dimensions": 384, "source_fields": ["code"]},
        {"name": "extra", "type": "json", "default": {"a": [1]}},
    ])
    before = list(Field.objects.filter(data_model=data_model).order_by("id").values())
    version = schema_version()
    builder.open_change(data_model)
    # Options a field holds are shown, not hidden in a closed group.
    assert builder.input(builder.index_of("status"), "choices").is_visible()
    assert builder.input(builder.index_of("embedding"), "dimensions").is_visible()

    builder.save()

    assert builder.messages() == ["The data model “Gadget” was changed successfully. You may edit it again below."]
    assert list(Field.objects.filter(data_model=data_model).order_by("id").values()) == before
    assert schema_version() == version  # no DDL, no schema change
    assert Field.objects.count() == len(before) + 1  # the makers' `name`; no field from the blank row


def test_half_filled_new_rows_get_their_errors_until_they_are_fixed(builder, gadgets):
    builder.open_change(gadgets)
    count = builder.add_row()
    builder.set(count, type="integer")  # a type picked, the name forgotten
    short = builder.add_row()
    builder.set(short, name="short", max_length=-1)
    status = builder.add_row()
    builder.set(status, name="status", type="select")  # its choices forgotten

    builder.save()

    # Each row's own errors first (the checks across rows wait until every row is valid).
    assert builder.error_note() == "Please correct the errors below."
    assert builder.all_row_errors() == {
        count: ["This field is required."],
        short: ["Ensure this value is greater than or equal to 0."],
    }
    # The error inside the collapsed options group is shown: its group is open.
    assert builder.row(short).locator(".errorlist").is_visible()
    assert stored_fields(gadgets) == [("code", "text"), ("notes", "text")]

    builder.set(count, name="count")
    builder.set(short, max_length=5)
    builder.save()

    assert builder.error_note() == "Please correct the error below."
    assert builder.all_row_errors() == {status: ["status: choices must be a non-empty list of strings"]}
    assert builder.input(status, "choices").is_visible()
    assert stored_fields(gadgets) == [("code", "text"), ("notes", "text")]

    builder.set(status, choices="new, used")
    builder.save()

    assert builder.error_note() is None, builder.all_row_errors()
    assert stored_fields(gadgets) == [
        ("code", "text"), ("notes", "text"), ("count", "integer"), ("short", "text"), ("status", "select"),
    ]
    assert field(gadgets, "short").max_length == 5
    assert field(gadgets, "status").choices == ["new", "used"]


# --- changing fields ----------------------------------------------------------------------------


def test_rename_a_field_and_its_model_keeps_columns_and_values(builder, gadgets):
    add_records("gadgets", {"code": "a1"}, {"code": "b2"})
    code = field(gadgets, "code")
    builder.open_change(gadgets)
    builder.set(builder.index_of("code"), name="sku")
    builder.page.fill("#id_name", "devices")  # the model too, in the same save

    builder.save()

    assert builder.messages() == ["The data model “devices” was changed successfully. You may edit it again below."]
    assert DataModel.objects.get(pk=gadgets.pk).name == "devices"
    assert stored_fields(gadgets) == [("sku", "text"), ("notes", "text")]
    sku = field(gadgets, "sku")
    assert sku.pk == code.pk and sku.column in table_columns(gadgets)
    assert values(sku) == ["a1", "b2"]
    assert builder.page.locator("#fields-0 h3").inner_text().startswith("Field: sku")


def test_retype_text_to_integer_keeps_values_that_convert(builder, gadgets):
    add_records("gadgets", {"code": "12"}, {"code": "7"}, {"code": None})
    builder.open_change(gadgets)
    builder.set(builder.index_of("code"), type="integer")

    builder.save()

    assert builder.messages() == ["The data model “gadgets” was changed successfully. You may edit it again below."]
    code = field(gadgets, "code")
    assert code.type == "integer"
    assert table_columns(gadgets)[code.column] == "bigint"
    assert values(code) == [12, 7, None]


def test_a_lossy_retype_is_refused_with_the_count_then_forced(builder, gadgets):
    add_records("gadgets", {"code": "12"}, {"code": "abc"}, {"code": "1.5"}, {"code": None})
    builder.open_change(gadgets)
    row = builder.index_of("code")
    builder.set(row, type="integer")

    builder.save()

    assert builder.error_note() == "Please correct the error below."
    assert builder.all_row_errors() == {row: [
        'changing "code" from text to integer would lose 2 value(s) that do not convert; '
        "fix or clear them first, or force the change"
    ]}
    code = field(gadgets, "code")
    assert code.type == "text" and table_columns(gadgets)[code.column] == "text"
    assert values(code) == ["12", "abc", "1.5", None]
    # The page kept the new type; the user forces it.
    assert builder.input(row, "type").input_value() == "integer"
    builder.set(row, force=True)

    builder.save()

    assert builder.messages() == ["The data model “gadgets” was changed successfully. You may edit it again below."]
    code = field(gadgets, "code")
    assert code.type == "integer" and table_columns(gadgets)[code.column] == "bigint"
    assert values(code) == [12, None, None, None]


def test_delete_a_field_drops_its_column(builder, gadgets):
    add_records("gadgets", {"code": "a1", "notes": "gone soon"})
    notes = field(gadgets, "notes")
    builder.open_change(gadgets)
    builder.set(builder.index_of("notes"), DELETE=True)

    builder.save()

    assert builder.messages() == ["The data model “gadgets” was changed successfully. You may edit it again below."]
    assert stored_fields(gadgets) == [("code", "text")]
    assert notes.column not in table_columns(gadgets)
    assert values(field(gadgets, "code")) == ["a1"]
    assert builder.rows().count() == 2  # `code` and the blank row


# --- deleting a model ------------------------------------------------------------------------------


def test_delete_a_model_after_a_confirmation_that_counts_its_records(builder, gadgets):
    add_records("gadgets", {"code": "a"}, {"code": "b"}, {"code": "c"})
    builder.open_change(gadgets)

    with builder.page.expect_navigation():
        builder.page.get_by_role("link", name="Delete", exact=True).click()

    page = builder.page
    objects = page.locator("#deleted-objects").inner_text()
    assert objects == f"gadgets: table {gadgets.db_table}, its 2 fields and 3 records"
    summary = page.locator("#content ul").first.all_inner_texts()[0].splitlines()
    assert summary == ["Data models: 1", "Fields: 2", "Records: 3"]
    assert DataModel.objects.filter(pk=gadgets.pk).exists()  # nothing yet

    with page.expect_navigation():
        page.get_by_role("button", name="Yes, I’m sure").click()

    assert page.url.endswith("/admin/datamodels/datamodel/")
    assert builder.messages() == ["The data model “gadgets” was deleted successfully."]
    assert not DataModel.objects.filter(pk=gadgets.pk).exists()
    assert not Field.objects.filter(data_model_id=gadgets.pk).exists()
    assert not table_exists(gadgets.db_table)


def test_a_model_other_models_relate_to_cannot_be_deleted(builder, gadgets):
    services.data_model_create(name="orders", fields=[
        {"name": "gadget", "type": "relation", "related_model": gadgets},
    ])
    builder.open_change(gadgets)

    with builder.page.expect_navigation():
        builder.page.get_by_role("link", name="Delete", exact=True).click()

    content = builder.page.locator("#content").inner_text()
    assert "cannot be deleted while relations of other models point to it" in content
    assert builder.page.locator("#deleted-objects").inner_text() == "orders.gadget"
    assert builder.page.get_by_role("button", name="Yes, I’m sure").count() == 0
    assert table_exists(gadgets.db_table)
