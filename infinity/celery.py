"""The Celery app: Redis broker when REDIS_URL is set, else tasks run in-process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infinity.settings")
app = Celery("infinity")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
