"""python manage.py deliver_webhooks [--concurrency N] [--poll SECONDS] [--until-idle]

Runs a delivery worker until stopped (SIGTERM or SIGINT: it finishes the deliveries in flight, at
most 10 s, records them, and exits). Several may run at once; see events.worker and events.delivery.
"""

import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import DatabaseError, InterfaceError, connections

from events.worker import Worker

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Deliver webhooks until stopped (Standard Webhooks v1, retries, order per customer)."

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=8, help="deliveries in flight at once (default 8)")
        parser.add_argument("--poll", type=float, default=0.5, help="seconds between rounds when idle")
        parser.add_argument("--until-idle", action="store_true", help="stop when nothing is due")

    def handle(self, *args, **options):
        self.stopping = False

        def stop(signum, frame):
            self.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"deliver_webhooks: started (concurrency {options['concurrency']})")
        self.stdout.flush()
        worker = Worker(concurrency=options["concurrency"])
        pause = 0.0
        try:
            while not self.stopping:
                started = time.monotonic()
                try:
                    worker.run(stopping=lambda: self.stopping, until_idle=options["until_idle"], poll=options["poll"])
                    break
                except (DatabaseError, InterfaceError) as exc:
                    # A database outage pauses delivery; nothing is lost (leases lapse, cursors did not move).
                    logger.warning("deliver_webhooks: database unavailable (%s); retrying", type(exc).__name__)
                    connections.close_all()
                    pause = 0.0 if time.monotonic() - started > 60 else pause
                    pause = min(max(pause * 2, 1.0), 30.0)
                    self.sleep(pause)
        finally:
            worker.close()
        self.stdout.write("deliver_webhooks: stopped")

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.1, seconds))
