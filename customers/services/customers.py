"""Create, update and soft-delete one customer."""

import contextlib
import datetime as dt
import uuid
from collections.abc import Set
from typing import Any, NoReturn

from django.db import IntegrityError, connections, transaction
from django.db import router as db_router
from django.db.models import F
from django.utils import timezone

from accounts.services.tokens import customer_tokens_revoke
from customers.errors import (
    customer_changing_too_fast,
    customer_duplicate,
    customer_not_an_object,
    customer_not_found,
    customer_version_mismatch,
)
from customers.fields import UNIQUE_KEY_BY_API_NAME
from customers.metadata import METADATA_FIELDS, merge_metadata, new_metadata
from customers.models import Address, Customer
from customers.selectors import customer_get
from customers.services.integrity import duplicate_field_of
from customers.services.orders import assign_unowned_orders_and_wishlists
from customers.uuids import new_uuid
from customers.validation import ADDRESS_TEXT_FIELDS, clean_customer
from events import types as event_types
from events.recording import change_and_event_record, customer_data, deleted_customer_data, event_record
from tenants.models import Store
from twc.api.errors import invalid_field, invalid_operation, required_field
from twc.db_rows import insert_new, update_statement, update_where

# How often an update without a version re-reads and re-applies after losing a race.
UPDATE_ATTEMPTS = 5


def apply_marketing_rules(values: dict, *, previous_accepts: bool | None, sent: dict, now: dt.datetime) -> None:
    """The contract's marketing rules, on the customer's values after the change.

    A change of `accepts_marketing` stamps `accepts_marketing_updated_at` unless the request set it;
    `marketing_opt_in_level` is null whenever `accepts_marketing` is false.
    """
    accepts = values.get("accepts_marketing", False)
    if accepts != previous_accepts and "accepts_marketing_updated_at" not in sent:
        if previous_accepts is not None or accepts:
            values["accepts_marketing_updated_at"] = now
    if not accepts:
        values["marketing_opt_in_level"] = None


# clean_customer's keys that are not the customer's own fields.
NOT_MODEL_FIELDS = ("_addresses", "_version")


def new_customer_values(
    *, store: Store, cleaned: dict, now: dt.datetime, twc_customer_id: uuid.UUID | str | None = None
) -> dict:
    """A new customer's own values (model field names) from cleaned values, with the contract's defaults.

    The bulk write passes `twc_customer_id` as text (customers.uuids.new_uuid_text): it never needs
    the object.
    """
    values = cleaned.copy()
    for key in NOT_MODEL_FIELDS:
        values.pop(key, None)
    for field in METADATA_FIELDS:
        values[field] = new_metadata(cleaned.get(field, {}))
    apply_marketing_rules(values, previous_accepts=None, sent=cleaned, now=now)
    twc_customer_id = twc_customer_id or new_uuid()
    values.setdefault("ref", str(twc_customer_id))
    values.setdefault("currency", store.currency)
    values.update(twc_customer_id=twc_customer_id, version=1, created_at=now, updated_at=now)
    return values


def new_customer(*, store: Store, cleaned: dict, now: dt.datetime) -> Customer:
    """An unsaved customer built from cleaned values, with the contract's defaults."""
    return Customer(store=store, **new_customer_values(store=store, cleaned=cleaned, now=now))


def new_address_values(item: dict, *, keep_ids: Set[int] = frozenset()) -> dict:
    """An address's own values from a cleaned address; an `id` it already had is kept."""
    fields = item.copy()  # a cleaned address holds the address's fields and, maybe, its id
    given_id = fields.pop("id", None)
    fields["id"] = given_id if given_id in keep_ids else None
    return fields


def new_addresses(customer: Customer, addresses: list[dict], *, keep_ids: Set[int] = frozenset()) -> list[Address]:
    return [Address(customer=customer, **new_address_values(item, keep_ids=keep_ids)) for item in addresses]


def raise_duplicate(exc: IntegrityError, customer: Customer) -> NoReturn:
    """Re-raise a unique violation as `409 DuplicateField`; any other integrity error as it is."""
    field = duplicate_field_of(exc)
    if field is None:
        raise exc
    key = UNIQUE_KEY_BY_API_NAME.get(field)
    value = getattr(customer, key.column) if key is not None else None
    raise customer_duplicate(field, value) from None


