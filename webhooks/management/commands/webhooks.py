"""`manage.py webhooks retry [--failed] [--webhook ID]`, `webhooks prune --older-than DAYS`, `webhooks work`.

`work` delivers in the foreground, the loop `manage.py serve` runs in a thread: a
delivery-only process without Celery (SIGTERM or Ctrl-C stops it).
"""

import signal

from django.core.management.base import BaseCommand, CommandError

from webhooks import delivery, services
from webhooks.models import Delivery, Webhook


class Command(BaseCommand):
    help = "Maintain webhook deliveries: retry them now, or prune old ones."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        retry = sub.add_parser("retry", help="Send pending deliveries now (with --failed: failed ones again too).")
        retry.add_argument("--failed", action="store_true", help="also resend deliveries that failed for good")
        retry.add_argument("--webhook", help="only this webhook's deliveries (its id)")
        prune = sub.add_parser("prune", help="Delete finished deliveries older than DAYS.")
        prune.add_argument("--older-than", type=float, required=True, metavar="DAYS")
        sub.add_parser("work", help="Deliver in the foreground until stopped (no Celery needed).")

    def handle(self, *args, action, **options):
        if action == "work":
            self._work()
            return
        if action == "prune":
            if options["older_than"] < 0:
                raise CommandError("--older-than must be at least 0")
            self.stdout.write(f"Pruned {delivery.prune(older_than_days=options['older_than'])} deliveries.")
            return
        webhook_id = options.get("webhook")
        if webhook_id and not Webhook.objects.filter(pk=webhook_id).exists():
            raise CommandError(f"No webhook {webhook_id}")
        statuses = [Delivery.PENDING, Delivery.FAILED] if options["failed"] else [Delivery.PENDING]
        count = services.deliveries_resend(webhook_id=webhook_id, statuses=statuses)
        sent = delivery.pump(max_seconds=60)
        self.stdout.write(f"Queued {count} deliveries; made {sent} attempts.")

    def _work(self) -> None:
        from webhooks import worker

        thread = worker.start_in_process(force=True)
        signal.signal(signal.SIGTERM, lambda *_: worker.stop(timeout=0))
        self.stdout.write("Delivering webhooks; stop with Ctrl-C.")
        self.stdout.flush()
        try:
            while thread.is_alive():
                thread.join(0.5)
        except KeyboardInterrupt:
            worker.stop()
