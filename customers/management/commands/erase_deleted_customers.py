"""python manage.py erase_deleted_customers --older-than DAYS [--store NAME] [--dry-run]"""

import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from customers.services.erasure import customer_erase, customers_due_for_erasure
from events.recording import events_delete_expired
from tenants.models import Store
from twc.api.errors import ApiError
from twc.api.idempotency_store import expired_records_delete
from twc.api.ratelimit import application_limits, idle_buckets_delete


class Command(BaseCommand):
    help = "Erase the personal data of customers deleted more than DAYS days ago (the retention period)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, required=True, metavar="DAYS", help="retention period in days")
        parser.add_argument("--store", help="only this store's customers (by name)")
        parser.add_argument("--dry-run", action="store_true", help="count, erase nothing")

    def handle(self, *args, **options):
        days = options["older_than"]
        if days < 0:
            raise CommandError("--older-than must be 0 or more days")
        store = None
        if options["store"]:
            store = Store.objects.filter(name=options["store"]).first()
            if store is None:
                raise CommandError(f"no store named {options['store']!r}")
        cutoff = timezone.now() - dt.timedelta(days=days)
        due = customers_due_for_erasure(deleted_before=cutoff, store=store)
        scope = f" of store {store.name!r}" if store else ""
        when = f"deleted before {cutoff:%Y-%m-%d %H:%M} UTC ({days} days ago){scope}"
        if options["dry_run"]:
            self.stdout.write(f"Dry run: would erase {due.count()} customers {when}.")
            return
        erased = 0
        for customer in due.iterator(chunk_size=500):
            try:
                customer_erase(store=customer.store, customer=customer)
            except ApiError as exc:
                raise CommandError(f"stopped after erasing {erased} customers: {exc.message}") from None
            erased += 1
        self.stdout.write(f"Erased {erased} customers {when}.")
        # Stored API responses (Idempotency-Key replays) hold customers' data too: those past their
        # expiry (IDEMPOTENCY_TTL_SECONDS, a day; the retention period is longer) go as well.
        removed = expired_records_delete(store=store)
        self.stdout.write(f"Deleted {removed} expired stored API responses{scope}.")
        self.delete_idle_rate_limit_buckets()
        self.delete_expired_events()

    def delete_idle_rate_limit_buckets(self) -> None:
        """Housekeeping of the whole service (not of one store): rate-limit buckets in the database
        idle long enough to be full again, the stores' own limits counted."""
        own_limits = Store.objects.exclude(rate_limit_per_second=None, rate_limit_burst=None)
        deleted = idle_buckets_delete(limits=[application_limits(store) for store in own_limits])
        self.stdout.write(f"Deleted {deleted} idle rate-limit buckets.")

    def delete_expired_events(self) -> None:
        """Events are kept EVENTS_RETENTION_DAYS whatever --older-than says (every store's)."""
        removed = events_delete_expired()
        self.stdout.write(f"Deleted {removed} events past their retention ({settings.EVENTS_RETENTION_DAYS} days).")
