"""Create or update many customers at once, each item judged on its own.

One implementation for POST /api/upload-customers and the import_customers command. Three phases,
as Saleor's customerBulkUpdate: clean every item in Python (the single create's rules), find
duplicates inside the payload and against the database with one query, then write in bulk
(COPY on PostgreSQL, one executemany on SQLite). A constant number of statements per batch,
whatever its size.

`on_conflict` says what happens to an item whose `id`, email or phone belongs to an existing
customer of the store: `error` (DuplicateField), `skip` (left as it is), `update` (applied as a PUT).
"""

import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from customers.errors import ApiError, FieldError, ValidationFailed, duplicate_field, invalid_field, required_field
from customers.fields import UNIQUE_KEYS
from customers.models import Address, Customer
from customers.selectors import customers_holding_keys
from customers.services.customers import new_address_values, new_customer_values, put_changes
from customers.services.integrity import duplicate_field_of
from customers.services.orders import assign_unowned_orders_and_wishlists
from customers.services.pg_copy import copy_rows
from customers.uuids import new_uuid_text
from customers.validation import WRITABLE_MODEL_FIELDS, clean_customer
from tenants.models import Store

ON_CONFLICT_MODES = ("error", "skip", "update")
UNIQUE_FIELDS = tuple((key.api_name, key.key_column) for key in UNIQUE_KEYS)
# Another writer can take a key between our lookup and our write: re-plan the batch this many
# times, then write item by item so that only the items that really collide fail.
WRITE_ATTEMPTS = 3
# What a PUT can change, written back by the update mode.
UPDATED_FIELDS = (*WRITABLE_MODEL_FIELDS, "email_key", "version", "updated_at")


@dataclass
class Item:
    """A cleaned item of the batch: model values, `ref` only when the item sent an `id`."""

    index: int
    cleaned: dict


@dataclass
class Plan:
    """What one batch will write, decided from one read of the existing customers."""

    creates: list[tuple[Item, dict]] = field(default_factory=list)  # (item, the new customer's row)
    # (item, customer with the changes applied, version read, new addresses or None, current addresses)
    updates: list[tuple[Item, Customer, int, list[dict] | None, list[Address]]] = field(default_factory=list)
    results: dict[int, dict] = field(default_factory=dict)


class NewRows:
    """New rows of a model as plain dicts with Model.__init__'s defaults, computed once per model.

    A Customer instance costs more to build than its validation; the bulk paths write dicts.
    """

    def __init__(self, model):
        self.fixed: dict[str, Any] = {}
        self.computed: list[tuple[str, Any]] = []
        for f in model._meta.concrete_fields:
            if f.has_default() and callable(f.default):
                self.computed.append((f.attname, f.default))
            else:
                self.fixed[f.attname] = f.get_default()

    def new(self, values: dict) -> dict:
        row = self.fixed.copy()
        for name, make in self.computed:
            if name not in values:
                row[name] = make()
        row.update(values)
        return row


CUSTOMER_ROWS = NewRows(Customer)
ADDRESS_ROWS = NewRows(Address)


