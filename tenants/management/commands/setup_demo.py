"""python manage.py setup_demo: the demo tenant, store, OAuth client and admin login for `make run`.

Secrets are stored hashed, so the first run keeps the plain values in .demo-credentials.json
(ignored by git) to print them again on later runs.
"""

import json
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandParser

from tenants.models import Store, StoreStaff
from tenants.services import store_application_create, store_create

DEMO_TENANT = "Demo Tenant"
DEMO_STORE = "Demo Store"
DEMO_ADMIN = "admin"
DEMO_STAFF = "staff"
CREDENTIALS_FILE = Path(settings.BASE_DIR) / ".demo-credentials.json"


class Command(BaseCommand):
    help = "Create the demo store and admin login if missing, and print how to call the API."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        saved = json.loads(CREDENTIALS_FILE.read_text()) if CREDENTIALS_FILE.exists() else {}
        store = Store.objects.filter(name=DEMO_STORE).first()
        if store is None:
            creds = store_create(name=DEMO_STORE, tenant_name=DEMO_TENANT, country="CA", currency="CAD")
            saved.update(client_id=creds.client_id, client_secret=creds.client_secret)
        elif not store.applications.filter(application__client_id=saved.get("client_id")).exists():
            # The plain secret is gone (stored hashed): issue the demo store a fresh client.
            creds = store_application_create(store=store)
            saved.update(client_id=creds.client_id, client_secret=creds.client_secret)

        demo_login(saved, username=DEMO_ADMIN, password_key="admin_password", superuser=True)
        # A shop staff login: sees and manages the demo store's customers only.
        staff = demo_login(saved, username=DEMO_STAFF, password_key="staff_password")
        store = Store.objects.get(name=DEMO_STORE)
        StoreStaff.objects.get_or_create(store=store, user=staff)
        CREDENTIALS_FILE.write_text(json.dumps(saved, indent=2))
        CREDENTIALS_FILE.chmod(0o600)
        self.stdout.write(instructions(f"http://{options['host']}", saved))


def demo_login(saved: dict[str, str], *, username: str, password_key: str, superuser: bool = False) -> User:
    """The demo login `username`, created if missing; a fresh password, kept in `saved`, unless one is
    saved already (the database has only its hash)."""
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is not None and password_key in saved:
        return user
    password = secrets.token_urlsafe(12)
    saved[password_key] = password
    if user is None and superuser:
        return user_model.objects.create_superuser(username, f"{username}@example.com", password)
    if user is None:
        return user_model.objects.create_user(username, f"{username}@example.com", password, is_staff=True)
    user.set_password(password)
    if not superuser:
        user.is_staff = True
    user.save()
    return user


def instructions(base: str, saved: dict[str, str]) -> str:
    """How to call the API and log in to the admin with the demo credentials, for a server at `base`."""
    read_token = 'import json,sys; print(json.load(sys.stdin)["access_token"])'
    return f"""
Demo store {DEMO_STORE!r} (tenant {DEMO_TENANT!r}, country CA, currency CAD)
  client_id:     {saved["client_id"]}
  client_secret: {saved["client_secret"]}

Get a token (valid one hour):
  CLIENT_ID='{saved["client_id"]}'
  CLIENT_SECRET='{saved["client_secret"]}'
  TOKEN=$(curl -s -X POST {base}/o/token/ -d grant_type=client_credentials \\
      -u "$CLIENT_ID:$CLIENT_SECRET" | python3 -c '{read_token}')

Create a customer:
  curl -s -X POST {base}/api/customers -H "Authorization: Bearer $TOKEN" \\
      -H 'Content-Type: application/json' -d '{{"id": "demo-1", "email": "ann@example.com", "phone": "613-555-0100"}}'

Read it back:
  curl -s {base}/api/customers/demo-1 -H "Authorization: Bearer $TOKEN"

Admin: {base}/admin/  user: {DEMO_ADMIN}  password: {saved["admin_password"]}
Shop staff of {DEMO_STORE!r}: {base}/admin/  user: {DEMO_STAFF}  password: {saved["staff_password"]}
API docs: {base}/api/docs/
"""
