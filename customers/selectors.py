"""Reads of the customers app. Every function takes `store=` and reads through `for_store`."""

import json
import uuid
from typing import Any

from django.db import connection, connections
from django.db.models import Q, QuerySet

from customers.errors import customer_not_found
from customers.models import Address, Customer, Order
from tenants.models import Store
from twc.db_rows import ModelRows
from twc.text import CONTROL_OR_BREAK

ADDRESS_FIELD_NAMES = [field.attname for field in Address._meta.concrete_fields]


CUSTOMER_ROWS = ModelRows(Customer)
# An address's columns but customer_id, which is the customer's seq.
ADDRESS_ROWS = ModelRows(Address, skip=("customer_id",))


def _joined_select_sql(*, by_twc_customer_id: bool) -> str:
    """SELECT of live customers of one store by reference (or twc_customer_id), LEFT JOINed with their
    addresses: one row per address, the customer's columns first in the model's order, then the
    address's (customers_from_joined_rows). Written once rather than built by the ORM on every
    request, because compiling a query of 46 columns with the ORM costs more CPU than anything else
    in a GET by reference (docs/performance.md)."""
    customer_table, address_table = Customer._meta.db_table, Address._meta.db_table
    match = 'c."ref" = %s' + (' OR c."twc_customer_id" = %s' if by_twc_customer_id else "")
    return (
        f'SELECT {CUSTOMER_ROWS.select("c")}, {ADDRESS_ROWS.select("a")} FROM "{customer_table}" c '
        f'LEFT OUTER JOIN "{address_table}" a ON a."customer_id" = c."seq" '
        f'WHERE c."store_id" = %s AND c."deleted_at" IS NULL AND ({match})'
    )


JOINED_SELECT_SQL = {flag: _joined_select_sql(by_twc_customer_id=flag) for flag in (False, True)}


def customers_from_joined_rows(rows: list[tuple], alias: str, *, start: int = 0) -> list[Customer]:
    """The customers of rows holding, from `start` on, a customer's columns then one of its addresses'
    (NULLs for a customer without any), as CUSTOMER_ROWS and ADDRESS_ROWS select them; each customer
    answers `customer.addresses.all()` without a query."""
    found: dict[int, tuple[Customer, list[Address]]] = {}
    address_start = start + CUSTOMER_ROWS.width
    for row in rows:
        seq = row[start]
        if seq not in found:
            found[seq] = (CUSTOMER_ROWS.instance(row, alias, start=start), [])
        if row[address_start] is not None:  # the address's id: NULL when the customer has none
            values = ADDRESS_ROWS.values(row, alias, start=address_start)
            values.insert(1, seq)  # customer_id, in the model's column order
            found[seq][1].append(Address.from_db(alias, ADDRESS_FIELD_NAMES, values))
    for customer, addresses in found.values():
        addresses.sort(key=lambda address: address.id)  # Address.Meta.ordering
        remember_addresses(customer, addresses)
    return [customer for customer, _ in found.values()]


def customer_queryset(*, store: Store, with_addresses: bool = True, using: str = "default") -> QuerySet[Customer]:
    """The store's live customers, with what the representation needs in one extra query, from the
    database `using` names (the list, count and search pass twc.replica's choice)."""
    customers = Customer.objects.for_store(store).using(using)
    return customers.prefetch_related("addresses") if with_addresses else customers


def remember_addresses(customer: Customer, addresses: list[Address]) -> None:
    """Make `customer.addresses.all()` answer from `addresses` without a query, as
    prefetch_related("addresses") would have (it uses the same cache)."""
    cached = Address.objects.all()
    # The filter is built only if something asks for the query (Django's related managers defer it
    # so too): building it costs ten times more than the rest of this function, and the cache answers.
    cached._defer_next_filter = True  # type: ignore[attr-defined]
    cached = cached.filter(customer_id=customer.pk)
    cached._result_cache = addresses
    # Django's prefetch cache: attributes private to the ORM, which the stubs do not declare.
    cached._prefetch_done = True  # type: ignore[attr-defined]
    customer._prefetched_objects_cache = {"addresses": cached}  # type: ignore[attr-defined]