def _deadlock(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == "40P01"


class LostRace(Exception):
    """A customer changed between our read and our update."""


def _failure(index: int, errors: list[FieldError]) -> dict:
    return {"index": index, "status": "failed", "errors": [e.as_dict() for e in errors]}


def _outcome(index: int, status: str, customer: Customer | dict) -> dict:
    if isinstance(customer, dict):
        ref, twc_customer_id = customer["ref"], customer["twc_customer_id"]
    else:
        ref, twc_customer_id = customer.ref, customer.twc_customer_id
    return {"index": index, "status": status, "id": ref, "twc_customer_id": str(twc_customer_id)}


def _duplicate(field_name: str, cleaned: dict) -> FieldError:
    value = cleaned.get("email") if field_name == "email" else cleaned.get(dict(UNIQUE_FIELDS)[field_name])
    return duplicate_field(field_name, value).errors[0]


def check_on_conflict(on_conflict: str) -> str:
    if on_conflict not in ON_CONFLICT_MODES:
        raise ValidationFailed(invalid_field("on_conflict", "'on_conflict' must be one of: error, skip, update."))
    return on_conflict


def customers_upload(*, store: Store, items: list[Any], on_conflict: str = "error") -> dict:
    """POST /api/upload-customers: at most UPLOAD_MAX_ITEMS items, one result per item, in order."""
    check_on_conflict(on_conflict)
    if len(items) > settings.UPLOAD_MAX_ITEMS:
        raise ApiError(
            FieldError("PayloadTooLarge", f"An upload takes at most {settings.UPLOAD_MAX_ITEMS} customers."),
            status=413,
        )
    return customers_bulk_write(store=store, items=items, on_conflict=on_conflict)


def customers_bulk_write(
    *,
    store: Store,
    items: list[Any],
    on_conflict: str = "error",
    dry_run: bool = False,
    cleaned: tuple[list["Item"], list[dict]] | None = None,
    expect_new: bool = False,
) -> dict:
    """Create (or skip, or update) each valid item; report one result per item, in the order sent.

    The shared write path of the upload endpoint and the import command. With `dry_run`, every
    item is judged as it would be, and nothing is written. `cleaned` is `clean_items(...)` of these
    items when the caller ran it already (the import command, in worker processes).

    `expect_new` (the import of a file, while no batch has met an existing customer) writes first
    and looks up existing customers only if the database refuses a key: PostgreSQL reads every
    customer of the store to answer the lookup for thousands of keys (it prefers that to as many
    index probes), a cost that grows with the store. The outcome is the same either way.
    """
    check_on_conflict(on_conflict)
    if cleaned is None:
        cleaned = clean_items(store=store, items=items, on_conflict=on_conflict)
    cleaned_items, failures = cleaned
    results: list[dict | None] = [None] * len(items)
    for failure in failures:
        results[failure["index"]] = failure
    if cleaned_items:
        # The update mode must find the customer an item names; a dry run writes nothing to be refused.
        look_up_first = not expect_new or dry_run or on_conflict == "update"
        _plan_and_write(store, cleaned_items, on_conflict, dry_run, results, look_up_first=look_up_first)
    return bulk_report(results)


def bulk_report(results: list[dict]) -> dict:
    counts = {"created": 0, "updated": 0, "skipped": 0, "failed": 0}
    for result in results:
        counts[result["status"]] += 1
    return {**counts, "results": results}


def clean_items(*, store: Store, items: list[Any], on_conflict: str) -> tuple[list[Item], list[dict]]:
    """Phase one, no database: the cleaned items, and a failed result for each item that is not valid."""
    cleaned, failures = [], []
    for index, raw in enumerate(items):
        try:
            cleaned.append(Item(index, clean_item(raw, store=store, on_conflict=on_conflict)))
        except ValidationFailed as exc:
            failures.append(_failure(index, exc.errors))
    return cleaned, failures


def clean_item(item: Any, *, store: Store, on_conflict: str) -> dict:
    """The single create's rules; in update mode the PUT's (partial) rules, as the item may update."""
    if on_conflict != "update":
        return clean_customer(item, store=store)
    if isinstance(item, dict) and "id" in item and item["id"] is None:
        item = {key: value for key, value in item.items() if key != "id"}  # null id: "assign one"
    return clean_customer(item, store=store, partial=True)


def _clash(cleaned: dict, claimed: dict[str, set]) -> str | None:
    """The API field by which an item collides with an earlier item of the batch that is written."""
    for name, attr in UNIQUE_FIELDS:
        value = cleaned.get(attr)
        if value and value in claimed[attr]:
            return name
    return None


def _claim(cleaned: dict, claimed: dict[str, set], *, release: bool = False) -> None:
    for _, attr in UNIQUE_FIELDS:
        if value := cleaned.get(attr):
            if release:
                claimed[attr].discard(value)
            else:
                claimed[attr].add(value)


def _no_claims() -> dict[str, set]:
    return {attr: set() for _, attr in UNIQUE_FIELDS}


def _plan_and_write(
    store: Store, items: list[Item], on_conflict: str, dry_run: bool, results: list, *, look_up_first: bool = True
) -> None:
    for attempt in range(WRITE_ATTEMPTS if look_up_first else WRITE_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                plan = _plan(store, items, on_conflict, look_up=look_up_first or attempt > 0)
                if not dry_run:
                    _write(plan)
        except (IntegrityError, LostRace):
            continue
        except OperationalError as exc:
            if not _deadlock(exc):
                raise
            continue  # two batches inserting each other's keys: PostgreSQL aborted this one
        _record(plan, results)
        return
    # Still colliding with concurrent writers: item by item, so that only the real collisions fail.
    claimed = _no_claims()  # the batch's first-wins rule, across the items written one by one
    for item in items:
        try:
            with transaction.atomic():
                plan = _plan(store, [item], on_conflict, claimed=claimed)
                _write(plan)
        except IntegrityError as exc:
            _claim(item.cleaned, claimed, release=True)  # not written: its keys are not taken
            field_name = duplicate_field_of(exc)
            error = (
                _duplicate(field_name, item.cleaned)
                if field_name
                else FieldError("InvalidOperation", "The database refused this customer.")
            )
            results[item.index] = _failure(item.index, [error])
        except (LostRace, OperationalError) as exc:
            if isinstance(exc, OperationalError) and not _deadlock(exc):
                raise
            _claim(item.cleaned, claimed, release=True)
            error = FieldError("ConcurrentModification", "The customer is changing too fast; retry.")
            results[item.index] = _failure(item.index, [error])
        else:
            _record(plan, results)


def _record(plan: Plan, results: list) -> None:
    for index, result in plan.results.items():
        results[index] = result
    for item, customer in plan.creates:
        results[item.index] = _outcome(item.index, "created", customer)
    for item, customer, *_ in plan.updates:
        results[item.index] = _outcome(item.index, "updated", customer)


def _plan(
    store: Store, items: list[Item], on_conflict: str, *, look_up: bool = True, claimed: dict[str, set] | None = None
) -> Plan:
    """Decide each item's fate from one read of the customers holding any of the batch's keys
    (without it, `look_up=False`, every item is a create: the database's unique keys will say if not).

    Inside the batch the first item wins: a later item with the `id`, email or phone of an earlier
    one that is created or updated fails with DuplicateField. An item that is not written (refused,
    skipped) takes no key: the next one is judged as if it had been sent alone, after it.
    """
    claimed = _no_claims() if claimed is None else claimed
    now = timezone.now()
    existing = []
    if look_up:
        wanted = {attr: [i.cleaned[attr] for i in items if i.cleaned.get(attr)] for _, attr in UNIQUE_FIELDS}
        existing = customers_holding_keys(
            store=store, refs=wanted["ref"], email_keys=wanted["email_key"], phones=wanted["phone"]
        )
    holders = {attr: {getattr(c, attr): c for c in existing if getattr(c, attr)} for _, attr in UNIQUE_FIELDS}
    plan = Plan()
    to_update: list[tuple[Item, Customer]] = []
    targeted: set[int] = set()
    for item in items:
        clash = _clash(item.cleaned, claimed)
        if clash is not None:
            plan.results[item.index] = _failure(item.index, [_duplicate(clash, item.cleaned)])
            continue
        matches = existing and [
            (name, holders[attr][item.cleaned[attr]])
            for name, attr in UNIQUE_FIELDS
            if item.cleaned.get(attr) and item.cleaned[attr] in holders[attr]
        ]
        if not matches:
            if not item.cleaned.get("email") and not item.cleaned.get("phone"):
                # Only the update mode gets here (partial rules): a create needs an email or a phone.
                plan.results[item.index] = _failure(
                    item.index, [required_field("email", "A customer needs an 'email' or a 'phone'.")]
                )
            else:
                values = new_customer_values(
                    store=store, cleaned=item.cleaned, now=now, twc_customer_id=new_uuid_text()
                )
                values["store_id"] = store.pk
                plan.creates.append((item, CUSTOMER_ROWS.new(values)))
                _claim(item.cleaned, claimed)
            continue
        if on_conflict == "error":
            plan.results[item.index] = _failure(item.index, [_duplicate(matches[0][0], item.cleaned)])
        elif on_conflict == "skip":
            plan.results[item.index] = _outcome(item.index, "skipped", matches[0][1])
        else:
            target, error = _update_target(item, matches)
            if error is None and target.pk in targeted:
                error = _duplicate(matches[0][0], item.cleaned)  # an earlier item of the batch updates it
            if error is not None:
                plan.results[item.index] = _failure(item.index, [error])
                continue
            targeted.add(target.pk)
            to_update.append((item, target))
            _claim(item.cleaned, claimed)
    if to_update:
        _plan_updates(plan, to_update, now)
    return plan


def _update_target(item: Item, matches: list[tuple[str, Customer]]) -> tuple[Customer | None, FieldError | None]:
    """The one customer an item updates: the one with its `id`, else with its email or phone."""
    if "ref" in item.cleaned:
        target = next((c for name, c in matches if name == "id"), None)
        if target is None:
            # A new id whose email or phone belongs to another customer: a duplicate, as on create.
            return None, _duplicate(matches[0][0], item.cleaned)
    else:
        target = matches[0][1]
    first_name = next(name for name, c in matches if c.pk == target.pk)
    for name, holder in matches:
        if holder.pk != target.pk:
            message = (
                f"This item matches customer '{target.ref}' by {first_name} and customer '{holder.ref}' "
                f"by {name}: it cannot update both."
            )
            value = item.cleaned.get("email") if name == "email" else item.cleaned.get(dict(UNIQUE_FIELDS)[name])
            return None, FieldError("DuplicateField", message, field=name, duplicate_value=value)
    return target, None


def _plan_updates(plan: Plan, to_update: list[tuple[Item, Customer]], now) -> None:
    sending_addresses = [target.pk for item, target in to_update if "_addresses" in item.cleaned]
    current: dict[int, list[Address]] = {pk: [] for pk in sending_addresses}
    if sending_addresses:
        for address in Address.objects.filter(customer_id__in=sending_addresses).order_by("id"):
            current[address.customer_id].append(address)
    for item, target in to_update:
        cleaned = dict(item.cleaned)
        cleaned.pop("ref", None)  # the id names the customer; it does not rename it
        expected_version = cleaned.pop("_version", None)
        addresses = cleaned.pop("_addresses", None)
        current_addresses = current.get(target.pk, [])
        try:
            changes, addresses_changed = put_changes(
                target,
                cleaned,
                expected_version=expected_version,
                addresses=addresses,
                current_addresses=current_addresses,
                now=now,
            )
        except ApiError as exc:
            plan.results[item.index] = _failure(item.index, exc.errors)
            continue
        if not changes and not addresses_changed:
            plan.results[item.index] = _outcome(item.index, "updated", target)  # as a PUT: applied, no change
            continue
        read_version = target.version
        changes["version"] = read_version + 1
        changes["updated_at"] = now
        for name, value in changes.items():
            setattr(target, name, value)
        plan.updates.append((item, target, read_version, addresses if addresses_changed else None, current_addresses))


# --- The write: a constant number of statements -------------------------------------------------


def _write(plan: Plan) -> None:
    created = [row for _, row in plan.creates]
    replaced = [(customer, raw, current) for _, customer, _, raw, current in plan.updates if raw is not None]
    address_count = sum(len(item.cleaned.get("_addresses", [])) for item, _ in plan.creates)
    address_count += sum(len(raw) for _, raw, _ in replaced)
    customer_ids, address_ids = _allocate_ids(len(created), address_count)
    for row, pk in zip(created, customer_ids, strict=True):
        row["seq"] = pk

    if plan.updates:
        _update_customers([(customer, read_version) for _, customer, read_version, _, _ in plan.updates])
    if replaced:
        Address.objects.filter(customer_id__in=[customer.pk for customer, _, _ in replaced]).delete()

    addresses: list[dict] = []
    for item, row in plan.creates:
        for raw in item.cleaned.get("_addresses", ()):
            values = new_address_values(raw)
            values["customer_id"] = row["seq"]
            addresses.append(ADDRESS_ROWS.new(values))
    for customer, raws, current in replaced:
        keep_ids = {a.id for a in current}
        for raw in raws:
            values = new_address_values(raw, keep_ids=keep_ids)
            values["customer_id"] = customer.pk
            addresses.append(ADDRESS_ROWS.new(values))
    fresh_ids = iter(address_ids)
    for address in addresses:
        if address["id"] is None:
            address["id"] = next(fresh_ids)

    if created:
        _insert(Customer, created)
    if addresses:
        _insert(Address, addresses)
    if created:
        # The single create's assignment, on stand-ins: it reads pk, store_id, email_key and phone.
        assign_unowned_orders_and_wishlists(
            customers=[
                SimpleNamespace(pk=r["seq"], store_id=r["store_id"], email_key=r["email_key"], phone=r["phone"])
                for r in created
            ]
        )


def _log(sql: str, started: float) -> None:
    # COPY and the raw executemany bypass Django's debug cursor for speed; record them so that
    # CaptureQueriesContext (and the statement-count tests) see every statement.
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})


