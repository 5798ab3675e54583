"""Reads of the customers app. Every function takes `store=` and reads through `for_store`."""

import uuid

from django.db.models import Q, QuerySet

from customers.errors import not_found
from customers.models import Address, Customer

CUSTOMER_COLUMNS = [field.attname for field in Customer._meta.concrete_fields]
ADDRESS_FIELD_NAMES = [field.attname for field in Address._meta.concrete_fields]
# Every address column but customer_id, which is the customer's seq.
ADDRESS_COLUMNS = [name for name in ADDRESS_FIELD_NAMES if name != "customer_id"]


def customer_queryset(*, store, with_addresses: bool = True) -> QuerySet[Customer]:
    """The store's live customers, with what the representation needs in one extra query."""
    customers = Customer.objects.for_store(store)
    return customers.prefetch_related("addresses") if with_addresses else customers


def remember_addresses(customer: Customer, addresses: list[Address]) -> None:
    """Make `customer.addresses.all()` answer from `addresses` without a query, as
    prefetch_related("addresses") would have (it uses the same cache)."""
    cached = Address.objects.filter(customer=customer)
    cached._result_cache = addresses
    cached._prefetch_done = True
    customer._prefetched_objects_cache = {"addresses": cached}


def customers_with_addresses(customers: QuerySet[Customer]) -> list[Customer]:
    """The customers of a (small) queryset with their addresses, in ONE query instead of two.

    A LEFT JOIN gives one row per address (one row with NULL address columns for a customer with
    none); a round trip to PostgreSQL is the largest cost of a GET by reference (bench/single.py).
    For a handful of customers only: each row repeats the customer's columns.
    """
    address_paths = [f"addresses__{name}" for name in ADDRESS_COLUMNS]
    # No ORDER BY: sorting in Python is cheaper than Django compiling it, and the rows are few.
    rows = customers.order_by().values_list(*CUSTOMER_COLUMNS, *address_paths)
    width = len(CUSTOMER_COLUMNS)
    found: dict[int, tuple[Customer, list[Address]]] = {}
    for row in rows:
        seq = row[0]
        if seq not in found:
            found[seq] = (Customer.from_db(customers.db, CUSTOMER_COLUMNS, row[:width]), [])
        address_values = row[width:]
        if address_values[0] is not None:
            # from_db takes the values in the model's column order: id, customer_id, the rest.
            values = (address_values[0], seq, *address_values[1:])
            address = Address.from_db(customers.db, ADDRESS_FIELD_NAMES, values)
            found[seq][1].append(address)
    for customer, addresses in found.values():
        addresses.sort(key=lambda address: address.id)  # Address.Meta.ordering
        remember_addresses(customer, addresses)
    return [customer for customer, _ in found.values()]


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


def customer_find(*, store, ref: str, with_addresses: bool = True) -> Customer | None:
    """The live customer whose `id` is `ref`, else whose `twc_customer_id` is `ref`.

    One query, with the addresses joined in unless `with_addresses=False`.
    """
    if not isinstance(ref, str) or not ref or len(ref) > 255:
        return None
    condition = Q(ref=ref)
    twc_id = _as_uuid(ref)
    if twc_id is not None:
        condition |= Q(twc_customer_id=twc_id)
    customers = Customer.objects.for_store(store).filter(condition)
    # At most two customers match: one by reference, one by twc_customer_id.
    matches = customers_with_addresses(customers) if with_addresses else list(customers[:2])
    for customer in matches:
        if customer.ref == ref:
            return customer
    return matches[0] if matches else None


def customer_get(*, store, ref: str, with_addresses: bool = True) -> Customer:
    """As customer_find, but a missing customer is `404 ResourceNotFound`."""
    customer = customer_find(store=store, ref=ref, with_addresses=with_addresses)
    if customer is None:
        raise not_found(ref if isinstance(ref, str) else "")
    return customer
