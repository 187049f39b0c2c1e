"""The single SchemaState row, and pgvector before any user table needs it."""

from django.db import migrations


def create_row(apps, schema_editor):
    apps.get_model("datamodels", "SchemaState").objects.get_or_create(pk=1, defaults={"version": 1})


class Migration(migrations.Migration):
    dependencies = [("datamodels", "0001_initial"), ("infinity", "0001_pgvector")]
    operations = [migrations.RunPython(create_row, migrations.RunPython.noop)]
