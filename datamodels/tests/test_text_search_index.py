"""The full-text (GIN) index of a vector field's `source_fields`: created, changed and dropped
with the field's definition, through the services and schema files, as the catalog shows.

Hybrid search (search/) matches a query's words with this index; the expression is built by
`datamodels.ddl.text_document_sql` for both, and search's API tests check the plan uses it.
"""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from datamodels import services
from datamodels.models import DataModel, Field
from infinity.exceptions import SchemaError

from .conftest import fetch, index_defs, insert, read, schema_version

pytestmark = pytest.mark.django_db
DOCS = [{"name": "title", "type": "text"}, {"name": "body", "type": "long_text"},
        {"name": "code", "type": "text"}]


def field_of(data_model: DataModel, name: str) -> Field:
    return Field.objects.select_related("data_model").get(data_model=data_model, name=name)


def fts(data_model: DataModel, *sources: str) -> dict[str, str]:
    """The index `embedding` should have over `sources`, as pg_indexes prints it."""
    t, vector = data_model.db_table, field_of(data_model, "embedding").column
    parts = [f"COALESCE({field_of(data_model, s).column}, ''::text)" for s in sources]
    words = parts[0]
    for part in parts[1:]:
        words = f"(({words} || ' '::text) || {part})"
    return {f"{t}_{vector}_fts": f"CREATE INDEX {t}_{vector}_fts ON public.{t} USING gin "
                                 f"(to_tsvector('simple'::regconfig, {words}))"}


def hnsw(data_model: DataModel) -> dict[str, str]:
    t, vector = data_model.db_table, field_of(data_model, "embedding").column
    return {f"{t}_{vector}_hnsw": f"CREATE INDEX {t}_{vector}_hnsw ON public.{t} "
                                  f"USING hnsw ({vector} vector_cosine_ops)"}


def index_oid(name: str) -> int:
    return fetch("SELECT %s::regclass::oid", [name])[0][0]


def matching(data_model: DataModel, words: str) -> list[str]:
    """Titles of the records whose sources match `words`, by the index's own expression, with
    sequential scans priced out: the plan must be a bitmap scan of that index."""
    from datamodels.ddl import source_columns, text_document_sql

    document = text_document_sql(source_columns(field_of(data_model, "embedding")), data_model.db_table)
    title = field_of(data_model, "title").column
    sql = (f'SELECT "{title}" FROM "{data_model.db_table}" '
           f"WHERE {document} @@ websearch_to_tsquery('simple'::regconfig, %s) ORDER BY 1")
    fetch("SELECT set_config('enable_seqscan', 'off', true)")
    plan = "\n".join(row[0] for row in fetch("EXPLAIN " + sql, [words]))
    assert f"Bitmap Index Scan on {data_model.db_table}_{field_of(data_model, 'embedding').column}_fts" in plan, plan
    return [row[0] for row in fetch(sql, [words])]


@pytest.fixture
def docs(make_model):
    data_model = make_model("docs", [*DOCS, {"name": "embedding", "type": "vector", "dimensions": 384,
                                             "source_fields": ["title", "body"]}])
    insert("docs", {"title": "Chair", "body": "An office chair", "code": "XJ-1"})
    insert("docs", {"title": "Desk", "body": None, "code": "SD-2"})
    return data_model


def test_a_computed_vector_gets_a_full_text_index_of_its_sources(docs):
    assert index_defs(docs.db_table) == hnsw(docs) | fts(docs, "title", "body")
    assert matching(docs, "office") == ["Chair"]
    assert matching(docs, "desk") == ["Desk"]  # an empty source adds no word, and hides none
    assert matching(docs, "XJ-1") == []  # `code` is not a source


def test_a_vector_without_sources_has_none(make_model):
    data_model = make_model("docs", [*DOCS, {"name": "embedding", "type": "vector", "dimensions": 3}])
    assert index_defs(data_model.db_table) == hnsw(data_model)


def test_changing_source_fields_rebuilds_only_the_full_text_index(docs):
    hnsw_oid, version = index_oid(next(iter(hnsw(docs)))), schema_version()
    services.field_update(field=field_of(docs, "embedding"), source_fields=["title", "body", "code"])
    assert index_defs(docs.db_table) == hnsw(docs) | fts(docs, "title", "body", "code")
    assert index_oid(next(iter(hnsw(docs)))) == hnsw_oid  # the HNSW index is not rebuilt
    assert matching(docs, "XJ-1") == ["Chair"]
    assert schema_version() == version + 1
    services.field_update(field=field_of(docs, "embedding"), source_fields=["code"])
    assert index_defs(docs.db_table) == hnsw(docs) | fts(docs, "code")
    assert matching(docs, "office") == []


def test_sources_removed_or_added_drop_or_create_it(docs):
    services.field_update(field=field_of(docs, "embedding"), source_fields=[])
    assert index_defs(docs.db_table) == hnsw(docs)
    services.field_update(field=field_of(docs, "embedding"), source_fields=["body"])
    assert index_defs(docs.db_table) == hnsw(docs) | fts(docs, "body")
    assert matching(docs, "office chair") == ["Chair"]


