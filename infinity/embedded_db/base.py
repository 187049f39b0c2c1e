"""A PostgreSQL backend that starts the embedded server before its first connection."""

from django.conf import settings
from django.db.backends.postgresql import base

from infinity.embedded import ensure_server


class DatabaseWrapper(base.DatabaseWrapper):
    """PostgreSQL over the embedded server's Unix socket in ./var/pgdata."""

    def get_connection_params(self):
        self.settings_dict["HOST"] = ensure_server(settings.EMBEDDED_PGDATA, settings.DATABASES["default"]["NAME"])
        return super().get_connection_params()
