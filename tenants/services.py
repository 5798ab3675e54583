"""Writes of the tenants app: stores and their OAuth credentials."""

import math
import zoneinfo
from dataclasses import dataclass
from typing import Any

import phonenumbers
import pycountry
from django.core.exceptions import ValidationError
from django.db import transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import Application

from tenants.models import ALL_SCOPES, Store, StoreApplication, Tenant
from tenants.oauth_credentials import secret_fingerprint

# A store's own API rate limit (requests a second, and the burst): above these a limit protects
# nothing, below the minimum rate a throttled client would wait hours.
MIN_RATE_PER_SECOND = 0.01
MAX_RATE_PER_SECOND = 100_000
MAX_BURST = 1_000_000


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


def store_clean(
    *,
    country: str | None,
    currency: str | None,
    timezone: str | None,
    rate_limit_per_second: float | None = None,
    rate_limit_burst: int | None = None,
) -> dict[str, Any]:
    """A store's settings checked and normalised (codes upper-cased), as the Store fields they set.

    The one validation of a store: `store_create` (the create_store command) and the admin's store
    form both call it. Raises ValidationError with a message per field.
    """
    errors: dict[str, str] = {}
    country = (country or "").strip().upper()
    currency = (currency or "").strip().upper()
    timezone = (timezone or "").strip()
    if len(country) != 2 or pycountry.countries.get(alpha_2=country) is None:
        errors["country"] = f"{country!r} is not an ISO 3166-1 alpha-2 country code such as 'CA'."
    elif country not in phonenumbers.SUPPORTED_REGIONS:
        # The store's country is the region its customers' national phone numbers are read in.
        errors["country"] = f"{country!r} has no telephone numbering plan: national phone numbers could not be read."
    if len(currency) != 3 or pycountry.currencies.get(alpha_3=currency) is None:
        errors["currency"] = f"{currency!r} is not an ISO 4217 currency code such as 'CAD'."
    if timezone not in zoneinfo.available_timezones():
        errors["timezone"] = f"{timezone!r} is not an IANA time zone such as 'America/Toronto'."
    if rate_limit_per_second is not None and not (
        math.isfinite(rate_limit_per_second) and MIN_RATE_PER_SECOND <= rate_limit_per_second <= MAX_RATE_PER_SECOND
    ):
        errors["rate_limit_per_second"] = (
            f"The rate limit must be between {MIN_RATE_PER_SECOND} and {MAX_RATE_PER_SECOND:,} requests a second "
            "(empty: the service's default)."
        )
    if rate_limit_burst is not None and not 1 <= rate_limit_burst <= MAX_BURST:
        errors["rate_limit_burst"] = f"The burst must be between 1 and {MAX_BURST:,} requests (empty: the default)."
    if errors:
        raise ValidationError(errors)
    return {
        "country": country,
        "currency": currency,
        "timezone": timezone,
        "rate_limit_per_second": rate_limit_per_second,
        "rate_limit_burst": rate_limit_burst,
    }


@transaction.atomic
def store_create(
    *,
    name: str,
    tenant_name: str,
    country: str = "US",
    currency: str = "USD",
    timezone: str = "UTC",
    rate_limit_per_second: float | None = None,
    rate_limit_burst: int | None = None,
) -> StoreCredentials:
    """Create the tenant if needed, the store, and an OAuth application with both scopes.

    The settings go through `store_clean` (ValidationError when one is wrong; nothing is created).
    """
    fields = store_clean(
        country=country,
        currency=currency,
        timezone=timezone,
        rate_limit_per_second=rate_limit_per_second,
        rate_limit_burst=rate_limit_burst,
    )
    tenant, _ = Tenant.objects.get_or_create(name=tenant_name)
    store = Store.objects.create(tenant=tenant, name=name, **fields)
    return store_application_create(store=store)
