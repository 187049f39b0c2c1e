"""Definitions of user data models: `DataModel`, its `Field`s, and the schema version.

These rows describe the tables; the tables themselves (`dm_<id>`, columns `f_<id>`)
are created and altered by `datamodels.ddl` through `datamodels.services`, never by
Django migrations. Physical names come from ids, so renames never touch SQL.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Now


class SchemaState(models.Model):
    """A single row whose `version` is bumped in the same transaction as every DDL change."""

    version = models.BigIntegerField(default=1)

    class Meta:
        db_table = "datamodels_schemastate"


class RowCountDelta(models.Model):
    """A data model's row count, in slots kept by triggers on its table (see `datamodels.rowcount`).

    Each database session adds to its own slot, so concurrent writers never wait on a
    shared counter; the exact count is the sum of the slots.
    """

    data_model_id = models.IntegerField()
    slot = models.SmallIntegerField(default=0)
    delta = models.BigIntegerField()
    changes = models.BigIntegerField(default=0)

    class Meta:
        db_table = "datamodels_rowcount"
        constraints = [models.UniqueConstraint(fields=["data_model_id", "slot"], name="rowcount_one_row_per_slot")]


class DataModel(models.Model):
    """A user-defined model, stored in its own table `dm_<id>`."""

    name = models.CharField(max_length=63, unique=True)
    label = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "data model"

    def __str__(self):
        return self.label or self.name

    @property
    def db_table(self) -> str:
        return f"dm_{self.pk}"


class Field(models.Model):
    """A typed field of a data model, stored in column `f_<id>` (or a join table for to-many)."""

    data_model = models.ForeignKey(DataModel, on_delete=models.CASCADE, related_name="fields")
    name = models.CharField(max_length=63)
    type = models.CharField(max_length=20)
    position = models.PositiveIntegerField(default=0)
    required = models.BooleanField(default=False)
    unique = models.BooleanField(default=False)
    indexed = models.BooleanField(default=False)
    default = models.JSONField(null=True, blank=True)
    help_text = models.CharField(max_length=500, blank=True)
    max_length = models.PositiveIntegerField(null=True, blank=True)
    min_value = models.FloatField(null=True, blank=True)
    max_value = models.FloatField(null=True, blank=True)
    decimal_places = models.PositiveSmallIntegerField(null=True, blank=True)
    regex = models.CharField(max_length=500, blank=True)
    choices = models.JSONField(default=list, blank=True)
    related_model = models.ForeignKey(
        DataModel, null=True, blank=True, on_delete=models.PROTECT, related_name="incoming_relations"
    )
    many = models.BooleanField(default=False)
    dimensions = models.PositiveIntegerField(null=True, blank=True)
    source_fields = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["data_model", "name"], name="unique_field_name_per_model")]

    def __str__(self):
        return self.name

    @property
    def column(self) -> str:
        return f"f_{self.pk}"

    @property
    def join_table(self) -> str:
        return f"dm_{self.data_model_id}_f_{self.pk}"


class IdempotencyKey(models.Model):
    """The first response to a POST sent with `Idempotency-Key`, replayed to retries for 24 h."""

    caller = models.CharField(max_length=100)
    scope = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body = models.TextField()  # the JSON as sent: jsonb would reorder its keys
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["caller", "scope", "key"], name="unique_idempotency_key")]


class ChangeInterest(models.Model):
    """What one consumer of the change feed (`datamodels.changes`) wants recorded.

    `data_model` empty means every model; `fields` empty means any change of an update.
    The triggers on every data table read these rows, so with none nothing is written.
    """

    consumer = models.CharField(max_length=50)
    data_model = models.ForeignKey(DataModel, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    events = ArrayField(models.CharField(max_length=20))
    fields = ArrayField(models.CharField(max_length=63), default=list, blank=True)

    class Meta:
        db_table = "datamodels_changeinterest"
        constraints = [
            models.UniqueConstraint(fields=["consumer", "data_model"], nulls_distinct=False,
                                    name="changeinterest_one_per_consumer_model"),
        ]


class RecordChange(models.Model):
    """One record change for one interested consumer, written by triggers in the change's transaction."""

    id = models.BigAutoField(primary_key=True)
    consumer = models.CharField(max_length=50)
    data_model_id = models.IntegerField()  # no foreign key: a change outlives nothing but is never blocked
    record_id = models.CharField(max_length=30)
    event = models.CharField(max_length=20)
    changed = ArrayField(models.CharField(max_length=63), default=list)
    data = models.TextField(null=True)  # the record's JSON as the API writes it (text keeps the key order)
    previous = models.JSONField(null=True)
    created_at = models.DateTimeField(db_default=Now())
    txid = models.BigIntegerField()  # the writing transaction: changes of one record in it are merged

    class Meta:
        db_table = "datamodels_recordchange"
        indexes = [
            models.Index(fields=["consumer", "id"], name="recordchange_consumer_idx"),
            models.Index(fields=["txid", "record_id"], name="recordchange_txid_idx"),
        ]
