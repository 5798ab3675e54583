"""Record events in the transaction of the change they describe (the transactional outbox).

`event_record` writes one event (one INSERT, written once rather than compiled by the ORM for
every write: docs/performance.md); `events_record_many` writes a bulk
write's events set-based: one binary COPY on PostgreSQL (as the customers themselves), one
bulk_create on SQLite. Callers are the customer services; each calls inside its own transaction,
so a change rolled back takes its event with it.
"""

import datetime as dt
import time
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, connections, router
from django.utils import timezone

from customers.models import Address, Customer, Order, Wishlist
from customers.representation import customer_to_dict, order_to_dict, wishlist_to_dict
from customers.uuids import new_uuid_text
from events import types
from events.models import Event
from tenants.models import Store

# A state change is its own type (never also an update).
STATE_EVENT_TYPES = {
    "enabled": types.CUSTOMER_ENABLE,
    "disabled": types.CUSTOMER_DISABLE,
    "invited": types.CUSTOMER_INVITE,
    "declined": types.CUSTOMER_DECLINE,
}


def plain(record: dict) -> dict:
    """A representation with money as JSON numbers (the JSON column knows no Decimal)."""
    for key, value in record.items():
        if isinstance(value, Decimal):
            record[key] = float(value)
    return record


def customer_data(customer: Customer, addresses: list[Address] | None = None) -> dict:
    """`data` of a customer event: the customer's full representation as of the change."""
    return {"customer": plain(customer_to_dict(customer, addresses))}


def deleted_customer_data(customer: Customer) -> dict:
    deleted_at = customer.deleted_at.isoformat() if customer.deleted_at else None
    return {
        "customer": {"id": customer.ref, "twc_customer_id": str(customer.twc_customer_id), "deleted_at": deleted_at}
    }


def erased_customer_data(customer: Customer) -> dict:
    erased_at = customer.erased_at.isoformat() if customer.erased_at else None
    return {"customer": {"id": customer.ref, "twc_customer_id": str(customer.twc_customer_id), "erased_at": erased_at}}


def order_data(order: Order, customer: Customer | None) -> dict:
    return {"order": plain(order_to_dict(order, customer.ref if customer else None))}


def wishlist_data(wishlist: Wishlist, customer: Customer | None) -> dict:
    return {"wishlist": plain(wishlist_to_dict(wishlist, customer.ref if customer else None))}


# The columns event_record fills (seq and xid are the database's).
RECORD_FIELDS = [
    Event._meta.get_field(name) for name in ("event_id", "store", "type", "occurred_at", "data", "customer_key")
]
_RECORD_COLUMNS = ", ".join(f'"{field.column}"' for field in RECORD_FIELDS)  # type: ignore[union-attr]
_RECORD_PLACEHOLDERS = ", ".join(["%s"] * len(RECORD_FIELDS))
RECORD_SQL = f'INSERT INTO "{Event._meta.db_table}" ({_RECORD_COLUMNS}) VALUES ({_RECORD_PLACEHOLDERS}) RETURNING "seq"'


def _new_event(
    *, store: Store, type: str, data: dict, customer: Customer | None, occurred_at: dt.datetime | None
) -> tuple[Event, str, list]:
    """The unsaved event, the database alias it is written to and its RECORD_FIELDS values."""
    assert type in types.EVENT_TYPES, type
    if occurred_at is None and customer is not None and type.startswith("customers/"):
        occurred_at = customer.updated_at
    event = Event(
        store=store,
        type=type,
        data=data,
        customer_key=customer.twc_customer_id if customer is not None else None,
        occurred_at=occurred_at or timezone.now(),
    )
    alias = router.db_for_write(Event, instance=event)
    db = connections[alias]
    values = [field.get_db_prep_save(getattr(event, field.attname), db) for field in RECORD_FIELDS]  # type: ignore[union-attr]
    return event, alias, values


def event_record(
    *,
    store: Store,
    type: str,
    data: dict,
    customer: Customer | None = None,
    occurred_at: dt.datetime | None = None,
) -> Event:
    """Record one event (one INSERT). Call it inside the transaction of the change.

    A customer's own event occurred when the customer was changed (its `updated_at`); others now.
    """
    event, alias, values = _new_event(store=store, type=type, data=data, customer=customer, occurred_at=occurred_at)
    with connections[alias].cursor() as cursor:
        cursor.execute(RECORD_SQL, values)
        event.seq = cursor.fetchone()[0]
    event._state.adding, event._state.db = False, alias
    return event


