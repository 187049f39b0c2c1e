"""Generated model classes: cached per process, rebuilt as soon as any process changes a definition."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from urllib.parse import quote

import django.apps
import pytest
from django.conf import settings
from django.db import connection, transaction

from datamodels import services
from datamodels.dynamic import build_schema, current_schema, schema_stamp
from datamodels.models import DataModel, Field

from .conftest import insert, read, read_all, schema_version

pytestmark = pytest.mark.django_db


def run_in_other_process(code: str) -> None:
    """Run Python in a fresh `manage.py shell` on this test's database (it must be committed to be seen)."""
    db = connection.settings_dict
    url = f"postgres://{quote(db['USER'])}:{quote(db['PASSWORD'] or '')}@{quote(db['HOST'], safe='')}"
    url += f":{db['PORT']}" if db["PORT"] else ""
    env = {**os.environ, "DATABASE_URL": f"{url}/{quote(db['NAME'])}"}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr


OTHER_PROCESS_CHANGES = [
    pytest.param(
        "services.field_create(data_model=DataModel.objects.get(name='things'), name='price', type='number')",
        "things", ["price", "title"], id="add-field",
    ),
    pytest.param(
        "services.field_update(field=Field.objects.get(name='title'), name='heading')",
        "things", ["heading"], id="rename-field",
    ),
    pytest.param(
        "services.data_model_update(data_model=DataModel.objects.get(name='things'), name='gadgets')",
        "gadgets", ["title"], id="rename-model",
    ),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("code", "model", "fields"), OTHER_PROCESS_CHANGES)
def test_a_change_made_by_another_process_is_seen_without_restart(committed_schema, things, code, model, fields):
    cached = current_schema()
    run_in_other_process(f"from datamodels import services; from datamodels.models import DataModel, Field; {code}")
    schema = current_schema()
    assert schema is not cached
    assert sorted(schema.get(model).by_name) == fields
    assert sorted(schema.by_name) == [model]


@pytest.mark.django_db(transaction=True)
def test_a_field_added_by_another_process_can_be_written_at_once(committed_schema, things):
    current_schema()
    run_in_other_process(
        "from datamodels import services; from datamodels.models import DataModel; "
        "services.field_create(data_model=DataModel.objects.get(name='things'), name='price', type='number')"
    )
    record_id = insert("things", {"title": "delta", "price": 9.75})
    assert (read("things", record_id, "title"), read("things", record_id, "price")) == ("delta", 9.75)


def in_another_thread(work) -> None:
    """Run `work` (committed as it goes) on a connection of its own, and wait for it."""

    def run():
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def add_a_model_related_both_ways():
    """`late`, relating to `things`, and a new field of `things` relating to `late`."""
    things = DataModel.objects.get(name="things")
    late = services.data_model_create(name="late", fields=[{"name": "thing", "type": "relation",
                                                            "related_model": things}])
    services.field_create(data_model=things, name="late", type="relation", related_model=late)


@pytest.mark.django_db(transaction=True)
def test_a_model_committed_while_the_schema_is_being_built(committed_schema, things):
    """Definitions are read in two queries; a model committed between them waits for the next build."""
    state = {"done": False}

    def commit_after_models_are_read(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if 'FROM "datamodels_datamodel"' in sql and not state["done"]:
            state["done"] = True
            in_another_thread(add_a_model_related_both_ways)
        return result

    with connection.execute_wrapper(commit_after_models_are_read):
        schema = build_schema(*schema_stamp())
    assert (state["done"], sorted(schema.by_name), sorted(schema.get("things").by_name)) == (True, ["things"], ["title"])
    assert sorted(current_schema().get("things").by_name) == ["late", "title"]
    assert sorted(current_schema().get("late").by_name) == ["thing"]


def test_unchanged_schema_is_the_cached_object_for_one_query(things, django_assert_num_queries):
    first = current_schema()
    with django_assert_num_queries(1):
        second = current_schema()
    assert second is first


def test_a_change_in_this_process_is_seen_at_once(things):
    cached = current_schema()
    services.field_create(data_model=things, name="price", type="number")
    schema = current_schema()
    assert schema is not cached
    assert sorted(schema.get("things").by_name) == ["price", "title"]


def test_a_rolled_back_change_leaves_no_stale_classes(things):
    version = schema_version()
    with contextlib.suppress(RuntimeError), transaction.atomic():
        services.field_create(data_model=things, name="draft", type="text")
        assert "draft" in current_schema().get("things").by_name
        raise RuntimeError("roll back")
    services.field_create(data_model=things, name="price", type="number")
    # The committed change reuses the rolled-back version number.
    assert schema_version() == version + 1
    assert sorted(current_schema().get("things").by_name) == ["price", "title"]


def test_a_deleted_model_disappears(things):
    current_schema()
    services.data_model_delete(data_model=things)
    assert current_schema().get("things") is None


def test_generated_classes_stay_out_of_djangos_registry(things):
    model = current_schema().get("things").model
    assert model._meta.apps is not django.apps.apps
    assert model not in django.apps.apps.get_models()
    assert (model._meta.db_table, model._meta.managed) == (things.db_table, False)


@pytest.mark.parametrize("name", ["save", "delete", "objects", "pk", "clean", "meta", "refresh_from_db", "full_clean"])
def test_a_field_named_like_a_model_attribute_works(make_model, name):
    make_model("things", [{"name": name, "type": "text"}])
    record_id = insert("things", {name: "kept"})
    assert read("things", record_id, name) == "kept"


def test_relations_can_be_followed_and_prefetched(make_model):
    make_model("companies", [{"name": "name", "type": "text"}])
    companies = DataModel.objects.get(name="companies")
    make_model("people", [
        {"name": "employer", "type": "relation", "related_model": companies},
        {"name": "clients", "type": "relation", "related_model": companies, "many": True},
    ])
    acme, globex = insert("companies", {"name": "acme"}), insert("companies", {"name": "globex"})
    insert("people", {"employer": acme, "clients": [acme, globex]})
    entry = current_schema().get("people")
    employer, clients = (entry.by_name[n].column for n in ("employer", "clients"))
    person = entry.model.objects.select_related(employer).prefetch_related(clients).get()
    name_column = current_schema().get("companies").by_name["name"].column
    assert getattr(getattr(person, employer), name_column) == "acme"
    assert sorted(getattr(c, name_column) for c in getattr(person, clients).all()) == ["acme", "globex"]


def test_each_field_maps_to_its_id_named_column(things):
    entry = current_schema().get("things")
    field = Field.objects.get(data_model=things, name="title")
    assert entry.model._meta.get_field(field.column).column == f"f_{field.pk}"
    assert read_all("things", "title") == ["alpha", "beta", "gamma"]
