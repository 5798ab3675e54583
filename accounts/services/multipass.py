"""Multipass: the store's secret (on, rotated, off) and signing a customer in with a token its
systems made (accounts.multipass_codec has the format).

A token is valid for 15 minutes after its `created_at` and once: its use is a row of
MultipassTokenUse (unique per store and token), inserted in the transaction that signs in, so a
replay is refused in every process, whichever commits first. The customer is the live one whose
`multipass_identifier` equals `identifier`, else the one with the email; when there is none it is
created through customer_create (enabled, no password). Staff-disabled accounts stay disabled.
"""

import datetime as dt
import hashlib
import ipaddress
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.errors import invalid_credentials, invalid_multipass_token
from accounts.models import MultipassTokenUse, StoreAccountSettings
from accounts.multipass_codec import MalformedToken, decode, token_bytes
from accounts.services.sign_in import SignIn, _email_key
from accounts.services.tokens import customer_token_issue
from customers.models import Customer, CustomerState
from customers.services.customers import customer_create
from customers.services.lifecycle import customer_multipass_enable
from customers.validation import ADDRESS_TEXT_FIELDS
from tenants.models import Store
from twc.api.errors import invalid_operation

TOKEN_LIFETIME = dt.timedelta(minutes=15)
# Encoders' clocks run a little ahead of ours: a created_at this far in the future is still accepted.
CLOCK_SKEW = dt.timedelta(minutes=1)
ADDRESS_KEYS = frozenset(ADDRESS_TEXT_FIELDS) | {"default"}


# --- The store's secret ---------------------------------------------------------------------------
def store_account_settings(*, store: Store) -> StoreAccountSettings:
    settings, _ = StoreAccountSettings.objects.get_or_create(store=store)
    return settings


def new_secret() -> str:
    return secrets.token_hex(32)


@transaction.atomic
def store_multipass_set(*, store: Store, enabled: bool | None = None, rotate: bool = False) -> StoreAccountSettings:
    """Turn Multipass on or off (None: as it is); a secret is generated when turning it on without
    one, or when `rotate` (tokens made with the old secret are refused from then on)."""
    settings = StoreAccountSettings.objects.select_for_update().filter(store=store).first()
    if settings is None:
        settings = StoreAccountSettings.objects.create(store=store)
    if enabled is not None:
        settings.multipass_enabled = enabled
    if rotate or (settings.multipass_enabled and not settings.multipass_secret):
        settings.multipass_secret = new_secret()
        settings.multipass_rotated_at = timezone.now()
    settings.save(update_fields=["multipass_enabled", "multipass_secret", "multipass_rotated_at"])
    return settings


# --- Signing in -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MultipassSignIn(SignIn):
    created: bool


def _created_at(payload: dict[str, Any]) -> dt.datetime:
    value = payload.get("created_at")
    if not isinstance(value, str):
        raise invalid_multipass_token("The token has no 'created_at'.")
    try:
        created_at = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise invalid_multipass_token("The token's 'created_at' is not an ISO 8601 time.") from None
    if created_at.tzinfo is None:  # no offset: read as UTC, as Shopify does
        created_at = created_at.replace(tzinfo=dt.UTC)
    return created_at


def _check_remote_ip(payload: dict[str, Any], ip: str | None) -> None:
    remote_ip = payload.get("remote_ip")
    if remote_ip is None or remote_ip == "":
        return
    try:
        same = ip is not None and ipaddress.ip_address(str(remote_ip).strip()) == ipaddress.ip_address(ip)
    except ValueError:
        same = False
    if not same:
        raise invalid_multipass_token("The token's 'remote_ip' is not the shopper's address (TWC-Customer-IP).")


def _optional_text(payload: dict[str, Any], name: str) -> str | None:
    value = payload.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid_multipass_token(f"The token's '{name}' must be a string.")
    return value


def _new_customer_data(payload: dict[str, Any], email: str, identifier: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {"email": email, "state": CustomerState.ENABLED}
    if identifier is not None:
        data["multipass_identifier"] = identifier
    for name in ("first_name", "last_name"):
        if (value := _optional_text(payload, name)) is not None:
            data[name] = value
    if (tags := _optional_text(payload, "tag_string")) is not None:
        data["tags"] = tags
    addresses = payload.get("addresses")
    if addresses is not None:
        if not isinstance(addresses, list) or not all(isinstance(item, dict) for item in addresses):
            raise invalid_multipass_token("The token's 'addresses' must be an array of objects.")
        # Shopify's encoders may add keys of their own: only the address fields are kept.
        data["addresses"] = [{k: v for k, v in item.items() if k in ADDRESS_KEYS} for item in addresses]
    return data


def _find(store: Store, email: str, identifier: str | None) -> Customer | None:
    live = Customer.objects.for_store(store)
    if identifier is not None:
        found = live.filter(multipass_identifier=identifier).order_by("pk").first()
        if found is not None:
            return found
    return live.filter(email_key=_email_key(email)).order_by("pk").first()


def _record_use(store: Store, raw: bytes, created_at: dt.datetime) -> None:
    digest = hashlib.sha256(store.pk.to_bytes(8, "big") + raw).hexdigest()
    now = timezone.now()
    MultipassTokenUse.objects.filter(expires_at__lt=now).delete()  # uses of tokens now expired anyway
    try:
        with transaction.atomic():
            MultipassTokenUse.objects.create(digest=digest, expires_at=created_at + TOKEN_LIFETIME + CLOCK_SKEW)
    except IntegrityError:
        raise invalid_multipass_token("The token was already used.") from None


def multipass_sign_in(*, store: Store, token: str, ip: str | None = None) -> MultipassSignIn:
    """Sign a customer in with a Multipass token: 409 when the store has Multipass off, 400
    InvalidMultipassToken for a bad, expired or replayed token, 400 InvalidCredentials for an
    account staff disabled."""
    settings = StoreAccountSettings.objects.filter(store=store).first()
    if settings is None or not settings.multipass_enabled or not settings.multipass_secret:
        raise invalid_operation("Multipass is off for this store.")
    try:
        raw = token_bytes(token)
        payload = decode(settings.multipass_secret, raw)
    except MalformedToken as exc:
        raise invalid_multipass_token(str(exc)) from None
    created_at = _created_at(payload)
    now = timezone.now()
    if not (created_at - CLOCK_SKEW <= now < created_at + TOKEN_LIFETIME):
        raise invalid_multipass_token("The token has expired (or was made in the future).")
    _check_remote_ip(payload, ip)
    email = _optional_text(payload, "email")
    if email is None:
        raise invalid_multipass_token("The token has no 'email'.")
    identifier = _optional_text(payload, "identifier")

    with transaction.atomic():
        _record_use(store, raw, created_at)
        customer = _find(store, email, identifier)
        created = customer is None
        if customer is None:
            customer, _ = customer_create(store=store, data=_new_customer_data(payload, email, identifier))
        else:
            enabled = customer_multipass_enable(store=store, customer=customer)
            if enabled is None:  # staff disabled the account: it stays disabled
                raise invalid_credentials()
            customer = enabled
        issued = customer_token_issue(customer=customer)
    return MultipassSignIn(customer=customer, token=issued, created=created)