def _allocate_ids(customers: int, addresses: int) -> tuple[list[int], list[int]]:
    """Primary keys for the new rows, in one statement, so that addresses can name their customer."""
    if not customers and not addresses:
        return [], []
    customer_table, address_table = Customer._meta.db_table, Address._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The sequence is looked up once (a scalar subquery), not once per key: ten times faster.
            cursor.execute(
                f"SELECT ARRAY(SELECT nextval((SELECT pg_get_serial_sequence('{customer_table}', 'seq')::regclass)) "
                f"FROM generate_series(1, %s)), "
                f"ARRAY(SELECT nextval((SELECT pg_get_serial_sequence('{address_table}', 'id')::regclass)) "
                f"FROM generate_series(1, %s))",
                [customers, addresses],
            )
            customer_ids, address_ids = cursor.fetchone()
            return list(customer_ids), list(address_ids)
        # SQLite: the write lock is ours (transaction_mode IMMEDIATE), so the next free keys are too.
        # AUTOINCREMENT never reuses a key, hence sqlite_sequence beside max().
        cursor.execute(
            f"SELECT MAX(COALESCE((SELECT MAX(seq) FROM {customer_table}), 0), "
            f"COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{customer_table}'), 0)), "
            f"MAX(COALESCE((SELECT MAX(id) FROM {address_table}), 0), "
            f"COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{address_table}'), 0))"
        )
        last_customer, last_address = cursor.fetchone()
        return (
            list(range(last_customer + 1, last_customer + 1 + customers)),
            list(range(last_address + 1, last_address + 1 + addresses)),
        )


def _insert(model, rows: list[dict]) -> None:
    started = time.monotonic()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The raw psycopg cursor: Django's wrapper turns its errors into django.db errors.
            with connection.wrap_database_errors:
                sql = copy_rows(cursor.cursor, model, rows)
            _log(f"{sql} -- {len(rows)} rows", started)
        else:
            fields = model._meta.concrete_fields
            columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
            values = [tuple(f.get_db_prep_save(row[f.attname], connection) for f in fields) for row in rows]
            placeholders = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {model._meta.db_table} ({columns}) VALUES ({placeholders})", values)


def _update_customers(updates: list[tuple[Customer, int]]) -> None:
    """Write back what the PUTs changed, each only if the customer is still at the version we read."""
    fields = [Customer._meta.get_field(name) for name in UPDATED_FIELDS]
    assignments = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
    sql = f"UPDATE {Customer._meta.db_table} SET {assignments} WHERE seq = %s AND version = %s"
    rows = [
        (*(f.get_db_prep_save(getattr(customer, f.attname), connection) for f in fields), customer.pk, read_version)
        for customer, read_version in updates
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
        if cursor.rowcount != len(rows):
            raise LostRace()
