"""The UNLOGGED table behind `accounts.counters.CounterCache` (rate-limit counters)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [
        migrations.RunSQL(
            "CREATE UNLOGGED TABLE IF NOT EXISTS accounts_counter "
            "(key varchar(255) PRIMARY KEY, value bigint NOT NULL, expires timestamptz NOT NULL)",
            "DROP TABLE IF EXISTS accounts_counter",
        )
    ]
