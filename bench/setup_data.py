"""Benchmark data: the `customers` model, N records loaded with COPY, and an API key.

Runs inside Django (`python -m bench.setup_data N`), against the benchmark database
(`INFINITY_DB_NAME=infinity_bench` with the embedded server). Prints one JSON line with
what the benchmark needs: the API key, some record ids, the deep-page cursor.
"""

import datetime
import json
import os
import random
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infinity.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from ulid import ULID  # noqa: E402

from accounts.services import apikey_create, default_owner  # noqa: E402
from datamodels import services  # noqa: E402
from datamodels.dynamic import current_schema  # noqa: E402
from datamodels.models import DataModel  # noqa: E402
from datamodels.query import encode_cursor  # noqa: E402

FIELDS = [
    {"name": "name", "type": "text", "required": True},
    {"name": "email", "type": "email", "unique": True},
    {"name": "status", "type": "select", "choices": ["active", "inactive", "pending"], "default": "active"},
    {"name": "total", "type": "number", "indexed": True},
]
STATUSES = ["active", "inactive", "pending"]
BATCH = 50_000


def ensure_model(count: int):
    existing = DataModel.objects.filter(name="customers").first()
    if existing is not None:
        entry = current_schema().get("customers")
        have = entry.model.objects.count()
        if have == count:
            return entry, False
        services.data_model_delete(data_model=existing)
    services.data_model_create(name="customers", fields=FIELDS)
    return current_schema().get("customers"), True


def load(entry, count: int) -> None:
    """COPY `count` rows in batches: ids are ULIDs in created_at order, as the API makes them."""
    columns = ["id", "created_at", "updated_at"] + [entry.by_name[f["name"]].column for f in FIELDS]
    table = entry.definition.db_table
    rng = random.Random(42)
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    with connection.cursor() as cursor:
        for offset in range(0, count, BATCH):
            with cursor.copy(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN') as copy:
                for i in range(offset, min(offset + BATCH, count)):
                    created = start + datetime.timedelta(seconds=i * 7)
                    rid = f"rec_{ULID.from_datetime(created)}"
                    total = round(rng.uniform(0, 1000), 2)
                    copy.write_row((rid, created, created, f"Customer {i}", f"c{i}@example.com",
                                    STATUSES[i % 3], total))
        cursor.execute(f'ANALYZE "{table}"')


def deep_cursor(entry, position: int) -> str:
    """The `next_cursor` a client holds after reading `position` records newest first."""
    row = entry.model.objects.order_by("-created_at", "-id").values("id", "created_at")[position - 1]
    return encode_cursor([("created_at", True)], row)


def main() -> None:
    count = int(sys.argv[1])
    call_command("migrate", verbosity=0)
    entry, created = ensure_model(count)
    if created:
        load(entry, count)
    _, key = apikey_create(user=default_owner(), name="bench", rate_limit="1000000/s")
    ids = list(entry.model.objects.order_by("?").values_list("id", flat=True)[:1000])
    print(json.dumps({"key": key, "ids": ids, "table": entry.definition.db_table,
                      "columns": {f["name"]: entry.by_name[f["name"]].column for f in FIELDS},
                      "cursor": deep_cursor(entry, 999 * 50), "loaded": created}))


if __name__ == "__main__":
    main()
