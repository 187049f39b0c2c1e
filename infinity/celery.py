"""The Celery app: Redis broker when REDIS_URL is set, else tasks run in-process.

Its configuration (queue, beat's schedule) is the CELERY_* settings in infinity/settings.py.
"""

import os

from celery import Celery
from celery.signals import worker_process_init

from infinity.environment import exit_on_bad_settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infinity.settings")
exit_on_bad_settings()  # a bad environment variable: its one line on stderr, and no worker
app = Celery("infinity")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _background_priority(**_):
    """Celery's worker processes run background work only: at INFINITY_WORKER_NICE."""
    from infinity import background

    background.lower_priority()
