"""ASGI entry point (uvicorn/granian infinity.asgi)."""

import os

from django.core.asgi import get_asgi_application

from infinity.environment import exit_on_bad_settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infinity.settings")
exit_on_bad_settings()  # a bad environment variable: its one line on stderr, and no server
application = get_asgi_application()
