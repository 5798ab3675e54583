"""The bulk write's third phase: a batch's plan written in a constant number of statements.

New primary keys in one statement, the updates in one executemany, the replaced addresses in one
DELETE, then the new rows (binary COPY on PostgreSQL, one executemany on SQLite) and the new
customers' orders and wishlists.
"""

import time
from collections import defaultdict
from types import SimpleNamespace
from typing import Any, NamedTuple, cast

from django.db import OperationalError, connection
from django.db.models import Field, Model

from customers.fields import WRITABLE_MODEL_FIELDS
from customers.models import Address, Customer
from customers.services.bulk_plan import CustomerUpdate, NewRows, Plan
from customers.services.customers import new_address_values
from customers.services.orders import assign_unowned_orders_and_wishlists
from customers.services.pg_copy import copy_rows
from events import types as event_types
from events.recording import customer_data, events_record_many

# What a PUT can change, written back by the update mode.
UPDATED_FIELDS = (*WRITABLE_MODEL_FIELDS, "email_key", "version", "updated_at")

ADDRESS_ROWS = NewRows(Address)
ORDER_FIGURES = ("orders_count", "total_spent", "last_order_id", "last_order_name")


class LostRace(Exception):
    """A customer changed between our read and our update."""


def is_deadlock(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == "40P01"


class NewIds(NamedTuple):
    """Primary keys reserved for a batch's new rows."""

    customers: list[int]
    addresses: list[int]


def write_plan(plan: Plan) -> None:
    replaced = [update for update in plan.updates if update.new_addresses is not None]
    address_count = sum(len(create.item.cleaned.get("_addresses", [])) for create in plan.creates)
    address_count += sum(len(update.new_addresses or ()) for update in replaced)
    new_ids = _allocate_ids(customers=len(plan.creates), addresses=address_count)
    created = [create.row for create in plan.creates]
    for row, pk in zip(created, new_ids.customers, strict=True):
        row["seq"] = pk

    if plan.updates:
        _update_customers(plan.updates)
    if replaced:
        Address.objects.filter(customer_id__in=[update.customer.pk for update in replaced]).delete()

    addresses: list[dict] = []
    for create in plan.creates:
        for raw in create.item.cleaned.get("_addresses", ()):
            values = new_address_values(raw)
            values["customer_id"] = create.row["seq"]
            addresses.append(ADDRESS_ROWS.new(values))
    for update in replaced:
        keep_ids = {a.id for a in update.current_addresses}
        for raw in update.new_addresses or ():
            values = new_address_values(raw, keep_ids=keep_ids)
            values["customer_id"] = update.customer.pk
            addresses.append(ADDRESS_ROWS.new(values))
    fresh_ids = iter(new_ids.addresses)
    for address in addresses:
        if address["id"] is None:
            address["id"] = next(fresh_ids)

    if created:
        _insert(Customer, created)
    if addresses:
        _insert(Address, addresses)
    if created:
        # The single create's assignment, on stand-ins: it reads pk, store_id, email_key and phone,
        # and sets the order figures of those that take over orders.
        owners = [
            SimpleNamespace(pk=r["seq"], store_id=r["store_id"], email_key=r["email_key"], phone=r["phone"])
            for r in created
        ]
        assign_unowned_orders_and_wishlists(customers=owners)
        for row, owner in zip(created, owners, strict=True):
            if hasattr(owner, "orders_count"):
                row.update({name: getattr(owner, name) for name in ORDER_FIGURES})
    _record_events(plan, addresses)


def _record_events(plan: Plan, addresses: list[dict]) -> None:
    """One event per customer created or updated, in one statement (the customers' own COPY on PostgreSQL)."""
    if not plan.creates and not plan.updates:
        return
    by_customer: dict[int, list[SimpleNamespace]] = defaultdict(list)
    for address in addresses:
        by_customer[address["customer_id"]].append(SimpleNamespace(**address))
    events = []
    for create in plan.creates:
        row = create.row
        data = customer_data(customer_view(row), by_customer.get(row["seq"], []))  # type: ignore[arg-type]
        events.append((event_types.CUSTOMER_CREATE, row["twc_customer_id"], data, row["updated_at"]))
    for update in plan.updates:
        customer = update.customer
        shown = by_customer.get(customer.pk, []) if update.new_addresses is not None else update.current_addresses
        data = customer_data(customer, shown)  # type: ignore[arg-type]
        events.append((event_types.CUSTOMER_UPDATE, customer.twc_customer_id, data, customer.updated_at))
    store_id = plan.creates[0].row["store_id"] if plan.creates else plan.updates[0].customer.store_id
    events_record_many(store_id=store_id, events=events)


def customer_view(row: dict) -> SimpleNamespace:
    """A new row (a dict by attname) read as the model instance customer_to_dict expects.

    A namespace, whose attributes are read in C: a class with `__getattr__` over the dict cost
    35 µs a customer against 11 (most of an import's event cost: docs/performance.md).
    """
    return SimpleNamespace(**row, admin_graphql_api_id=f"gid://twc/Customer/{row['twc_customer_id']}")


def _log(sql: str, started: float) -> None:
    # COPY and the raw executemany bypass Django's debug cursor for speed; record them so that
    # CaptureQueriesContext (and the statement-count tests) see every statement.
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})


