"""Reads of the customers app. Every function takes `store=` and reads through `for_store`."""

import uuid

from django.db.models import Q, QuerySet

from customers.errors import not_found
from customers.models import Customer, Order


def customer_queryset(*, store) -> QuerySet[Customer]:
    """The store's live customers, with what the representation needs in one extra query."""
    return Customer.objects.for_store(store).prefetch_related("addresses")


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


def customer_find(*, store, ref: str) -> Customer | None:
    """The live customer whose `id` is `ref`, else whose `twc_customer_id` is `ref` (one query)."""
    # No stored id holds a NUL, and PostgreSQL refuses one in a query (a 500 found by the fuzzer).
    if not isinstance(ref, str) or not ref or len(ref) > 255 or "\x00" in ref:
        return None
    condition = Q(ref=ref)
    twc_id = _as_uuid(ref)
    if twc_id is not None:
        condition |= Q(twc_customer_id=twc_id)
    matches = list(customer_queryset(store=store).filter(condition)[:2])
    for customer in matches:
        if customer.ref == ref:
            return customer
    return matches[0] if matches else None


def customer_get(*, store, ref: str) -> Customer:
    """As customer_find, but a missing customer is `404 ResourceNotFound`."""
    customer = customer_find(store=store, ref=ref)
    if customer is None:
        raise not_found(ref if isinstance(ref, str) else "")
    return customer


def customer_list_queryset(*, store, with_addresses: bool = True) -> QuerySet[Customer]:
    """The store's live customers for a listing; addresses prefetched only when shown."""
    queryset = Customer.objects.for_store(store)
    return queryset.prefetch_related("addresses") if with_addresses else queryset


def customer_orders(*, store, customer: Customer) -> QuerySet[Order]:
    """The customer's orders (test and archived ones included: they are the store's records)."""
    return Order.objects.filter(store=store, customer=customer)
