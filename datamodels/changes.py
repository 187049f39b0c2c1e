"""The change feed: every committed record change, written by triggers in the change's own transaction.

Consumers (webhooks, search) never hook into write paths. They declare what they want
(`change_interest_set`: a model or every model, events, fields) and take what the
triggers wrote (`changes_claim`), so the API, the admin browser, bulk writes, `manage.py`
commands, COPY and relations cleared by a delete all produce the same events, and a
rolled-back change produces none. Triggers on each data table (installed by `install`,
which the schema services call after every change of a model's fields):

- `dm_<id>` AFTER INSERT, per statement (its new rows, which the row-count trigger
  captures anyway): one `record.created` per row and interested consumer;
- `dm_<id>` AFTER UPDATE, per row: the changed fields (vector fields and `updated_at`
  aside) and their old values as the API writes them; nothing when nothing changed;
- `dm_<id>` BEFORE DELETE, per row: the record as it was, to-many links included;
- each to-many join table, per statement: an `updated` of the source records whose
  links changed, with the links as they were in `previous`.

With no interest in a model each trigger costs one constant test and writes nothing:
whether anyone watches a model is baked into its trigger function, which
`change_interest_set`/`_clear` rewrite (only the function: no lock on the table).
Changes of one record within one transaction merge into one row per consumer. `data` is
the record as committed, written by the list pages' own SQL renderer: a create's and a
delete's by their triggers (a create's from the new rows, in a plan PL/pgSQL keeps: no
per-row work at commit on the create path), an update's at commit by a deferred trigger
on the feed table running `infinity_record_json_<id>` (a create whose record a later
statement of the transaction changed is written again without its JSON, so it gets it
there too). A `pg_notify('infinity_changes', consumer)` at commit tells listeners there is
work: once per transaction, and only when none of that consumer's changes from other
transactions wait (NOTIFY serializes the commits that send one).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

from django.db import connection, transaction
from django.db.models import Q

from .fieldtypes import field_type
from .models import ChangeInterest, DataModel, RecordChange
from .selectors import RecordRenderer

EVENTS = ("record.created", "record.updated", "record.deleted")
CHANNEL = "infinity_changes"
TABLE = "datamodels_recordchange"
INTERESTS = "datamodels_changeinterest"
PAIRS_PER_CALL = 40  # jsonb_build_object takes at most 100 arguments
# Two transactions rewriting one function at once would fail ("tuple concurrently updated"):
# every rewrite takes this lock first, until its transaction ends.
LOCK_SQL = "SELECT pg_advisory_xact_lock(7321957066)"

# Functions every data table's triggers share; created by migration 0008, changed by 0010.
SHARED_SQL = f"""
CREATE OR REPLACE FUNCTION infinity_change_updated(model_id integer, rid text, names text[], prev jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE i record; pending record; tx bigint := txid_current();
BEGIN
    FOR i IN SELECT consumer, fields FROM {INTERESTS}
             WHERE (data_model_id = model_id OR data_model_id IS NULL) AND 'record.updated' = ANY(events) LOOP
        SELECT id, event INTO pending FROM {TABLE}
            WHERE txid = tx AND record_id = rid AND consumer = i.consumer AND data_model_id = model_id
              AND event <> 'record.deleted' ORDER BY id LIMIT 1;
        IF pending.id IS NOT NULL THEN
            -- Earlier in this transaction: a create says it all; an update gains these
            -- fields, keeping the oldest value of each.
            IF pending.event = 'record.updated' THEN
                UPDATE {TABLE} c SET changed = c.changed::text[] || ARRAY(SELECT n FROM unnest(names) n WHERE n <> ALL(c.changed)),
                       previous = prev || c.previous
                    WHERE c.id = pending.id;
            END IF;
            CONTINUE;
        END IF;
        IF cardinality(i.fields) > 0 AND NOT (i.fields::text[] && names) THEN
            CONTINUE;
        END IF;
        INSERT INTO {TABLE} (consumer, data_model_id, record_id, event, changed, previous, created_at, txid)
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
        DELETE FROM {TABLE} WHERE txid = txid_current() AND record_id = rid AND data_model_id = model_id
            AND event = 'record.created' AND data IS NOT NULL
        RETURNING consumer, changed, created_at, txid)
    INSERT INTO {TABLE} (consumer, data_model_id, record_id, event, changed, created_at, txid)
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
        IF NOT EXISTS (SELECT 1 FROM {TABLE} WHERE consumer = who AND txid <> txid_current()) THEN
            PERFORM pg_notify('{CHANNEL}', who);
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
    IF NOT EXISTS (SELECT 1 FROM {INTERESTS} WHERE (data_model_id = model_id OR data_model_id IS NULL)) THEN
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
        DELETE FROM {TABLE} WHERE id = NEW.id;
        RETURN NULL;
    END IF;
    UPDATE {TABLE} SET data = body WHERE id = NEW.id;
    PERFORM infinity_change_wake(NEW.consumer);
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS {TABLE}_finalize ON {TABLE};
CREATE CONSTRAINT TRIGGER {TABLE}_finalize AFTER INSERT ON {TABLE}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.data IS NULL) EXECUTE FUNCTION infinity_change_finalize();
"""

DROP_SHARED_SQL = f"""
DROP TRIGGER IF EXISTS {TABLE}_finalize ON {TABLE};
DROP FUNCTION IF EXISTS infinity_change_finalize();
DROP FUNCTION IF EXISTS infinity_link_changes();
DROP FUNCTION IF EXISTS infinity_change_touched(integer, text);
DROP FUNCTION IF EXISTS infinity_change_wake(text);
DROP FUNCTION IF EXISTS infinity_change_updated(integer, text, text[], jsonb);
"""


# --- the triggers of one data model -------------------------------------------------

def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _text_array(names: list[str]) -> str:
    return "ARRAY[" + ", ".join(_quote(n) for n in names) + "]::text[]" if names else "'{}'::text[]"


def record_json_items(fields: list, row: str) -> list[str]:
    """The select list writing a record as the API does (the list pages' renderer), from `row`."""
    return RecordRenderer(SimpleNamespace(fields=list(fields)), None)._sql_json(row)


def _render_function(model_id: int, fields: list) -> str:
    items = record_json_items(fields, "p")
    return (f"CREATE OR REPLACE FUNCTION infinity_record_json_{model_id}(rid text) RETURNS text "
            f"LANGUAGE sql STABLE AS $$ SELECT row_to_json(j)::text FROM \"dm_{model_id}\" p "
            f"CROSS JOIN LATERAL (SELECT {', '.join(items)}) j WHERE p.id = rid $$")


def _watched(model_id: int, event: str) -> str:
    return (f"(i.data_model_id = {model_id} OR i.data_model_id IS NULL) AND '{event}' = ANY(i.events)")


def _old_values(columns: list) -> str:
    """jsonb of every column field's old value, keyed by name (in calls of at most 40 pairs)."""
    pairs = [f"{_quote(f.name)}, to_jsonb({field_type(f.type).json_sql(f, 'OLD')})" for f in columns]
    calls = [f"jsonb_build_object({', '.join(pairs[i:i + PAIRS_PER_CALL])})"
             for i in range(0, len(pairs), PAIRS_PER_CALL)]
    return " || ".join(calls) or "'{}'::jsonb"


def _on_insert(model_id: int, fields: list, shown: list) -> str:
    """The insert branch: a `record.created` row per new row and consumer, with the record's JSON."""
    watched = _watched(model_id, 'record.created')
    return f"""        IF EXISTS (SELECT 1 FROM {INTERESTS} i WHERE {watched}) THEN
            -- The record's JSON is written now, from the new row (a plan PL/pgSQL keeps), not
            -- at commit: a later statement changing it marks it to be written again.
            INSERT INTO {TABLE} (consumer, data_model_id, record_id, event, changed, data, created_at, txid)
                SELECT i.consumer, {model_id}, n.id, 'record.created', {_text_array([f.name for f in shown])},
                       row_to_json(j)::text, now(), txid_current()
                FROM {INTERESTS} i CROSS JOIN new_rows n CROSS JOIN LATERAL (SELECT {', '.join(record_json_items(fields, 'n'))}) j
                WHERE {watched};
            PERFORM infinity_change_wake(i.consumer) FROM {INTERESTS} i WHERE {watched};
        END IF;
"""


def _on_delete(model_id: int) -> str:
    """The delete branch: the record as it was, while its links still exist."""
    watched = _watched(model_id, 'record.deleted')
    return f"""        -- Created earlier in this transaction: no create is sent, only the delete.
        DELETE FROM {TABLE} WHERE txid = txid_current() AND record_id = OLD.id AND data_model_id = {model_id}
            AND event = 'record.created';
        IF EXISTS (SELECT 1 FROM {INTERESTS} i WHERE {watched}) THEN
            INSERT INTO {TABLE} (consumer, data_model_id, record_id, event, changed, data, created_at, txid)
                SELECT i.consumer, {model_id}, OLD.id, 'record.deleted', '{{}}', infinity_record_json_{model_id}(OLD.id),
                       now(), txid_current()
                FROM {INTERESTS} i WHERE {watched};
            PERFORM infinity_change_wake(i.consumer) FROM {INTERESTS} i WHERE {watched};
        END IF;
"""


def _trigger_function(model_id: int, fields: list, watched: bool) -> str:
    shown = [f for f in fields if field_type(f.type).json_sql(f, "p") is not None]  # vectors aside
    columns = [f for f in shown if not (f.type == "relation" and f.many)]
    changed = ", ".join(f'CASE WHEN OLD."{f.column}" IS DISTINCT FROM NEW."{f.column}" THEN {_quote(f.name)} END'
                        for f in columns)
    return f"""
CREATE OR REPLACE FUNCTION infinity_changes_{model_id}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE names text[]; prev jsonb;  -- not `old`: PL/pgSQL names are case-blind, it would hide OLD
BEGIN
    IF NOT {'TRUE' if watched else 'FALSE'} THEN  -- no consumer watches this model (rewritten when one does)
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
{_on_insert(model_id, fields, shown)}        RETURN NULL;
    ELSIF TG_OP = 'DELETE' THEN
{_on_delete(model_id)}        RETURN OLD;
    END IF;
    PERFORM infinity_change_touched({model_id}, NEW.id);
    IF NOT EXISTS (SELECT 1 FROM {INTERESTS} i WHERE {_watched(model_id, 'record.updated')}) THEN
        RETURN NULL;
    END IF;
    names := array_remove(ARRAY[{changed or 'NULL'}]::text[], NULL);
    IF cardinality(names) = 0 THEN
        RETURN NULL;
    END IF;
    prev := (SELECT jsonb_object_agg(key, value) FROM jsonb_each({_old_values(columns)}) WHERE key = ANY(names));
    PERFORM infinity_change_updated({model_id}, NEW.id, names, prev);
    RETURN NULL;
END
$$"""


def install(data_model: DataModel) -> None:
    """(Re)create the model's change triggers and functions for its current fields."""
    model_id, table = data_model.pk, data_model.db_table
    fields = list(data_model.fields.all())
    run = f"EXECUTE FUNCTION infinity_changes_{model_id}()"
    statements = [
        _render_function(model_id, fields),
        _trigger_function(model_id, fields, _is_watched(model_id)),
        f'CREATE OR REPLACE TRIGGER "{table}_changes_insert" AFTER INSERT ON "{table}" '
        f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT {run}",
        f'CREATE OR REPLACE TRIGGER "{table}_changes_update" AFTER UPDATE ON "{table}" FOR EACH ROW {run}',
        f'CREATE OR REPLACE TRIGGER "{table}_changes_delete" BEFORE DELETE ON "{table}" FOR EACH ROW {run}',
    ]
    for field in fields:
        if field.type == "relation" and field.many:
            join, args = field.join_table, f"'{model_id}', '{field.pk}'"
            statements += [
                f'CREATE OR REPLACE TRIGGER "{join}_changes_insert" AFTER INSERT ON "{join}" REFERENCING NEW TABLE '
                f"AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION infinity_link_changes({args})",
                f'CREATE OR REPLACE TRIGGER "{join}_changes_delete" AFTER DELETE ON "{join}" REFERENCING OLD TABLE '
                f"AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION infinity_link_changes({args})",
            ]
    with connection.cursor() as cursor:
        cursor.execute(LOCK_SQL)
        for statement in statements:
            cursor.execute(statement)


def _is_watched(model_id: int) -> bool:
    return ChangeInterest.objects.filter(Q(data_model_id=model_id) | Q(data_model=None)).exists()


def _rewrite_trigger_functions(model_id: int | None) -> None:
    """Bake whether anyone watches into the model's (`None`: every model's) trigger function.

    The unwatched path is then a constant test, not a query (a create's trigger cost
    ~3x less). Only the function changes: no lock on the table, no DDL on it.
    """
    models = DataModel.objects.all() if model_id is None else DataModel.objects.filter(pk=model_id)
    with connection.cursor() as cursor:
        cursor.execute(LOCK_SQL)
        for data_model in models:
            fields = list(data_model.fields.all())
            cursor.execute(_trigger_function(data_model.pk, fields, _is_watched(data_model.pk)))


def uninstall(model_id: int) -> None:
    """Drop a dropped model's functions (its triggers went with its tables)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP FUNCTION IF EXISTS infinity_changes_{int(model_id)}()")
        cursor.execute(f"DROP FUNCTION IF EXISTS infinity_record_json_{int(model_id)}(text)")


# --- consumers' side ----------------------------------------------------------------

@transaction.atomic
def change_interest_set(*, consumer: str, model_id: int | None, events, fields=()) -> None:
    """Record what `consumer` wants of a model (`None`: every model); no events clears it.

    A consumer has either one every-model interest or per-model ones (both would record
    each change twice): setting one kind drops the other.
    """
    events = sorted({e for e in events if e in EVENTS})
    if not events:
        change_interest_clear(consumer=consumer, model_id=model_id)
        return
    others = ChangeInterest.objects.filter(consumer=consumer)
    dropped = others.exclude(data_model=None) if model_id is None else others.filter(data_model=None)
    every = dropped.exists() and model_id is not None  # an every-model interest goes: all models change
    dropped.delete()
    _, created = ChangeInterest.objects.update_or_create(
        consumer=consumer, data_model_id=model_id, defaults={"events": events, "fields": sorted(set(fields))},
    )
    if created or every:
        _rewrite_trigger_functions(None if every else model_id)


@transaction.atomic
def change_interest_clear(*, consumer: str, model_id: int | None = None, every: bool = False) -> None:
    """Forget `consumer`'s interest in one model (`None`: the every-model row), or all of it."""
    rows = ChangeInterest.objects.filter(consumer=consumer)
    if not every:
        rows = rows.filter(data_model_id=model_id)
    affected = set(rows.values_list("data_model_id", flat=True))
    if rows.delete()[0]:
        _rewrite_trigger_functions(None if None in affected or len(affected) > 1 else affected.pop())


def change_interests(*, consumer: str) -> dict[int | None, tuple[list[str], list[str]]]:
    """What `consumer` asked for: model id (None: every model) -> (events, fields)."""
    return {row.data_model_id: (row.events, row.fields) for row in ChangeInterest.objects.filter(consumer=consumer)}


def changes_claim(*, consumer: str, limit: int = 500) -> list[RecordChange]:
    """Take up to `limit` of `consumer`'s oldest changes, oldest first, removing them.

    Must run inside the consumer's transaction (which then records what it did with
    them): rows other transactions hold are skipped, never waited for or taken twice,
    and a rollback puts them back.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("changes_claim must run inside the consumer's transaction")
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {TABLE} WHERE id IN (SELECT id FROM {TABLE} WHERE consumer = %s AND data IS NOT NULL "
            f"ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) "
            "RETURNING id, consumer, data_model_id, record_id, event, changed, data, previous, created_at, txid",
            [consumer, limit],
        )
        rows = cursor.fetchall()
    changes = [RecordChange(id=r[0], consumer=r[1], data_model_id=r[2], record_id=r[3], event=r[4], changed=r[5],
                            data=r[6], previous=_json(r[7]), created_at=r[8], txid=r[9]) for r in rows]
    changes.sort(key=lambda change: change.id)
    return changes


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def changes_pending(*, consumer: str) -> int:
    """How many committed changes wait for `consumer`."""
    return RecordChange.objects.filter(consumer=consumer).exclude(data=None).count()


@transaction.atomic
def install_all() -> None:
    """Install the triggers of every data model (the migration that brought the feed runs it)."""
    for data_model in DataModel.objects.all():
        install(data_model)
