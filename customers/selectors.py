"""Reads of the customers app. Every function takes `store=` and reads through `for_store`."""

import json
import uuid

from django.db import connection
from django.db.models import Q, QuerySet

from customers.errors import not_found
from customers.models import Customer
from customers.validation import CONTROL_OR_BREAK


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
    # No stored reference has control characters, and PostgreSQL refuses a NUL in a query.
    if not isinstance(ref, str) or not ref or len(ref) > 255 or CONTROL_OR_BREAK.search(ref):
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


def customers_holding_keys(*, store, refs: list[str], email_keys: list[str], phones: list[str]) -> list[Customer]:
    """The store's live customers holding any of these ids, email keys or phones, in ONE query.

    Raw SQL for the bulk paths: on PostgreSQL `= ANY(array)` binds three parameters however many keys
    there are (Django's `__in` binds one per key), and each arm uses its partial unique index.
    """
    if not (refs or email_keys or phones):
        return []
    table = Customer._meta.db_table
    if connection.vendor == "postgresql":
        keys = "(ref = ANY(%s) OR email_key = ANY(%s) OR phone = ANY(%s))"
        params = [refs, email_keys, phones]
    else:
        each = "(SELECT value FROM json_each(%s))"
        keys = f"(ref IN {each} OR email_key IN {each} OR phone IN {each})"
        params = [json.dumps(refs), json.dumps(email_keys), json.dumps(phones)]
    sql = f"SELECT * FROM {table} WHERE store_id = %s AND deleted_at IS NULL AND {keys}"  # noqa: S608
    return list(Customer.objects.raw(sql, [store.pk, *params]))