def customer_create(*, store: Store, data: Any) -> tuple[Customer, list[Address]]:
    """Create one customer (the contract's POST /api/customers); returns it with its addresses."""
    cleaned = clean_customer(data, store=store)
    now = timezone.now()
    customer = new_customer(store=store, cleaned=cleaned, now=now)
    addresses = new_addresses(customer, cleaned.get("_addresses", []))
    try:
        with transaction.atomic():
            # Two INSERTs written once (twc.db_rows), not compiled by the ORM for every create.
            insert_new([customer])
            insert_new(addresses)
            assign_unowned_orders_and_wishlists(customers=[customer])
            event_record(
                store=store,
                type=event_types.CUSTOMER_CREATE,
                customer=customer,
                data=customer_data(customer, addresses),
            )
    except IntegrityError as exc:
        raise_duplicate(exc, customer)
    return customer, addresses


def parse_if_match(header: str | None) -> int | None:
    """The version an `If-Match: "3"` header names; None without one."""
    if not header:
        return None
    value = header.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    if not (value.isascii() and value.isdigit()) or len(value) > 18:  # "²".isdigit(), and int() refuses it
        raise invalid_field("If-Match", 'If-Match must name a version such as "3".')
    return int(value)


def _address_values(address: Address | dict) -> tuple:
    get = address.get if isinstance(address, dict) else lambda key, default: getattr(address, key)
    return tuple(get(field, "") for field in ADDRESS_TEXT_FIELDS) + (bool(get("is_default", False)),)


def put_changes(
    customer: Customer,
    cleaned: dict,
    *,
    expected_version: int | None,
    addresses: list[dict] | None,
    current_addresses: list[Address],
    now: dt.datetime,
) -> tuple[dict, bool]:
    """What a PUT of `cleaned` changes on `customer`: the changed fields and whether the addresses change.

    Checks the version the request names and the state rule; shared with the bulk upload's update mode.
    """
    if expected_version is not None and customer.version != expected_version:
        raise customer_version_mismatch(expected_version, customer.version)
    if "password" in cleaned:
        # A password changes through the customer's own flows (reset, /api/me/password), which
        # also revoke the customer's tokens; the store's systems set one only at creation.
        raise invalid_field("password_hash", "'password_hash' is accepted only when the customer is created.")
    if "state" in cleaned and cleaned["state"] != customer.state:
        raise invalid_operation(
            f"The state changes through the account actions (invite, enable, disable), "
            f"not by writing it: the customer is '{customer.state}'."
        )
    values = {field: getattr(customer, field) for field in cleaned}
    values.update(cleaned)
    for field in METADATA_FIELDS:
        if field in cleaned:
            values[field] = merge_metadata(field, getattr(customer, field), cleaned[field])
    values.setdefault("accepts_marketing", customer.accepts_marketing)
    values.setdefault("marketing_opt_in_level", customer.marketing_opt_in_level)
    apply_marketing_rules(values, previous_accepts=customer.accepts_marketing, sent=cleaned, now=now)
    changes = {field: value for field, value in values.items() if getattr(customer, field) != value}
    addresses_changed = addresses is not None and [_address_values(a) for a in addresses] != [
        _address_values(a) for a in current_addresses
    ]
    return changes, addresses_changed


