"""Django model classes for data models, built at run time from their definitions.

Classes live in a private apps registry (never Django's global one), are named
`DM<id>` with attributes named after columns (`f_<id>`) so no user-chosen name can
clash with Django's model API, and are cached per process under the schema
version. `current_schema()` costs one indexed one-row query, so every request sees
a change made by any process, and classes are rebuilt only after a change. A create
skips that query: its INSERT checks the stamp itself (`trust_cached_schema`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field as dc_field

from django.apps.registry import Apps
from django.db import DatabaseError, connection, models
from django.db.migrations.state import AppConfigStub

from infinity import prefetch
from infinity.exceptions import Conflict, InfinityError

from .fieldtypes import field_type
from .models import DataModel, Field

_lock = threading.Lock()
_cache: dict = {"version": None, "schema": None}


@dataclass
class ModelEntry:
    """A data model's definition together with its generated class."""

    definition: DataModel
    fields: list[Field]
    model: type[models.Model]
    by_name: dict[str, Field] = dc_field(default_factory=dict)
    # What is worked out once from this class and its fields (the default record renderer).
    derived: dict = dc_field(default_factory=dict)

    def __post_init__(self):
        self.by_name = {f.name: f for f in self.fields}

    @property
    def name(self) -> str:
        return self.definition.name


@dataclass
class Schema:
    """Every data model of one schema version, by name and by id."""

    version: int
    by_name: dict[str, ModelEntry]
    by_id: dict[int, ModelEntry]
    writer: int = 0  # the transaction that wrote `version` (see `schema_stamp`)

    def get(self, name: str) -> ModelEntry | None:
        return self.by_name.get(name)

    @property
    def stamp(self) -> tuple[int, int]:
        """What `schema_stamp` read when these classes were built; writes check it (`STAMP_GUARD`)."""
        return self.version, self.writer


STAMP_SQL = "SELECT version, xmin::text::bigint FROM datamodels_schemastate WHERE id = 1"
# `value` while the schema stamp is still (v, w), NULL once it has moved on (the
# function `infinity_if_schema`, migration 0007): writes check the stamp inside their
# INSERT. A create that races a change still being committed comes before it.
STAMP_GUARD = "infinity_if_schema(%s, %s, %s)"
ATTEMPTS = 3  # a create is tried on at most this many schemas before it gives up


class StaleSchema(Exception):
    """A write prepared with a cached schema found the stamp moved on, and wrote nothing."""


def schema_version() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM datamodels_schemastate WHERE id = 1")
        return cursor.fetchone()[0]


def schema_stamp() -> tuple[int, int]:
    """The schema version and the id of the transaction that last wrote it.

    A version number alone repeats after a rolled-back change (the next change bumps
    to the same number), so classes built inside that transaction would pass for the
    committed schema. Transaction ids are never reused, so the pair never repeats.
    """
    rows = prefetch.read(STAMP_SQL)
    return tuple(rows[0]) if rows else (0, 0)  # no row until the next schema change recreates it


def prefetch_schema() -> Schema | None:
    """Queue the stamp read for the request's first statement; the schema cached so far
    (maybe stale: good for queueing reads, never for answering)."""
    prefetch.queue(STAMP_SQL)
    return _cache["schema"]


def current_schema() -> Schema:
    """The schema as of now: cached classes unless another process changed a definition."""
    stamp = schema_stamp()
    cached = _cache["schema"]
    if cached is not None and cached.stamp == stamp:
        return cached
    with _lock:
        cached = _cache["schema"]
        if cached is None or cached.stamp != stamp:
            _cache["schema"] = build_schema(stamp[0], writer=stamp[1])
        return _cache["schema"]


def build_schema(version: int, writer: int = 0) -> Schema:
    definitions = list(DataModel.objects.all())
    fields_by_model: dict[int, list[Field]] = {d.pk: [] for d in definitions}
    for field in Field.objects.select_related("data_model", "related_model"):
        # A model committed between these two queries waits for the next build (its
        # change bumped the version, so that is the next call); a field of it, or
        # pointing to it, would otherwise break this one.
        if field.data_model_id in fields_by_model and field.related_model_id in (None, *fields_by_model):
            fields_by_model[field.data_model_id].append(field)
    apps = _private_apps()
    entries = []
    for definition in definitions:
        fields = fields_by_model[definition.pk]
        entries.append(ModelEntry(definition, fields, _build_class(apps, definition, fields)))
    apps.clear_cache()  # reverse relations are known only once every class exists
    return Schema(version, {e.name: e for e in entries}, {e.definition.pk: e for e in entries}, writer)


