"""The admin: the model builder (definitions saved through the services); records: `test_admin_records.py`.

Every scenario goes through Django's test client as a logged-in superuser, against
the real PostgreSQL tables, and checks both the page and what is stored.
"""

import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from datamodels import services
from datamodels.dynamic import current_schema
from datamodels.models import DataModel, Field
from datamodels.records import record_create
from infinity.exceptions import SchemaError

from .admin_fixtures import PASSWORD, admin_client, fresh_schema_cache  # noqa: F401 (fixtures)
from .conftest import schema_version
from .rendered_form import rendered_form_data

ADD_URL = "/admin/datamodels/datamodel/add/"


def change_url(data_model):
    return f"/admin/datamodels/datamodel/{data_model.pk}/change/"


def records_url(data_model, *rest):
    return "/".join([f"/admin/datamodels/datamodel/{data_model.pk}/records", *rest, ""])


def columns(table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s", [table])
        return {row[0] for row in cursor.fetchall()}


def table_exists(table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [table])
        return cursor.fetchone()[0] is not None


def row_of(field):
    """The inline row the change page would post back for an existing field, unchanged."""
    return {
        "id": field.pk, "data_model": field.data_model_id, "name": field.name, "type": field.type,
        "required": field.required, "unique": field.unique, "indexed": field.indexed,
        "default": "" if field.default is None else json.dumps(field.default), "help_text": field.help_text,
        "max_length": field.max_length, "min_value": field.min_value, "max_value": field.max_value,
        "decimal_places": field.decimal_places, "regex": field.regex, "choices": ", ".join(field.choices),
        "related_model": field.related_model_id, "many": field.many, "dimensions": field.dimensions,
        "source_fields": ", ".join(field.source_fields),
    }


def post_data(rows, *, initial=0, name="customers", label="", description=""):
    """The add/change form's POST: the model's attributes and the `fields` inline formset."""
    data = {
        "name": name, "label": label, "description": description,
        "fields-TOTAL_FORMS": str(len(rows)), "fields-INITIAL_FORMS": str(initial),
        "fields-MIN_NUM_FORMS": "0", "fields-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            if value is True:
                data[f"fields-{index}-{key}"] = "on"
            elif value is not None and value is not False:
                data[f"fields-{index}-{key}"] = str(value)
    return data


def change_post(data_model, edits=None, deletes=(), new_rows=(), **model_attrs):
    """POST data for `data_model`'s change page: its fields as stored, with `edits` by field name."""
    rows = []
    for field in data_model.fields.all():
        row = {**row_of(field), **(edits or {}).get(field.name, {})}
        if field.name in deletes:
            row["DELETE"] = True
        rows.append(row)
    attrs = {"name": data_model.name, "label": data_model.label, **model_attrs}
    return post_data(rows + list(new_rows), initial=len(rows), **attrs)


def stored(data_model, field_name, record_id):
    field = Field.objects.get(data_model=data_model, name=field_name)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT "{field.column}" FROM "{data_model.db_table}" WHERE id = %s', [record_id])
        return cursor.fetchone()[0]


def create_record(model_name, /, **data):
    return record_create(entry=current_schema().get(model_name), data=data)


# --- the model builder -------------------------------------------------------------------


@pytest.mark.django_db
def test_add_model_creates_table_with_columns(admin_client):
    rows = [
        {"name": "name", "type": "text", "required": True, "max_length": 200},
        {"name": "email", "type": "email", "unique": True},
        {"name": "status", "type": "select", "choices": "active, inactive", "default": "active"},
        {"name": "total", "type": "number", "indexed": True},
    ]
    assert 'name="fields-0-force"' in admin_client.get(ADD_URL).content.decode()

    response = admin_client.post(ADD_URL, post_data(rows, label="Customer"))

    assert response.status_code == 302, response.content.decode()[:3000]
    data_model = DataModel.objects.get(name="customers")
    fields = {f.name: f for f in data_model.fields.all()}
    assert sorted(fields) == ["email", "name", "status", "total"]
    assert fields["status"].choices == ["active", "inactive"]
    assert fields["status"].default == "active"
    assert fields["name"].max_length == 200 and fields["name"].required
    assert columns(f"dm_{data_model.pk}") == {"id", "created_at", "updated_at"} | {f"f_{f.pk}" for f in fields.values()}


@pytest.mark.django_db
def test_changelist_shows_counts_table_and_records_link(admin_client):
    data_model = services.data_model_create(name="customers", fields=[{"name": "name", "type": "text"}])

    page = admin_client.get("/admin/datamodels/datamodel/").content.decode()

    assert f"dm_{data_model.pk}" in page
    assert records_url(data_model) in page
    assert records_url(data_model) in admin_client.get(change_url(data_model)).content.decode()


@pytest.mark.django_db
def test_rename_retype_and_remove_fields_keep_data(admin_client):
    data_model = services.data_model_create(name="orders", fields=[
        {"name": "title", "type": "text"}, {"name": "amount", "type": "integer"}, {"name": "notes", "type": "text"},
    ])
    record = create_record("orders", title="First", amount=5, notes="gone soon")
    notes = Field.objects.get(name="notes")

    data = change_post(data_model, edits={"title": {"name": "headline"}, "amount": {"type": "number"}},
                       deletes=["notes"])
    response = admin_client.post(change_url(data_model), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert sorted(data_model.fields.values_list("name", "type")) == [("amount", "number"), ("headline", "text")]
    assert stored(data_model, "headline", record.pk) == "First"
    assert stored(data_model, "amount", record.pk) == 5.0
    assert notes.column not in columns(data_model.db_table)


@pytest.mark.django_db
def test_lossy_retype_is_refused_on_the_row_and_changes_nothing(admin_client):
    data_model = services.data_model_create(name="parts", fields=[{"name": "code", "type": "text"}])
    record = create_record("parts", code="abc")

    response = admin_client.post(change_url(data_model), change_post(data_model, edits={"code": {"type": "integer"}}))

    assert response.status_code == 200
    assert "would lose 1 value(s)" in response.content.decode()
    assert Field.objects.get(name="code").type == "text"
    assert stored(data_model, "code", record.pk) == "abc"


@pytest.mark.django_db
def test_lossy_retype_with_force_applies_and_empties_what_does_not_fit(admin_client):
    data_model = services.data_model_create(name="parts", fields=[{"name": "code", "type": "text"}])
    bad, good = create_record("parts", code="abc"), create_record("parts", code="42")

    data = change_post(data_model, edits={"code": {"type": "integer", "force": True}})
    response = admin_client.post(change_url(data_model), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert Field.objects.get(name="code").type == "integer"
    assert stored(data_model, "code", bad.pk) is None
    assert stored(data_model, "code", good.pk) == 42


@pytest.mark.django_db
def test_renaming_a_vector_source_keeps_the_vector_pointing_at_it(admin_client):
    data_model = services.data_model_create(name="docs", fields=[
        {"name": "body", "type": "long_text"},
        {"name": "embedding", "type": "vector", "dimensions": 384, "source_fields": ["body"]},
    ])

    response = admin_client.post(change_url(data_model), change_post(data_model, edits={"body": {"name": "text"}}))

    assert response.status_code == 302, response.content.decode()[:3000]
    assert Field.objects.get(name="embedding").source_fields == ["text"]


@pytest.mark.django_db
def test_removing_a_vector_source_is_refused_on_the_vector_row(admin_client):
    data_model = services.data_model_create(name="docs", fields=[
        {"name": "body", "type": "long_text"},
        {"name": "embedding", "type": "vector", "dimensions": 384, "source_fields": ["body"]},
    ])

    response = admin_client.post(change_url(data_model), change_post(data_model, deletes=["body"]))

    assert response.status_code == 200
    assert "source_fields must name text fields of this model (not: body)" in response.content.decode()
    assert data_model.fields.count() == 2


@pytest.mark.django_db
def test_one_save_can_add_a_vector_before_its_sources_and_a_relation_to_its_own_model(admin_client):
    data_model = services.data_model_create(name="docs", fields=[{"name": "title", "type": "text"}])
    new_rows = [
        {"name": "embedding", "type": "vector", "dimensions": 384, "source_fields": "title, body"},
        {"name": "body", "type": "long_text"},
        {"name": "parent", "type": "relation", "related_model": data_model.pk},
    ]

    response = admin_client.post(change_url(data_model), change_post(data_model, new_rows=new_rows))

    assert response.status_code == 302, response.content.decode()[:3000]
    fields = {f.name: f for f in data_model.fields.all()}
    assert fields["embedding"].source_fields == ["title", "body"]
    assert fields["parent"].related_model_id == data_model.pk
    assert {f"f_{fields['body'].pk}", f"f_{fields['parent'].pk}"} <= columns(data_model.db_table)


@pytest.mark.django_db
def test_rename_and_relabel_a_model(admin_client):
    data_model = services.data_model_create(name="people", fields=[{"name": "name", "type": "text"}])

    response = admin_client.post(change_url(data_model), change_post(data_model, name="persons", label="Person"))

    assert response.status_code == 302, response.content.decode()[:3000]
    data_model.refresh_from_db()
    assert (data_model.name, data_model.label) == ("persons", "Person")
    assert current_schema().get("persons").definition.pk == data_model.pk


@pytest.mark.django_db
@pytest.mark.parametrize(("row", "message"), [
    ({"name": "Bad Name", "type": "text"}, "must start with a lowercase letter"),
    ({"name": "created_at", "type": "text"}, "is reserved"),
    ({"name": "status", "type": "select"}, "choices must be a non-empty list"),
    ({"name": "owner", "type": "relation"}, "a relation needs `to`"),
    ({"name": "embedding", "type": "vector", "dimensions": 384, "source_fields": "missing"}, "source_fields must name"),
    ({"name": "age", "type": "integer", "default": "old"}, "default is invalid"),
])
def test_invalid_field_shows_the_error_and_creates_nothing(admin_client, row, message):
    response = admin_client.post(ADD_URL, post_data([row]))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not DataModel.objects.exists()
    assert not Field.objects.exists()


@pytest.mark.django_db
def test_duplicate_field_names_and_bad_model_name_are_refused(admin_client):
    rows = [{"name": "email", "type": "email"}, {"name": "email", "type": "text"}]

    response = admin_client.post(ADD_URL, post_data(rows, name="select"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "is a reserved word" in page
    assert "already has a field named" in page
    assert not DataModel.objects.exists()


@pytest.mark.django_db
def test_a_schema_error_while_saving_rolls_back_everything(admin_client, monkeypatch):
    def refuse(**attrs):
        raise SchemaError("someone else changed the schema")

    monkeypatch.setattr("datamodels.forms.field_create", refuse)
    rows = [{"name": "name", "type": "text"}]

    response = admin_client.post(ADD_URL, post_data(rows))

    assert response.status_code == 200
    assert "someone else changed the schema" in response.content.decode()
    assert not DataModel.objects.exists()
    assert not table_exists("dm_1")


@pytest.mark.django_db
def test_deleting_a_model_others_relate_to_shows_the_message_and_deletes_nothing(admin_client):
    companies = services.data_model_create(name="companies", fields=[{"name": "name", "type": "text"}])
    services.data_model_create(name="customers", fields=[{"name": "company", "type": "relation",
                                                          "related_model": companies}])
    delete_url = f"/admin/datamodels/datamodel/{companies.pk}/delete/"

    confirm = admin_client.get(delete_url).content.decode()
    response = admin_client.post(delete_url, {"post": "yes"}, follow=True)

    assert "cannot be deleted while relations of other models point to it" in confirm
    assert re.search(r'<ul id="deleted-objects">\s*<li>customers.company</li>\s*</ul>', confirm)
    assert "Yes, I’m sure" not in confirm
    assert response.status_code == 200
    assert "customers.company" in response.content.decode()
    assert DataModel.objects.filter(pk=companies.pk).exists()
    assert table_exists(companies.db_table)


@pytest.mark.django_db
def test_deleting_a_model_drops_its_table(admin_client):
    data_model = services.data_model_create(name="notes", fields=[{"name": "body", "type": "long_text"}])

    response = admin_client.post(f"/admin/datamodels/datamodel/{data_model.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not DataModel.objects.exists()
    assert not table_exists(data_model.db_table)


def page_post(client, url, **changes):
    """GET the page, then the POST its form makes untouched (as rendered), with `changes` typed in."""
    data = rendered_form_data(client.get(url).content.decode(), "datamodel_form")
    return client.post(url, {**data, **changes, "_continue": "Save and continue editing"})


@pytest.mark.django_db
def test_an_untouched_change_page_saves_and_changes_nothing(admin_client):
    companies = services.data_model_create(name="companies", fields=[{"name": "name", "type": "text"}])
    data_model = services.data_model_create(name="customers", fields=[
        {"name": "name", "type": "text", "required": True, "max_length": 50, "regex": "^[A-Z]"},
        {"name": "status", "type": "select", "choices": ["active", "inactive"], "default": "active"},
        {"name": "total", "type": "number", "min_value": 0, "decimal_places": 2, "default": 1.5},
        {"name": "company", "type": "relation", "related_model": companies},
        {"name": "embedding", "type": "vector", "dimensions": 384, "source_fields": ["name"]},
    ])
    before = list(Field.objects.order_by("id").values())
    version = schema_version()

    response = page_post(admin_client, change_url(data_model))

    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(Field.objects.order_by("id").values()) == before
    assert schema_version() == version


@pytest.mark.django_db
def test_the_add_page_with_its_blank_field_row_untouched_adds_a_model(admin_client):
    response = page_post(admin_client, ADD_URL, name="notes")

    assert response.status_code == 302, response.content.decode()[:3000]
    assert DataModel.objects.get(name="notes").fields.count() == 0


@pytest.mark.django_db
def test_a_new_row_given_only_a_type_is_validated(admin_client):
    data_model = services.data_model_create(name="parts", fields=[{"name": "code", "type": "text"}])

    response = page_post(admin_client, change_url(data_model), **{"fields-1-type": "integer"})

    assert response.status_code == 200
    assert response.context["inline_admin_formsets"][0].formset.errors == [{}, {"name": ["This field is required."]}]
    assert data_model.fields.count() == 1


@pytest.mark.django_db
def test_the_delete_confirmation_counts_fields_and_records(admin_client):
    data_model = services.data_model_create(name="notes", fields=[
        {"name": "body", "type": "long_text"}, {"name": "title", "type": "text"},
    ])
    for title in ("a", "b", "c"):
        create_record("notes", title=title)

    page = admin_client.get(f"/admin/datamodels/datamodel/{data_model.pk}/delete/").content.decode()

    assert f"notes: table {data_model.db_table}, its 2 fields and 3 records" in page
    assert "<li>Records: 3</li>" in page and "<li>Fields: 2</li>" in page


@pytest.mark.django_db
def test_staff_with_model_permissions_can_define_fields_and_browse_records(client, django_user_model):
    user = django_user_model.objects.create_user("editor", password=PASSWORD, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["add_datamodel", "change_datamodel",
                                                                      "view_datamodel"]))
    client.login(username="editor", password=PASSWORD)

    response = client.post(ADD_URL, post_data([{"name": "title", "type": "text"}], name="notes"))

    assert response.status_code == 302, response.content.decode()[:3000]
    data_model = DataModel.objects.get(name="notes")
    assert data_model.fields.get().name == "title"
    assert client.get(records_url(data_model)).status_code == 200
