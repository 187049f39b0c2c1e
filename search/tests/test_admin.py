"""The admin's embedding overview: records waiting for a vector and the last error."""

import pytest

from datamodels import services
from search.services import embed_records, record_failure

from .conftest import embedding_field, execute

pytestmark = pytest.mark.django_db
URL = "/admin/search/computedvectorfield/"


def test_overview_shows_waiting_records_and_the_last_error(client, superuser):
    docs = services.data_model_create(name="docs", fields=[
        {"name": "title", "type": "text"},
        {"name": "embedding", "type": "vector", "dimensions": 384, "source_fields": ["title"]},
        {"name": "manual", "type": "vector", "dimensions": 3}])
    title = docs.fields.get(name="title").column
    execute(f"INSERT INTO dm_{docs.pk} (id, {title}) SELECT 'rec_' || i, 'doc ' || i FROM generate_series(1, 7) i")
    embed_records(field_id=embedding_field(docs).pk, record_ids=["rec_1", "rec_2"])
    record_failure(embedding_field(docs).pk, "The embedding backend (openai:m:384) answered HTTP 401: bad key")
    client.login(username="root", password="s3cret-pass-123")
    page = client.get(URL).content.decode()
    assert '<td class="field-waiting">5</td>' in page
    assert "answered HTTP 401: bad key" in page
    assert "manual" not in page  # a vector the client supplies waits for nothing
    assert client.get(URL + "add/").status_code == 403