def customers_with_addresses(*, store: Store, ref: str, twc_id: uuid.UUID | None) -> list[Customer]:
    """The store's live customers whose reference is `ref` or whose twc_customer_id is `twc_id`
    (at most two), with their addresses, in ONE query instead of two (a round trip to PostgreSQL is
    the largest cost of a GET by reference after the ORM itself)."""
    alias = Customer.objects.db
    connection = connections[alias]
    params: list[Any] = [store.pk, ref]
    if twc_id is not None:
        twc_field = Customer._meta.get_field("twc_customer_id")
        params.append(twc_field.get_db_prep_value(twc_id, connection))
    with connection.cursor() as cursor:
        cursor.execute(JOINED_SELECT_SQL[twc_id is not None], params)
        rows = cursor.fetchall()
    return customers_from_joined_rows(rows, alias)


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


def customer_find(*, store: Store, ref: object, with_addresses: bool = True) -> Customer | None:
    """The live customer whose `id` is `ref`, else whose `twc_customer_id` is `ref`.

    One query, with the addresses joined in unless `with_addresses=False`. `ref` is whatever the
    client sent: anything but a plain reference finds no one.
    """
    # No stored reference has control characters, and PostgreSQL refuses a NUL in a query.
    if not isinstance(ref, str) or not ref or len(ref) > 255 or CONTROL_OR_BREAK.search(ref):
        return None
    condition = Q(ref=ref)
    twc_id = _as_uuid(ref)
    if twc_id is not None:
        condition |= Q(twc_customer_id=twc_id)
    if with_addresses:
        matches = customers_with_addresses(store=store, ref=ref, twc_id=twc_id)
    else:
        # At most two customers match: one by reference, one by twc_customer_id.
        matches = list(Customer.objects.for_store(store).filter(condition)[:2])
    for customer in matches:
        if customer.ref == ref:
            return customer
    return matches[0] if matches else None


def customer_get(*, store: Store, ref: object, with_addresses: bool = True) -> Customer:
    """As customer_find, but a missing customer is `404 ResourceNotFound`."""
    customer = customer_find(store=store, ref=ref, with_addresses=with_addresses)
    if customer is None:
        raise customer_not_found(ref if isinstance(ref, str) else "")
    return customer


# One text parameter per list of keys, split by PostgreSQL: psycopg adapts a Python list element
# by element in Python, a cost paid for every row of a bulk upload; keys never hold control characters.
KEY_SEPARATOR = "\x1f"
ANY_KEY = "ANY(string_to_array(%s, chr(31)))"


def joined_keys(keys: list[str]) -> str:
    return KEY_SEPARATOR.join(keys)


def customers_holding_keys(
    *, store: Store, refs: list[str], email_keys: list[str], phones: list[str]
) -> list[Customer]:
    """The store's live customers holding any of these ids, email keys or phones, in ONE query.

    Raw SQL for the bulk paths: on PostgreSQL `= ANY(array)` binds three parameters however many keys
    there are (Django's `__in` binds one per key). For thousands of keys PostgreSQL prefers one pass
    over the store's customers to as many index probes, a pass that grows with the store:
    the import of new customers skips this lookup until the database refuses a key
    (customers.services.bulk, `expect_new`).
    """
    if not (refs or email_keys or phones):
        return []
    table = Customer._meta.db_table
    if connection.vendor == "postgresql":
        keys = f"(ref = {ANY_KEY} OR email_key = {ANY_KEY} OR phone = {ANY_KEY})"
        params = [joined_keys(refs), joined_keys(email_keys), joined_keys(phones)]
    else:
        each = "(SELECT value FROM json_each(%s))"
        keys = f"(ref IN {each} OR email_key IN {each} OR phone IN {each})"
        params = [json.dumps(refs), json.dumps(email_keys), json.dumps(phones)]
    sql = f"SELECT * FROM {table} WHERE store_id = %s AND deleted_at IS NULL AND {keys}"  # noqa: S608
    return list(Customer.objects.raw(sql, [store.pk, *params]))


def customer_orders(*, store: Store, customer: Customer) -> QuerySet[Order]:
    """The customer's orders (test and archived ones included: they are the store's records)."""
    return Order.objects.filter(store=store, customer=customer)
