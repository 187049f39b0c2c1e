"""The WSGI entry point the production server loads (infinity/uwsgi.ini)."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings

LOAD = ("import gc; before = gc.get_freeze_count(); import infinity.wsgi as w; "
        "print(before, gc.get_freeze_count() > 10000, callable(w.application))")


def test_loading_the_app_freezes_what_lives_as_long_as_the_process():
    """Django, the apps and the middleware are frozen, so full collections stop walking them."""
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "infinity.settings"}
    done = subprocess.run([sys.executable, "-c", LOAD], env=environment, cwd=settings.BASE_DIR,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "True", "True"]
