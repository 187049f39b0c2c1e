"""`manage.py work`: every app's background work (webhook delivery, embeddings) in one process.

What `manage.py serve` runs in threads beside uWSGI, for a deployment without Redis that
serves with uWSGI directly (its forked workers start none). With `REDIS_URL`, Celery
workers do this work instead: `celery -A infinity worker --beat`.
"""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from infinity import background


class Command(BaseCommand):
    help = "Run the background work (webhook delivery, embeddings) in the foreground until stopped, without Redis."

    def handle(self, *args, **options):
        if settings.REDIS_URL:
            raise CommandError("REDIS_URL is set: Celery workers do the background work (celery -A infinity worker --beat)")
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        background.start_all()
        self.stdout.write(f"Background work running ({', '.join(background.names())}); stop with Ctrl-C.")
        self.stdout.flush()
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass
