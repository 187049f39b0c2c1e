"""The Celery app: Redis broker when REDIS_URL is set, else tasks run in-process.

Beat's schedule: the webhook sweeper (`webhooks.pump`, every INFINITY_WEBHOOK_SWEEP_SECONDS)
sends whatever is due that nothing else sent, and old deliveries are pruned hourly.
"""

import os

from celery import Celery

from infinity.environment import exit_on_bad_settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infinity.settings")
exit_on_bad_settings()  # a bad environment variable: its one line on stderr, and no worker
app = Celery("infinity")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# A deployment (or a test run) sharing one Redis with others can keep its tasks apart.
app.conf.task_default_queue = os.environ.get("INFINITY_CELERY_QUEUE", "celery")
app.conf.beat_schedule = {
    "webhooks-sweep": {"task": "webhooks.pump", "schedule": float(os.environ.get("INFINITY_WEBHOOK_SWEEP_SECONDS", 5))},
    "webhooks-prune": {"task": "webhooks.prune", "schedule": 3600.0},
}
