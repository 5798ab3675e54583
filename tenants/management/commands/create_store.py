"""python manage.py create_store STORE_NAME --tenant TENANT_NAME [--country CA] [--currency CAD] [--json]"""

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.models import Store
from tenants.services import store_create


class Command(BaseCommand):
    help = "Create a store (and its tenant if needed) with an OAuth client; prints the secret once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("store_name")
        parser.add_argument("--tenant", required=True, help="tenant (merchant) name; created if new")
        parser.add_argument("--country", default="US", help="ISO 3166-1 alpha-2, for national phone numbers")
        parser.add_argument("--currency", default="USD", help="ISO 4217 default currency")
        parser.add_argument("--timezone", default="UTC")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        if Store.objects.filter(name=options["store_name"]).exists():
            raise CommandError(f"a store named {options['store_name']!r} already exists")
        try:
            creds = store_create(
                name=options["store_name"],
                tenant_name=options["tenant"],
                country=options["country"],  # any case: store_create upper-cases the codes
                currency=options["currency"],
                timezone=options["timezone"],
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"--{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
            ) from None
        if options["json"]:
            payload = {
                "tenant": creds.tenant.name,
                "store": creds.store.name,
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
            }
            self.stdout.write(json.dumps(payload))
            return
        self.stdout.write(f"Store {creds.store.name!r} of tenant {creds.tenant.name!r} created.")
        self.stdout.write(f"client_id:     {creds.client_id}")
        self.stdout.write(f"client_secret: {creds.client_secret}")
        self.stdout.write("The secret is shown once; it is stored hashed.")
