"""API keys: a visible prefix, a SHA-256 hash of the raw key, scopes, models and limits.

The raw key (`inf_ab12cd34_<secret>`) is shown once by `accounts.services.apikey_create`
and never stored. Keys are created, authenticated and revoked through that module only.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

SCOPES = ("read", "write", "delete", "webhooks")


def all_scopes() -> list[str]:
    """Default of `ApiKey.scopes`: a fresh list of every scope."""
    return list(SCOPES)


class ApiKey(models.Model):
    """A credential for the public API, owned by a user and identified by its prefix."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=32, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=all_scopes)
    expires_at = models.DateTimeField(null=True, blank=True)
    rate_limit = models.CharField(max_length=100, blank=True, help_text="Empty means the global default.")
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Last on purpose: from here on, `models` in this class body is this field, not the module.
    models = models.ManyToManyField(
        "datamodels.DataModel",
        blank=True,
        related_name="api_keys",
        help_text="Leave empty to allow every model.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.prefix})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def status(self) -> str:
        """`revoked`, `expired` or `active`, in that order of precedence."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.is_expired else "active"

    @property
    def effective_rate_limit(self) -> str:
        """This key's own rate limit, else the global `INFINITY["RATE_LIMIT"]`."""
        return self.rate_limit or settings.INFINITY["RATE_LIMIT"]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
