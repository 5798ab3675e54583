"""Reads of the customers app. Every function takes `store=` and reads through `for_store`."""

import uuid

from django.db.models import Q, QuerySet

from customers.errors import not_found
from customers.models import Customer


def customer_queryset(*, store, with_addresses: bool = True) -> QuerySet[Customer]:
    """The store's live customers, with what the representation needs in one extra query."""
    customers = Customer.objects.for_store(store)
    return customers.prefetch_related("addresses") if with_addresses else customers


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


def customer_find(*, store, ref: str, with_addresses: bool = True) -> Customer | None:
    """The live customer whose `id` is `ref`, else whose `twc_customer_id` is `ref`.

    One query, and one more for the addresses unless `with_addresses=False`.
    """
    if not isinstance(ref, str) or not ref or len(ref) > 255:
        return None
    condition = Q(ref=ref)
    twc_id = _as_uuid(ref)
    if twc_id is not None:
        condition |= Q(twc_customer_id=twc_id)
    matches = list(customer_queryset(store=store, with_addresses=with_addresses).filter(condition)[:2])
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
