"""Install pgvector; explain how to get it when the server lacks it."""

from django.db import migrations


def create_vector_extension(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        if cursor.fetchone() is None:
            raise RuntimeError(
                "The PostgreSQL server at DATABASE_URL has no pgvector extension. Install it "
                "(e.g. `apt install postgresql-NN-pgvector`, or use the pgvector/pgvector Docker image), "
                "or unset DATABASE_URL to use the embedded PostgreSQL, which ships with it."
            )
        cursor.execute("CREATE EXTENSION IF NOT EXISTS vector")
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        if cursor.fetchone() is not None:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [migrations.RunPython(create_vector_extension, migrations.RunPython.noop)]
