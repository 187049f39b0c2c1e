"""The full-text (GIN) index of each vector field with `source_fields`, for the keyword side
of hybrid search: new fields get it from `datamodels.ddl`; this adds it to existing ones."""

from django.db import migrations


def _computed_vectors(apps):
    Field = apps.get_model("datamodels", "Field")
    for field in Field.objects.filter(type="vector").exclude(source_fields=[]):
        columns = dict(Field.objects.filter(data_model_id=field.data_model_id).values_list("name", "id"))
        yield field, [f"f_{columns[name]}" for name in field.source_fields if name in columns]


def create_indexes(apps, schema_editor):
    # Today's expression builder: a query finds the index only if it spells the same expression.
    from datamodels.ddl import text_document_sql

    for field, columns in _computed_vectors(apps):
        if columns:
            table = f"dm_{field.data_model_id}"
            schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{table}_f_{field.id}_fts" ON "{table}" '
                                  f"USING gin (({text_document_sql(columns)}))")


def drop_indexes(apps, schema_editor):
    for field, _ in _computed_vectors(apps):
        schema_editor.execute(f'DROP INDEX IF EXISTS "dm_{field.data_model_id}_f_{field.id}_fts"')


class Migration(migrations.Migration):
    dependencies = [("datamodels", "0008_change_feed")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
