"""The change feed wakes a consumer once per transaction, and only when nothing of it waits.

A NOTIFY per committing writer serialized all of them (PostgreSQL holds one lock from a
notifying transaction's pre-commit until its commit is flushed): with a webhook watching a
model, concurrent creates queued behind it. The consumers' loops look again shortly after
their last batch instead (`webhooks.delivery.pump`, `search.worker.run`).
"""

from django.db import migrations

# `datamodels.changes.SHARED_SQL`'s finalize function as of this migration (frozen).
FINALIZE_SQL = r"""
CREATE OR REPLACE FUNCTION infinity_change_finalize() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE body text; woke text := 'infinity.woke_' || md5(NEW.consumer);
BEGIN
    IF NEW.data IS NULL THEN
        EXECUTE format('SELECT infinity_record_json_%s($1)', NEW.data_model_id) INTO body USING NEW.record_id;
        IF body IS NULL THEN  -- deleted later in this transaction: its delete says it
            DELETE FROM datamodels_recordchange WHERE id = NEW.id;
            RETURN NULL;
        END IF;
        UPDATE datamodels_recordchange SET data = body WHERE id = NEW.id;
    END IF;
    IF coalesce(current_setting(woke, true), '') <> '1' THEN
        PERFORM set_config(woke, '1', true);
        IF NOT EXISTS (SELECT 1 FROM datamodels_recordchange WHERE consumer = NEW.consumer AND txid <> NEW.txid) THEN
            PERFORM pg_notify('infinity_changes', NEW.consumer);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
"""

# 0008's, which notified on every change.
PREVIOUS_SQL = r"""
CREATE OR REPLACE FUNCTION infinity_change_finalize() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE body text;
BEGIN
    IF NEW.data IS NULL THEN
        EXECUTE format('SELECT infinity_record_json_%s($1)', NEW.data_model_id) INTO body USING NEW.record_id;
        IF body IS NULL THEN  -- deleted later in this transaction: its delete says it
            DELETE FROM datamodels_recordchange WHERE id = NEW.id;
            RETURN NULL;
        END IF;
        UPDATE datamodels_recordchange SET data = body WHERE id = NEW.id;
    END IF;
    PERFORM pg_notify('infinity_changes', NEW.consumer);
    RETURN NULL;
END
$$;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('datamodels', '0009_text_search_indexes'),
    ]

    operations = [
        migrations.RunSQL(FINALIZE_SQL, PREVIOUS_SQL),
    ]