def test_renaming_a_source_keeps_the_index(docs):
    fts_oid = index_oid(next(iter(fts(docs, "title", "body"))))
    services.field_update(field=field_of(docs, "body"), name="text")
    assert field_of(docs, "embedding").source_fields == ["title", "text"]
    assert index_defs(docs.db_table) == hnsw(docs) | fts(docs, "title", "text")  # columns are named by id
    assert index_oid(next(iter(fts(docs, "title", "text")))) == fts_oid
    assert matching(docs, "office") == ["Chair"]


def test_a_source_converts_among_text_types_but_not_away_from_them(docs):
    services.field_update(field=field_of(docs, "body"), type="text")
    assert index_defs(docs.db_table) == hnsw(docs) | fts(docs, "title", "body")
    assert matching(docs, "office") == ["Chair"]
    version = schema_version()
    with pytest.raises(SchemaError) as raised:
        services.field_update(field=field_of(docs, "title"), type="integer", force=True)
    assert raised.value.message == (
        '"title" is a source of vector field(s) embedding: it must stay a text field '
        "(email, long_text, select, text, url); remove it there first")
    assert (field_of(docs, "title").type, schema_version()) == ("text", version)
    assert index_defs(docs.db_table) == hnsw(docs) | fts(docs, "title", "body")
    # Once no vector embeds it, it may become anything.
    services.field_update(field=field_of(docs, "embedding"), source_fields=["body"])
    services.field_update(field=field_of(docs, "title"), type="integer", force=True)
    assert index_defs(docs.db_table) == hnsw(docs) | fts(docs, "body")


def test_deleting_the_vector_or_making_it_another_type_drops_it(docs):
    services.field_update(field=field_of(docs, "embedding"), type="text")
    assert index_defs(docs.db_table) == {}
    services.field_update(field=field_of(docs, "embedding"), type="vector", dimensions=384,
                          source_fields=["title"], force=True)
    assert index_defs(docs.db_table) == hnsw(docs) | fts(docs, "title")
    services.field_delete(field=field_of(docs, "embedding"))
    assert index_defs(docs.db_table) == {}
    assert read("docs", fetch(f"SELECT min(id) FROM {docs.db_table}")[0][0], "title") == "Chair"


def test_a_source_in_use_cannot_be_deleted(docs):
    with pytest.raises(SchemaError, match='"body" is a source of vector field'):
        services.field_delete(field=field_of(docs, "body"))
    assert index_defs(docs.db_table) == hnsw(docs) | fts(docs, "title", "body")


def apply(tmp_path, fields: list[dict], *args: str) -> None:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps({"models": [{"name": "docs", "fields": fields}]}))
    call_command("schema", "apply", str(path), *args)


def test_schema_files_create_change_and_remove_it(tmp_path):
    vector = {"name": "embedding", "type": "vector", "dimensions": 384}
    apply(tmp_path, [*DOCS, {**vector, "source_fields": ["title", "body"]}])
    docs = DataModel.objects.get(name="docs")
    assert index_defs(docs.db_table) == hnsw(docs) | fts(docs, "title", "body")
    apply(tmp_path, [*DOCS, {"name": "summary", "type": "text"}, {**vector, "source_fields": ["summary", "code"]}])
    assert index_defs(docs.db_table) == hnsw(docs) | fts(docs, "summary", "code")
    apply(tmp_path, [*DOCS, {"name": "summary", "type": "text"}, vector])
    assert index_defs(docs.db_table) == hnsw(docs)
    apply(tmp_path, [*DOCS, {"name": "summary", "type": "text"}, {**vector, "source_fields": ["title"]}])
    apply(tmp_path, DOCS, "--prune")
    assert Field.objects.filter(data_model=docs, name="embedding").count() == 0
    assert index_defs(docs.db_table) == {}


def test_a_schema_file_frees_a_source_before_retyping_it(tmp_path):
    """Changes run in file order: the vector that stops embedding `title` must come before
    `title`'s retype, else the retype is refused, naming the vector, and nothing changes."""
    vector = {"name": "embedding", "type": "vector", "dimensions": 384}
    apply(tmp_path, [*DOCS, {**vector, "source_fields": ["title", "body"]}])
    docs = DataModel.objects.get(name="docs")
    title_as_integer = [{"name": "title", "type": "integer"}, *DOCS[1:]]
    with pytest.raises(CommandError, match='"title" is a source of vector field\\(s\\) embedding: it must stay a text'):
        apply(tmp_path, [*title_as_integer, {**vector, "source_fields": ["body"]}], "--force")
    assert (field_of(docs, "title").type, field_of(docs, "embedding").source_fields) == ("text", ["title", "body"])
    assert index_defs(docs.db_table) == hnsw(docs) | fts(docs, "title", "body")
    apply(tmp_path, [{**vector, "source_fields": ["body"]}, *title_as_integer], "--force")
    assert (field_of(docs, "title").type, field_of(docs, "embedding").source_fields) == ("integer", ["body"])
    assert index_defs(docs.db_table) == hnsw(docs) | fts(docs, "body")