def customer_update(
    *,
    store: Store,
    data: Any,
    ref: str | None = None,
    if_match: str | None = None,
    expected_version: int | None = None,
) -> tuple[Customer, list[Address]]:
    """Update the customer named by `ref` (a path) or by the body's `id`/`twc_customer_id`.

    Fields the body leaves out keep their values. With a version the update applies only to that
    version; without one it is applied to whatever is current. The version is `expected_version`
    (the one a caller read, such as the admin's form), else the body's `version`, else If-Match.
    """
    if not isinstance(data, dict):
        raise customer_not_an_object()
    lookup = ref
    if lookup is None:
        lookup = data.get("id") or data.get("twc_customer_id")
        if not isinstance(lookup, str) or not lookup:
            raise required_field("id", "Name the customer with 'id' (or 'twc_customer_id').")
    cleaned = clean_customer(data, store=store, partial=True)
    if ref is None:
        cleaned.pop("ref", None)  # the body's id names the customer; it does not rename it
    sent_version = cleaned.pop("_version", None)
    header_version = parse_if_match(if_match)  # a malformed If-Match is 400 even beside a body's version
    if expected_version is None:
        expected_version = sent_version if sent_version is not None else header_version
    addresses = cleaned.pop("_addresses", None)

    for _attempt in range(UPDATE_ATTEMPTS):
        customer = customer_get(store=store, ref=lookup)
        current_addresses = list(customer.addresses.all())
        now = timezone.now()
        changes, addresses_changed = put_changes(
            customer,
            cleaned,
            expected_version=expected_version,
            addresses=addresses,
            current_addresses=current_addresses,
            now=now,
        )
        if not changes and not addresses_changed:
            return customer, current_addresses
        read_version = customer.version
        changes["version"] = read_version + 1
        changes["updated_at"] = now
        for field, value in changes.items():
            setattr(customer, field, value)
        try:
            if not addresses_changed and connections[db_router.db_for_write(Customer)].vendor == "postgresql":
                updated = update_with_its_event(store, customer, changes, read_version, current_addresses)
            else:
                # A transaction (a savepoint inside one): the change and its event commit together.
                with transaction.atomic():
                    # Written once per set of changed fields (twc.db_rows), not compiled by the ORM per update.
                    updated = update_where(Customer, changes, store=store.pk, seq=customer.pk, version=read_version)
                    if updated and addresses_changed:
                        current_addresses = replace_addresses(customer, addresses, current_addresses)
                    if updated:
                        event_record(
                            store=store,
                            type=event_types.CUSTOMER_UPDATE,
                            customer=customer,
                            data=customer_data(customer, current_addresses),
                        )
        except IntegrityError as exc:
            raise_duplicate(exc, customer)
        if updated:
            return customer, current_addresses
        continue_or_raise_version_mismatch(store, customer, expected_version)
    # Lost the race UPDATE_ATTEMPTS times in a row: let the client retry.
    raise customer_changing_too_fast()


def continue_or_raise_version_mismatch(store: Store, customer: Customer, expected_version: int | None) -> None:
    """After an update that matched no row (another write changed the version first): a request
    that named a version gets the version mismatch; one that did not reads and applies again."""
    if expected_version is not None:
        latest = Customer.objects.filter(store=store, pk=customer.pk).values_list("version", flat=True).first()
        raise customer_version_mismatch(expected_version, latest)


def update_with_its_event(
    store: Store, customer: Customer, changes: dict, read_version: int, addresses: list[Address]
) -> int:
    """PostgreSQL: the UPDATE of the customer's fields and its event in ONE statement
    (events.recording.change_and_event_record), atomic by itself: in autocommit no BEGIN/COMMIT
    round trips; inside a transaction a savepoint, so that a duplicate leaves the caller's usable."""
    sql, params = update_statement(Customer, changes, store=store.pk, seq=customer.pk, version=read_version)
    data = customer_data(customer, addresses)
    in_transaction = connections[db_router.db_for_write(Customer)].in_atomic_block
    with transaction.atomic() if in_transaction else contextlib.nullcontext():
        return change_and_event_record(
            sql, params, store=store, type=event_types.CUSTOMER_UPDATE, customer=customer, data=data
        )


def replace_addresses(customer: Customer, addresses: list[dict], current: list[Address]) -> list[Address]:
    """Replace the customer's addresses; an address sent with its own `id` keeps it."""
    Address.objects.filter(customer=customer).delete()
    fresh = new_addresses(customer, addresses, keep_ids={a.id for a in current})
    Address.objects.bulk_create(fresh)
    return fresh


def customer_soft_delete(*, store: Store, ref: str) -> Customer:
    """Mark the customer deleted: no longer found, and its id, email and phone are free again."""
    customer = customer_get(store=store, ref=ref, with_addresses=False)
    now = timezone.now()
    # No savepoint: nothing here can fail halfway and leave an outer transaction to carry on.
    with transaction.atomic(savepoint=False):
        updated = Customer.objects.filter(store=store, pk=customer.pk, deleted_at__isnull=True).update(
            deleted_at=now, updated_at=now, version=F("version") + 1
        )
        if not updated:
            raise customer_not_found(ref)
        customer_tokens_revoke(customer=customer)
        customer.deleted_at = now
        customer.updated_at = now
        customer.version += 1
        event_record(
            store=store, type=event_types.CUSTOMER_DELETE, customer=customer, data=deleted_customer_data(customer)
        )
    return customer
