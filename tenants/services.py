"""Writes of the tenants app: stores and their OAuth credentials."""

from dataclasses import dataclass

from django.db import transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import Application

from tenants.models import ALL_SCOPES, Store, StoreApplication, Tenant
from tenants.oauth_credentials import secret_fingerprint


@dataclass(frozen=True)
class StoreCredentials:
    tenant: Tenant
    store: Store
    client_id: str
    client_secret: str  # plain text: shown once, stored hashed


def store_application_create(*, store: Store, scopes: str = ALL_SCOPES) -> StoreCredentials:
    """Create a client-credentials OAuth application for the store; the secret is returned once."""
    secret = generate_client_secret()
    application = Application.objects.create(
        name=f"{store.name} API",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,  # hashed by Application.save()
    )
    StoreApplication.objects.create(
        store=store,
        application=application,
        scopes=scopes,
        secret_fingerprint=secret_fingerprint(application.client_id, secret),
    )
    return StoreCredentials(tenant=store.tenant, store=store, client_id=application.client_id, client_secret=secret)


@transaction.atomic
def store_create(
    *, name: str, tenant_name: str, country: str = "US", currency: str = "USD", timezone: str = "UTC"
) -> StoreCredentials:
    """Create the tenant if needed, the store, and an OAuth application with both scopes."""
    tenant, _ = Tenant.objects.get_or_create(name=tenant_name)
    store = Store.objects.create(
        tenant=tenant, name=name, country=country.upper(), currency=currency.upper(), timezone=timezone
    )
    return store_application_create(store=store)