def change_and_event_record(
    change_sql: str, change_params: list, *, store: Store, type: str, data: dict, customer: Customer
) -> int:
    """Run one data-modifying statement (an UPDATE without RETURNING) and record the event once per
    row it changed, in ONE statement (PostgreSQL's `WITH changed AS (UPDATE ... RETURNING 1) INSERT
    ... SELECT ... FROM changed`): atomic by itself, so an autocommit caller needs no BEGIN/COMMIT
    round trips around the change and its event. Returns the number of rows changed."""
    event, alias, values = _new_event(store=store, type=type, data=data, customer=customer, occurred_at=None)
    connection = connections[alias]
    assert connection.vendor == "postgresql", "data-modifying WITH is PostgreSQL's"
    sql = (
        f'WITH changed AS ({change_sql} RETURNING 1) INSERT INTO "{Event._meta.db_table}" ({_RECORD_COLUMNS}) '
        f"SELECT {_RECORD_PLACEHOLDERS} FROM changed"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*change_params, *values])
        return int(cursor.rowcount)


# The columns a bulk write fills (seq and xid are the database's), in the order of its rows.
COLUMNS = ("event_id", "store_id", "type", "customer_key", "data", "occurred_at")


def events_record_many(*, store_id: int, events: Iterable[tuple[str, Any, dict, dt.datetime]]) -> int:
    """Record many events at once: (type, customer twc_customer_id, data, occurred_at) each.

    One statement whatever their number. Returns how many were written.
    """
    # seq and xid are left to the database: the sequence, and the writing transaction's id.
    rows = [(new_uuid_text(), store_id, type_, customer_key, data, at) for type_, customer_key, data, at in events]
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        # One executemany (bulk_create would split it into batches of SQLite's variable limit).
        fields = [Event._meta.get_field(name) for name in COLUMNS]
        values = [
            tuple(f.get_db_prep_save(value, connection) for f, value in zip(fields, row, strict=True))  # type: ignore[union-attr]
            for row in rows
        ]
        placeholders = ", ".join(["%s"] * len(COLUMNS))
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {Event._meta.db_table} ({', '.join(COLUMNS)}) VALUES ({placeholders})", values
            )
        return len(rows)
    # Imported here: customers.services imports this module.
    from customers.services.pg_copy import JsonbBinaryDumper, UuidTextBinaryDumper

    started = time.monotonic()
    table = Event._meta.db_table
    sql = f"COPY {table} (event_id, store_id, type, customer_key, data, occurred_at) FROM STDIN (FORMAT BINARY)"
    with connection.cursor() as cursor, connection.wrap_database_errors:
        raw = cursor.cursor
        raw.adapters.register_dumper(None, UuidTextBinaryDumper)
        raw.adapters.register_dumper(None, JsonbBinaryDumper)
        with raw.copy(sql) as copy:
            copy.set_types(["uuid", "int8", "varchar", "uuid", "jsonb", "timestamptz"])
            for row in rows:
                copy.write_row(row)
    if connection.queries_logged:
        connection.queries_log.append(
            {"sql": f"{sql} -- {len(rows)} rows", "time": f"{time.monotonic() - started:.3f}"}
        )
    return len(rows)


def _ids_only(data: dict) -> dict:
    """An event's `data` with each object reduced to its ids (erasure)."""
    reduced: dict = {}
    for key, value in data.items():
        if isinstance(value, dict):
            reduced[key] = {k: value[k] for k in ("id", "twc_customer_id") if k in value}
    return reduced


def events_redact_customer(*, customer: Customer) -> int:
    """Reduce the `data` of the customer's kept events to ids (its erasure). Returns how many."""
    events = list(Event.objects.filter(customer_key=customer.twc_customer_id, store_id=customer.store_id))
    for event in events:
        event.data = _ids_only(event.data)
    Event.objects.bulk_update(events, ["data"], batch_size=500)
    return len(events)


def events_delete_expired(*, now: dt.datetime | None = None) -> int:
    """Delete events older than EVENTS_RETENTION_DAYS (their deliveries go with them)."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.EVENTS_RETENTION_DAYS)
    deleted, _ = Event.objects.filter(occurred_at__lt=cutoff).delete()
    return deleted
