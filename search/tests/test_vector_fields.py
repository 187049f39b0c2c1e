"""A computed vector field must have its embedding backend's size: checked wherever a
field is saved (services, schema files, the admin)."""

from __future__ import annotations

import json

import pytest

from datamodels import services
from datamodels.models import DataModel, Field
from infinity.exceptions import SchemaError

pytestmark = pytest.mark.django_db
MESSAGE = ("embedding: dimensions must be 384: the local embedding backend (local:all-MiniLM-L6-v2) computes "
           "this field from its source_fields")


def test_services_refuse_a_computed_vector_of_another_size():
    with pytest.raises(SchemaError) as raised:
        services.data_model_create(name="docs", fields=[
            {"name": "body", "type": "text"},
            {"name": "embedding", "type": "vector", "dimensions": 3, "source_fields": ["body"]}])
    assert raised.value.message == MESSAGE
    assert not DataModel.objects.filter(name="docs").exists()
    # A vector the client supplies may have any size; changing it into a computed one is checked.
    docs = services.data_model_create(name="docs", fields=[
        {"name": "body", "type": "text"}, {"name": "embedding", "type": "vector", "dimensions": 3}])
    field = docs.fields.get(name="embedding")
    with pytest.raises(SchemaError, match="dimensions must be 384"):
        services.field_update(field=field, source_fields=["body"])
    assert Field.objects.get(pk=field.pk).source_fields == []


def test_openai_backend_sizes_are_its_own(openai_backend):
    docs = services.data_model_create(name="docs", fields=[{"name": "body", "type": "text"}])
    with pytest.raises(SchemaError, match=r"dimensions must be 384: the openai embedding backend "
                                          r"\(openai:test-model:384\)"):
        services.field_create(data_model=docs, name="embedding", type="vector", dimensions=1536, source_fields=["body"])


def test_schema_file_refuses_it(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps({"models": [{"name": "docs", "fields": [
        {"name": "body", "type": "text"},
        {"name": "embedding", "type": "vector", "dimensions": 768, "source_fields": ["body"]}]}]}))
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as raised:
        call_command("schema", "apply", str(path))
    assert "docs.embedding: dimensions must be 384" in str(raised.value)
    assert not DataModel.objects.filter(name="docs").exists()


def test_admin_refuses_it(client, superuser):
    client.login(username="root", password="s3cret-pass-123")
    rows = [{"name": "body", "type": "text"},
            {"name": "embedding", "type": "vector", "dimensions": "3", "source_fields": "body"}]
    data = {"name": "docs", "label": "", "description": "", "fields-TOTAL_FORMS": "2", "fields-INITIAL_FORMS": "0",
            "fields-MIN_NUM_FORMS": "0", "fields-MAX_NUM_FORMS": "1000"}
    for index, row in enumerate(rows):
        data.update({f"fields-{index}-{key}": value for key, value in row.items()})
    response = client.post("/admin/datamodels/datamodel/add/", data)
    assert response.status_code == 200
    assert "dimensions must be 384: the local embedding backend" in response.content.decode()
    assert not DataModel.objects.filter(name="docs").exists()
