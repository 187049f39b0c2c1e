"""UPDATE statements leave a mark among the row-count deltas too, so a table's state
tells whether any of its rows changed (see `datamodels.rowcount.filtered_count`)."""

from django.db import migrations

from datamodels import rowcount


def mark_updates(apps, schema_editor):
    schema_editor.execute(rowcount.FUNCTION_SQL)
    for model_id in apps.get_model("datamodels", "DataModel").objects.values_list("pk", flat=True):
        table = f"dm_{model_id}"
        schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_count_update" ON "{table}"')
        schema_editor.execute(rowcount.update_trigger_statement(model_id, table))


class Migration(migrations.Migration):

    dependencies = [("datamodels", "0004_rowcount")]

    operations = [migrations.RunPython(mark_updates, migrations.RunPython.noop)]
