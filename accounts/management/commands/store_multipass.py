"""python manage.py store_multipass STORE --enable|--rotate|--disable [--json]"""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services.multipass import store_multipass_set
from tenants.models import Store


class Command(BaseCommand):
    help = "Turn a store's Multipass on (printing its secret), rotate the secret, or turn it off."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("store_name")
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--enable", action="store_true", help="turn Multipass on; prints the secret")
        action.add_argument("--rotate", action="store_true", help="a new secret (on or off as it is); prints it")
        action.add_argument("--disable", action="store_true", help="turn Multipass off (the secret is kept)")
        parser.add_argument("--json", action="store_true", help='print one object {"store", "enabled", "secret"}')

    def handle(self, *args: Any, **options: Any) -> None:
        store = Store.objects.filter(name=options["store_name"]).first()
        if store is None:
            raise CommandError(f"no store named {options['store_name']!r}")
        wanted = True if options["enable"] else False if options["disable"] else None  # --rotate: as it is
        settings = store_multipass_set(store=store, enabled=wanted, rotate=options["rotate"])
        enabled = settings.multipass_enabled
        secret = settings.multipass_secret if not options["disable"] else None
        if options["json"]:
            self.stdout.write(json.dumps({"store": store.name, "enabled": enabled, "secret": secret}))
            return
        self.stdout.write(f"Multipass is {'on' if enabled else 'off'} for store {store.name!r}.")
        if secret is not None:
            self.stdout.write(f"secret: {secret}")
