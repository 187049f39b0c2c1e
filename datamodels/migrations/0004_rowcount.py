"""Exact row counts kept by triggers: the delta table, the trigger function, and
triggers (with a starting count) on the tables of data models that already exist."""

from django.db import migrations, models

from datamodels import rowcount


def count_existing_tables(apps, schema_editor):
    for model_id in apps.get_model("datamodels", "DataModel").objects.values_list("pk", flat=True):
        table = f"dm_{model_id}"
        seed = f'INSERT INTO datamodels_rowcount (data_model_id, delta) SELECT {int(model_id)}, count(*) FROM "{table}"'
        for statement in [*rowcount.trigger_statements(model_id, table), seed]:
            schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ("datamodels", "0003_idempotencykey"),
    ]

    operations = [
        migrations.CreateModel(
            name="RowCountDelta",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("data_model_id", models.IntegerField(db_index=True)),
                ("delta", models.BigIntegerField()),
            ],
            options={
                "db_table": "datamodels_rowcount",
            },
        ),
        migrations.RunSQL(rowcount.FUNCTION_SQL, "DROP FUNCTION IF EXISTS infinity_count_rows()"),
        migrations.RunPython(count_existing_tables, migrations.RunPython.noop),
    ]