def _allocate_ids(*, customers: int, addresses: int) -> NewIds:
    """Primary keys for the new rows, in one statement, so that addresses can name their customer."""
    if not customers and not addresses:
        return NewIds([], [])
    customer_table, address_table = Customer._meta.db_table, Address._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The sequence is looked up once (a scalar subquery), not once per key: the lookup costs more than the key.
            cursor.execute(
                f"SELECT ARRAY(SELECT nextval((SELECT pg_get_serial_sequence('{customer_table}', 'seq')::regclass)) "
                f"FROM generate_series(1, %s)), "
                f"ARRAY(SELECT nextval((SELECT pg_get_serial_sequence('{address_table}', 'id')::regclass)) "
                f"FROM generate_series(1, %s))",
                [customers, addresses],
            )
            customer_ids, address_ids = cursor.fetchone()
            return NewIds(list(customer_ids), list(address_ids))
        # SQLite: the write lock is ours (transaction_mode IMMEDIATE), so the next free keys are too.
        # AUTOINCREMENT never reuses a key, hence sqlite_sequence beside max().
        cursor.execute(
            f"SELECT MAX(COALESCE((SELECT MAX(seq) FROM {customer_table}), 0), "
            f"COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{customer_table}'), 0)), "
            f"MAX(COALESCE((SELECT MAX(id) FROM {address_table}), 0), "
            f"COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{address_table}'), 0))"
        )
        last_customer, last_address = cursor.fetchone()
        return NewIds(
            list(range(last_customer + 1, last_customer + 1 + customers)),
            list(range(last_address + 1, last_address + 1 + addresses)),
        )


def _insert(model: type[Model], rows: list[dict]) -> None:
    started = time.monotonic()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The raw psycopg cursor: Django's wrapper turns its errors into django.db errors.
            with connection.wrap_database_errors:
                sql = copy_rows(cursor.cursor, model, rows)
            _log(f"{sql} -- {len(rows)} rows", started)
        else:
            fields = model._meta.concrete_fields
            # A concrete field has a column (the stubs allow None, for fields that have no column).
            columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)  # type: ignore[arg-type]
            values = [tuple(f.get_db_prep_save(row[f.attname], connection) for f in fields) for row in rows]
            placeholders = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {model._meta.db_table} ({columns}) VALUES ({placeholders})", values)


def _update_customers(updates: list[CustomerUpdate]) -> None:
    """Write back what the PUTs changed, each only if the customer is still at the version we read."""
    # Concrete fields all (get_field's type also allows a relation), each with its column (the
    # stubs allow None, for fields that have no column).
    fields = [cast("Field[Any, Any]", Customer._meta.get_field(name)) for name in UPDATED_FIELDS]
    assignments = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)  # type: ignore[arg-type]
    sql = f"UPDATE {Customer._meta.db_table} SET {assignments} WHERE seq = %s AND version = %s"
    rows = [
        (
            *(f.get_db_prep_save(getattr(update.customer, f.attname), connection) for f in fields),
            update.customer.pk,
            update.read_version,
        )
        for update in updates
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
        if cursor.rowcount != len(rows):
            raise LostRace()
