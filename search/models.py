"""What search keeps beside the data tables: where each computed vector came from, and
each vector field's embedding health.

A vector field with `source_fields` is computed from its record's text. `VectorState`
records, per record, a fingerprint of what its stored vector was computed from (the
backend, the source columns and the text itself, see `search.sources`): a record
whose fingerprint is missing waits for its vector, one whose fingerprint differs from
its current text's is stale. `VectorFieldStatus` keeps the last embedding error,
which the admin shows.
"""

from django.db import models

from datamodels.models import Field


class VectorState(models.Model):
    """The fingerprint of the text and backend a record's computed vector came from."""

    field = models.ForeignKey(Field, on_delete=models.CASCADE, related_name="+")
    record_id = models.CharField(max_length=30)
    fingerprint = models.CharField(max_length=32)  # md5 hex of backend, source columns and text
    embedded_at = models.DateTimeField()

    class Meta:
        db_table = "search_vectorstate"
        constraints = [models.UniqueConstraint(fields=["field", "record_id"], name="vectorstate_one_per_record")]


class VectorFieldStatus(models.Model):
    """A vector field's last embedding outcome: the admin's "last embedding error"."""

    field = models.OneToOneField(Field, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)  # in a row, since the last success

    class Meta:
        db_table = "search_vectorfieldstatus"
        verbose_name = "vector field status"
        verbose_name_plural = "vector field statuses"


class ComputedVectorField(Field):
    """A vector field with source_fields, as the admin's embedding overview lists it."""

    class Meta:
        proxy = True
        verbose_name = "computed vector field"
