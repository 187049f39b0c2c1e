"""Webhooks, their deliveries (the outbox) and every delivery attempt.

A `Delivery` is written when a change is taken from the change feed (`datamodels.changes`),
in the transaction that takes it, so it exists once the change committed; its body is
fixed then, so every retry sends the same bytes under the same `X-Infinity-Delivery`.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from ulid import ULID


def webhook_id() -> str:
    return f"wh_{ULID()}"


def delivery_id() -> str:
    return f"dlv_{ULID()}"


class Webhook(models.Model):
    """A URL that receives signed record events of the models it watches (every model when none)."""

    id = models.CharField(primary_key=True, max_length=40, default=webhook_id, editable=False)
    url = models.URLField(max_length=2000)
    events = ArrayField(models.CharField(max_length=20))
    model_ids = ArrayField(models.IntegerField(), default=list, blank=True, help_text="Empty: every model.")
    fields = ArrayField(models.CharField(max_length=63), default=list, blank=True,
                        help_text="Updates are sent only when one of these fields changed (empty: any).")
    secret = models.CharField(max_length=255, editable=False)
    previous_secret = models.CharField(max_length=255, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    active = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    # Set when deliveries start failing and cleared by a success; the auto-disable clock.
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=500, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return self.url


class Delivery(models.Model):
    """One event (or ping) to send to one webhook, retried until delivered or failed."""

    PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
    STATUSES = [(PENDING, "pending"), (DELIVERED, "delivered"), (FAILED, "failed")]

    id = models.CharField(primary_key=True, max_length=40, default=delivery_id, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=20)
    model = models.CharField(max_length=63, blank=True)
    record_id = models.CharField(max_length=30, blank=True)
    body = models.TextField()  # the exact JSON sent, signed as is
    status = models.CharField(max_length=10, choices=STATUSES, default=PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            # The sweeper's read: due pending deliveries, oldest first.
            models.Index(fields=["next_attempt_at"], name="delivery_due_idx", condition=models.Q(status="pending")),
            models.Index(fields=["webhook", "-created_at"], name="delivery_webhook_idx"),
            models.Index(fields=["status", "finished_at"], name="delivery_finished_idx"),
        ]

    def __str__(self):
        return self.id


class DeliveryAttempt(models.Model):
    """One HTTP request of a delivery, as it went."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    succeeded = models.BooleanField()
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField()
    error = models.CharField(max_length=500, blank=True)
    response_body = models.TextField(blank=True)  # at most the first KiB

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="one_attempt_per_number")]
