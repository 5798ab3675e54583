"""python manage.py export_customer --store NAME REF: everything held about one customer, as JSON."""

import uuid

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from customers.models import Customer
from customers.selectors import customer_find
from customers.services.erasure import customer_export
from tenants.models import Store
from twc.api.renderers import dumps


def find_any_customer(*, store: Store, ref: str) -> Customer | None:
    """The live customer with this `id` (else `twc_customer_id`); else the most recently deleted one."""
    live = customer_find(store=store, ref=ref)
    if live is not None:
        return live
    condition = Q(ref=ref)
    try:
        condition |= Q(twc_customer_id=uuid.UUID(ref))
    except ValueError:
        pass
    return Customer.objects.filter(store=store).filter(condition).order_by("-deleted_at", "-seq").first()


class Command(BaseCommand):
    help = "Print everything held about one customer (by id or twc_customer_id, deleted ones too) as JSON."

    def add_arguments(self, parser):
        parser.add_argument("ref", help="the customer's id or twc_customer_id")
        parser.add_argument("--store", required=True, help="the store's name")

    def handle(self, *args, **options):
        store = Store.objects.filter(name=options["store"]).first()
        if store is None:
            raise CommandError(f"no store named {options['store']!r}")
        customer = find_any_customer(store=store, ref=options["ref"])
        if customer is None:
            raise CommandError(f"store {store.name!r} has no customer {options['ref']!r}")
        export = customer_export(store=store, customer=customer)
        self.stdout.write(dumps(export, indent=True).decode())
