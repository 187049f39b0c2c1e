"""WSGI entry point (uwsgi --ini infinity/uwsgi.ini, which `make run` runs too, or gunicorn infinity.wsgi)."""

import gc
import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from infinity.environment import exit_on_bad_settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infinity.settings")
exit_on_bad_settings()  # a bad environment variable: its one line on stderr, and no server
application = get_wsgi_application()

if settings.DEBUG:  # as runserver does: the admin's CSS and JS straight from the apps (`make run`)
    from django.contrib.staticfiles.handlers import StaticFilesHandler

    application = StaticFilesHandler(application)

# What is loaded by now (Django, the apps, the middleware) lives as long as the process:
# frozen, the cyclic collector stops walking it on every full collection.
gc.freeze()