def _private_apps() -> Apps:
    """An apps registry of our own with one app, `dynamic`, so reverse relations resolve."""
    apps = Apps(installed_apps=())
    stub = AppConfigStub("dynamic")
    stub.apps = apps
    stub.models = apps.all_models["dynamic"]
    apps.app_configs["dynamic"] = stub
    return apps


def _meta(apps: Apps, table: str) -> type:
    return type("Meta", (), {"db_table": table, "managed": False, "app_label": "dynamic", "apps": apps})


def _build_class(apps: Apps, definition: DataModel, fields: list[Field]) -> type[models.Model]:
    attrs = {
        "__module__": "datamodels.dynamic",
        "Meta": _meta(apps, definition.db_table),
        "id": models.CharField(primary_key=True, max_length=30),
        "created_at": models.DateTimeField(),
        "updated_at": models.DateTimeField(),
    }
    for field in fields:
        if field.type == "relation" and field.many:
            _build_through(apps, field)
        attrs[field.column] = field_type(field.type).model_field(field)
    return type(f"DM{definition.pk}", (models.Model,), attrs)


def _build_through(apps: Apps, field: Field) -> None:
    # Reverse names are explicit (`j<id>_s`): hidden ("+") ones break prefetching.
    fk = dict(on_delete=models.DO_NOTHING, db_constraint=False)
    attrs = {
        "__module__": "datamodels.dynamic",
        "Meta": _meta(apps, field.join_table),
        "source": models.ForeignKey(
            f"dynamic.DM{field.data_model_id}", db_column="source_id", related_name=f"j{field.pk}_s", **fk
        ),
        "target": models.ForeignKey(
            f"dynamic.DM{field.related_model_id}", db_column="target_id", related_name=f"j{field.pk}_t", **fk
        ),
    }
    type(f"DM{field.data_model_id}F{field.pk}", (models.Model,), attrs)


def request_schema(request) -> Schema:
    """`current_schema()` once per request: permission checks and the view share it."""
    schema = getattr(request, "_infinity_schema", None)
    if schema is None:
        schema = current_schema()
        request._infinity_schema = schema
    return schema


def trust_cached_schema(request) -> None:
    """Let the request work with the schema cached so far, unchecked (no stamp read): for
    creates, whose INSERTs check the stamp themselves (`STAMP_GUARD`); anything the
    request refuses or cannot write on that trust is judged again (`on_current_schema`)."""
    cached = _cache["schema"]
    if cached is not None:
        request._infinity_schema, request._infinity_unchecked = cached, True


def is_trusted(request) -> bool:
    """The request works with a schema nobody has checked is current."""
    return getattr(request, "_infinity_unchecked", False)


def confirm_schema(request) -> None:
    """A write found the stamp current: the schema is the request's for good."""
    request._infinity_unchecked = False


def refresh_schema(request) -> bool:
    """The current schema for the request, from a stamp read now (not one read ahead
    earlier in the request); True when it differs from the one the request had."""
    before = getattr(request, "_infinity_schema", None)
    prefetch.forget(STAMP_SQL)
    request._infinity_schema, request._infinity_unchecked = current_schema(), False
    return request._infinity_schema is not before


def recheck_schema(request) -> bool:
    """Check a trusted schema now; True when it had moved on (the request then holds the current one)."""
    return is_trusted(request) and refresh_schema(request)


def on_current_schema(request, attempt, *, on_moved):
    """`attempt()`, a create whose INSERTs carry its schema's `stamp` (so `StaleSchema` when the
    schema moved), run again on the current schema, after `on_moved()` (access checked
    again), when it met a moved stamp, or failed on a trusted schema that had moved."""
    for _ in range(ATTEMPTS):
        try:
            return attempt()
        except StaleSchema:
            refresh_schema(request)
        except (InfinityError, DatabaseError):
            if not recheck_schema(request):
                raise
        on_moved()
    raise Conflict("The model's definition changed while the record was being created; send it again")
