"""The change feed's create path does no work at commit, and commits wake a consumer only when needed.

- A create's row carries its record's JSON from the insert trigger (rendered from the new
  rows by a plan PL/pgSQL keeps), and the deferred trigger runs only for rows written
  without it (updates). Rendering every create at commit through dynamic SQL, per row,
  halved the inserts per second of a watched model (pgbench). A later statement of the
  same transaction that changes the record writes its create again without the JSON
  (`infinity_change_touched`), so a create still carries the record as committed.
- A transaction sends NOTIFY at most once per consumer, and only when none of that
  consumer's changes from other transactions wait (`infinity_change_wake`): PostgreSQL
  serializes notifying commits behind one lock held until their commit is flushed. The
  consumers look again 0.1 s after their last batch (`webhooks.delivery.pump`,
  `search.worker.run`).
"""

import importlib

from django.db import migrations


def install_triggers(apps, schema_editor):
    # The current code, not historical models: every data table's trigger function again.
    from datamodels.changes import install_all

    install_all()


# `datamodels.changes.SHARED_SQL` as of this migration (frozen).
SHARED_SQL = r"""
CREATE OR REPLACE FUNCTION infinity_change_updated(model_id integer, rid text, names text[], prev jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE i record; pending record; tx bigint := txid_current();
BEGIN
    FOR i IN SELECT consumer, fields FROM datamodels_changeinterest
             WHERE (data_model_id = model_id OR data_model_id IS NULL) AND 'record.updated' = ANY(events) LOOP
        SELECT id, event INTO pending FROM datamodels_recordchange
            WHERE txid = tx AND record_id = rid AND consumer = i.consumer AND data_model_id = model_id
              AND event <> 'record.deleted' ORDER BY id LIMIT 1;
        IF pending.id IS NOT NULL THEN
            -- Earlier in this transaction: a create says it all; an update gains these
            -- fields, keeping the oldest value of each.
            IF pending.event = 'record.updated' THEN
                UPDATE datamodels_recordchange c SET changed = c.changed::text[] || ARRAY(SELECT n FROM unnest(names) n WHERE n <> ALL(c.changed)),
                       previous = prev || c.previous
                    WHERE c.id = pending.id;
            END IF;
            CONTINUE;
        END IF;
        IF cardinality(i.fields) > 0 AND NOT (i.fields::text[] && names) THEN
            CONTINUE;
        END IF;
        INSERT INTO datamodels_recordchange (consumer, data_model_id, record_id, event, changed, previous, created_at, txid)
            VALUES (i.consumer, model_id, rid, 'record.updated', names, prev, now(), tx);
    END LOOP;
END
$$;

-- A record created earlier in this transaction changed again (a later statement): its
-- `record.created` rows, written with the record's JSON, are written anew without it, so
-- the deferred trigger renders them at commit.
CREATE OR REPLACE FUNCTION infinity_change_touched(model_id integer, rid text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    WITH gone AS (
        DELETE FROM datamodels_recordchange WHERE txid = txid_current() AND record_id = rid AND data_model_id = model_id
            AND event = 'record.created' AND data IS NOT NULL
        RETURNING consumer, changed, created_at, txid)
    INSERT INTO datamodels_recordchange (consumer, data_model_id, record_id, event, changed, created_at, txid)
        SELECT consumer, model_id, rid, 'record.created', changed, created_at, txid FROM gone;
END
$$;

-- Wake `consumer`'s listeners when this transaction commits: at most once per transaction,
-- and only when none of its changes from other transactions wait (those mean it is awake,
-- taking them, or soon will be; its loop looks again shortly after its last batch). NOTIFY
-- is not free: every committing transaction that sent one queues behind one lock until its
-- commit is flushed.
CREATE OR REPLACE FUNCTION infinity_change_wake(who text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE woke text := 'infinity.woke_' || md5(who);
BEGIN
    IF coalesce(current_setting(woke, true), '') <> '1' THEN
        PERFORM set_config(woke, '1', true);
        IF NOT EXISTS (SELECT 1 FROM datamodels_recordchange WHERE consumer = who AND txid <> txid_current()) THEN
            PERFORM pg_notify('infinity_changes', who);
        END IF;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION infinity_link_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    model_id integer := TG_ARGV[0]::integer;
    fname text;
    src text;
    prev json;
    changes text := CASE TG_OP WHEN 'INSERT' THEN 'new_rows' ELSE 'old_rows' END;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM datamodels_changeinterest WHERE (data_model_id = model_id OR data_model_id IS NULL)) THEN
        RETURN NULL;
    END IF;
    SELECT name INTO fname FROM datamodels_field WHERE id = TG_ARGV[1]::integer;
    -- A source deleted by this statement's cascade is gone already: its delete says it.
    FOR src IN EXECUTE format('SELECT DISTINCT c.source_id FROM %I c WHERE EXISTS '
                              '(SELECT 1 FROM %I r WHERE r.id = c.source_id)', changes, 'dm_' || model_id) LOOP
        -- The links as they were before this statement, in link order.
        IF TG_OP = 'INSERT' THEN
            EXECUTE format('SELECT coalesce(json_agg(l.target_id ORDER BY l.id), ''[]'') FROM %I l '
                           'WHERE l.source_id = $1 AND l.id NOT IN (SELECT id FROM new_rows)', TG_TABLE_NAME)
                INTO prev USING src;
        ELSE
            EXECUTE format('SELECT coalesce(json_agg(l.target_id ORDER BY l.id), ''[]'') FROM '
                           '(SELECT id, target_id FROM %I WHERE source_id = $1 '
                           'UNION ALL SELECT id, target_id FROM old_rows WHERE source_id = $1) l', TG_TABLE_NAME)
                INTO prev USING src;
        END IF;
        PERFORM infinity_change_touched(model_id, src);
        PERFORM infinity_change_updated(model_id, src, ARRAY[fname], jsonb_build_object(fname, prev));
    END LOOP;
    RETURN NULL;
END
$$;

-- Rows written without their record's JSON (updates, touched creates) get it at commit:
-- the record as committed.
CREATE OR REPLACE FUNCTION infinity_change_finalize() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE body text;
BEGIN
    EXECUTE format('SELECT infinity_record_json_%s($1)', NEW.data_model_id) INTO body USING NEW.record_id;
    IF body IS NULL THEN  -- deleted later in this transaction: its delete says it
        DELETE FROM datamodels_recordchange WHERE id = NEW.id;
        RETURN NULL;
    END IF;
    UPDATE datamodels_recordchange SET data = body WHERE id = NEW.id;
    PERFORM infinity_change_wake(NEW.consumer);
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS datamodels_recordchange_finalize ON datamodels_recordchange;
CREATE CONSTRAINT TRIGGER datamodels_recordchange_finalize AFTER INSERT ON datamodels_recordchange
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.data IS NULL) EXECUTE FUNCTION infinity_change_finalize();
"""

BEFORE = importlib.import_module("datamodels.migrations.0008_change_feed").SHARED_SQL + """
DROP FUNCTION IF EXISTS infinity_change_touched(integer, text);
DROP FUNCTION IF EXISTS infinity_change_wake(text);
"""


class Migration(migrations.Migration):

    dependencies = [
        ('datamodels', '0009_text_search_indexes'),
    ]

    operations = [
        migrations.RunSQL(SHARED_SQL, BEFORE),
        migrations.RunPython(install_triggers, install_triggers),
    ]
