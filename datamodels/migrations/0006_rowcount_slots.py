"""Row counts in a few slots per model (one per database session, modulo 16) instead of
one row per write statement: the table stays tiny, and reads never fold or scan bloat."""

from django.db import migrations, models

from datamodels import rowcount

FOLD = """
WITH gone AS (DELETE FROM datamodels_rowcount RETURNING data_model_id, delta)
INSERT INTO datamodels_rowcount (data_model_id, slot, delta, changes)
SELECT data_model_id, 0, sum(delta), count(*) FROM gone GROUP BY data_model_id
"""


class Migration(migrations.Migration):

    dependencies = [
        ("datamodels", "0005_rowcount_updates"),
    ]

    operations = [
        migrations.AddField(
            model_name="rowcountdelta",
            name="changes",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="rowcountdelta",
            name="slot",
            field=models.SmallIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="rowcountdelta",
            name="data_model_id",
            field=models.IntegerField(),
        ),
        migrations.RunSQL(FOLD, migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name="rowcountdelta",
            constraint=models.UniqueConstraint(fields=("data_model_id", "slot"), name="rowcount_one_row_per_slot"),
        ),
        migrations.RunSQL(rowcount.FUNCTION_SQL, migrations.RunSQL.noop),
    ]
