"""The function a create's INSERT checks the schema stamp with (`dynamic.STAMP_GUARD`)."""

from django.db import migrations

from datamodels.dynamic import GUARD_FUNCTION_SQL


class Migration(migrations.Migration):

    dependencies = [("datamodels", "0006_rowcount_slots")]

    operations = [migrations.RunSQL(GUARD_FUNCTION_SQL, "DROP FUNCTION IF EXISTS infinity_if_schema(text, bigint, bigint)")]
