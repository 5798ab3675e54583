"""Orders and wishlists as the store's systems report them, their assignment to customers, and the
customer's order figures (orders_count, total_spent, last_order_*)."""

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from django.db import IntegrityError, connection, transaction
from django.db.models import (
    BooleanField,
    Count,
    DecimalField,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from customers.emails import email_key, is_written_one_way
from customers.errors import lookalike_email_entry, order_duplicate_name, undialable_phone_entry, unknown_customer_id
from customers.field_checker import FieldChecker
from customers.models import Customer, Order, Wishlist
from customers.phones import MAX_PHONE_INPUT_LENGTH, normalize_phone
from customers.selectors import ANY_KEY, customer_find, joined_keys
from customers.services.integrity import duplicate_field_of
from customers.validation import CURRENCY_CODES
from events import types as event_types
from events.recording import event_record, order_data, wishlist_data
from tenants.models import Store
from twc.api.errors import (
    invalid_json_input,
    required_field_entry,
)
from twc.text import CONTROL_OR_BREAK

MAX_WISHLIST_ITEMS = 1000
MAX_PRICE = Decimal("999999999999.99")  # the largest the column (14 digits, 2 decimals) holds


def refresh_order_figures(*, store_id: int, customer_ids: Iterable[int]) -> None:
    """Recompute the figures of these customers from their counted orders, in one statement.

    Every table is filtered by the store too, so the statement stays on one shard when the data is
    distributed by store (docs/scaling.md).
    """
    counted = Order.objects.filter(store_id=store_id, customer_id=OuterRef("pk"), test=False, archived=False)
    newest = counted.order_by("-created_at", "-id")
    count = counted.order_by().values("customer_id").annotate(n=Count("id")).values("n")
    total = counted.order_by().values("customer_id").annotate(s=Sum("total_price")).values("s")
    money = DecimalField(max_digits=14, decimal_places=2)
    Customer.objects.filter(store_id=store_id, pk__in=list(customer_ids)).update(
        orders_count=Coalesce(Subquery(count, output_field=IntegerField()), Value(0)),
        total_spent=Coalesce(Subquery(total, output_field=money), Value(Decimal("0")), output_field=money),
        last_order_id=Subquery(newest.values("id")[:1]),
        last_order_name=Subquery(newest.values("name")[:1]),
    )


def _unowned_sql(table: str, kind: int) -> str:
    return (
        f'SELECT {kind}, "id", "email_key", "phone" FROM "{table}" '
        f'WHERE "store_id" = %s AND "customer_id" IS NULL AND ("email_key" = %s OR "phone" = %s)'
    )


# One statement for both tables when one customer is created (POST /api/customers): one round trip
# instead of two, and no ORM query to compile on every create.
UNOWNED_OF_ONE_SQL = f"{_unowned_sql(Order._meta.db_table, 0)} UNION ALL {_unowned_sql(Wishlist._meta.db_table, 1)}"


def unowned_rows(*, store_id: int, email_keys: list[str], phones: list[str]) -> dict:
    """(id, email_key, phone) of the store's orders and of its wishlists that have no customer and
    carry one of these email keys or phones, by model."""
    found: dict = {Order: [], Wishlist: []}
    if len(email_keys) <= 1 and len(phones) <= 1:
        email_key = email_keys[0] if email_keys else None
        phone = phones[0] if phones else None
        params = [store_id, email_key, phone, store_id, email_key, phone]
        with connection.cursor() as cursor:
            cursor.execute(UNOWNED_OF_ONE_SQL, params)
            for kind, row_id, row_email_key, row_phone in cursor.fetchall():
                found[Order if kind == 0 else Wishlist].append((row_id, row_email_key, row_phone))
        return found
    # Many customers (the bulk upload): one query per table, however many keys.
    if connection.vendor == "postgresql":
        # Two array parameters however many customers (an upload has 10,000): `IN (%s, ...)` binds one per key.
        condition: RawSQL | Q = RawSQL(
            f"(email_key = {ANY_KEY} OR phone = {ANY_KEY})",
            [joined_keys(email_keys), joined_keys(phones)],
            BooleanField(),
        )
    else:
        condition = Q(email_key__in=email_keys) | Q(phone__in=phones)
    for model in found:
        rows = model.objects.filter(store_id=store_id, customer__isnull=True).filter(condition)
        found[model] = list(rows.values_list("id", "email_key", "phone"))
    return found


def _set_owners(model: type[Order | Wishlist], *, store_id: int, owners: list[tuple[int, int]]) -> None:
    """Set `customer_id` of each (row id, owner) pair in one statement joined to the pairs.

    (A CASE with a branch per owner is evaluated for every row: owners x rows, quadratic in a
    10,000-customer upload that takes over its orders.)
    """
    table = connection.ops.quote_name(model._meta.db_table)
    row_ids = ",".join(str(row_id) for row_id, _ in owners)
    owner_ids = ",".join(str(owner) for _, owner in owners)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} AS t SET customer_id = v.owner "  # noqa: S608 - the model's own table
                "FROM unnest(string_to_array(%s, ',')::bigint[], string_to_array(%s, ',')::bigint[]) AS v(id, owner) "
                "WHERE t.id = v.id AND t.store_id = %s",
                [row_ids, owner_ids, store_id],
            )
        else:
            cursor.execute(
                f"UPDATE {table} SET customer_id = v.owner "  # noqa: S608 - the model's own table
                "FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS owner "
                "FROM json_each(%s)) AS v "
                f"WHERE {table}.id = v.id AND {table}.store_id = %s",
                [json.dumps(owners), store_id],
            )


class NewOwner(Protocol):
    """What the assignment reads of a new customer: a Customer, or the bulk write's stand-in."""

    @property
    def pk(self) -> int: ...
    @property
    def store_id(self) -> int: ...
    @property
    def email_key(self) -> str | None: ...
    @property
    def phone(self) -> str | None: ...


def assign_unowned_orders_and_wishlists(*, customers: Sequence[NewOwner]) -> None:
    """New customers take the store's unowned orders and wishlists that carry their email or phone.

    A constant number of statements whatever the number of customers (the bulk upload uses it too).
    """
    if not customers:
        return
    store_id = customers[0].store_id
    by_email = {c.email_key: c for c in customers if c.email_key}
    by_phone = {c.phone: c for c in customers if c.phone}
    if not by_email and not by_phone:
        return
    touched: set[int] = set()
    for model, rows in unowned_rows(store_id=store_id, email_keys=list(by_email), phones=list(by_phone)).items():
        groups: dict[int, list[int]] = defaultdict(list)
        for row_id, row_email_key, row_phone in rows:
            owner = by_email.get(row_email_key) if row_email_key else None
            owner = owner or by_phone.get(row_phone)
            if owner is not None:
                groups[owner.pk].append(row_id)
        if groups:
            _set_owners(model, store_id=store_id, owners=[(row_id, pk) for pk, ids in groups.items() for row_id in ids])
        if model is Order:
            touched.update(groups)
    if touched:
        refresh_order_figures(store_id=store_id, customer_ids=touched)
        figures = Customer.objects.filter(store_id=store_id, pk__in=touched).values(
            "pk", "orders_count", "total_spent", "last_order_id", "last_order_name"
        )
        by_pk = {c.pk: c for c in customers}
        for row in figures:
            customer = by_pk[row.pop("pk")]  # type: ignore[misc]  # a values() row is a plain dict
            for field, value in row.items():
                setattr(customer, field, value)


def _clean_shopper(data: dict, check: FieldChecker, store: Store) -> dict:
    """email/phone/customer_id of an order or a wishlist."""
    cleaned: dict[str, Any] = {"email": None, "email_key": None, "phone": None}
    if data.get("email") is not None:
        email = check.text(data, "email", 254)
        if email and not is_written_one_way(email):
            # Its key would find the customer whose address it imitates and hand them the order.
            check.errors.append(lookalike_email_entry())
        elif email:
            cleaned["email"] = email
            cleaned["email_key"] = email_key(email)
    if data.get("phone") is not None:
        phone = check.text(data, "phone", MAX_PHONE_INPUT_LENGTH)
        if phone:
            try:
                cleaned["phone"] = normalize_phone(phone, store.country)
            except ValueError:
                check.errors.append(undialable_phone_entry())
    customer_ref = data.get("customer_id")
    if customer_ref is not None and (not isinstance(customer_ref, str) or not customer_ref):
        check.fail("customer_id", "'customer_id' must be a customer's id.")
    return cleaned


def _owner(*, store: Store, data: dict, shopper: dict) -> Customer | None:
    """The customer named by customer_id, else the live customer with the same email, else phone."""
    customer_ref = data.get("customer_id")
    if customer_ref:
        customer = customer_find(store=store, ref=customer_ref, with_addresses=False)
        if customer is None:
            raise unknown_customer_id()
        return customer
    condition = Q()
    if shopper["email_key"]:
        condition |= Q(email_key=shopper["email_key"])
    if shopper["phone"]:
        condition |= Q(phone=shopper["phone"])
    if not condition:
        return None
    matches = list(Customer.objects.for_store(store).filter(condition)[:2])
    for customer in matches:
        if shopper["email_key"] and customer.email_key == shopper["email_key"]:
            return customer
    return matches[0] if matches else None


def _owner_locked(*, store: Store, customer: Customer | None, named: bool) -> Customer | None:
    """The owner's row, locked for the rest of the transaction so that a concurrent merge cannot move
    the customer's orders while this one is written: when a merge took the customer away meanwhile,
    its survivor; when it was deleted, no owner (or 400 when the body named it)."""
    while customer is not None:
        state = (
            Customer.objects.select_for_update()
            .filter(store=store, pk=customer.pk)
            .values_list("deleted_at", "merged_into_id")
            .first()
        )
        if state is None or state[0] is None:
            return customer
        if state[1] is None:
            if named:
                raise unknown_customer_id()
            return None
        customer = Customer.objects.filter(store=store, pk=state[1]).first()
    return None


def _unknown_fields(data: dict, allowed: set[str], check: FieldChecker) -> None:
    check.unknown_fields(data, allowed)


ORDER_FIELDS = {"name", "email", "phone", "total_price", "currency", "test", "archived", "created_at", "customer_id"}


def order_create(*, store: Store, data: Any) -> tuple[Order, Customer | None]:
    """Record an order and assign it (POST /api/orders); the owner's figures follow."""
    if not isinstance(data, dict):
        raise invalid_json_input("An order must be a JSON object.")
    check = FieldChecker()
    _unknown_fields(data, ORDER_FIELDS, check)
    shopper = _clean_shopper(data, check, store)
    if "name" not in data or data["name"] in (None, ""):
        check.errors.append(required_field_entry("name"))
        name = None
    else:
        name = check.text(data, "name", 255)
        if name == "":  # only spaces
            check.errors.append(required_field_entry("name"))
    price = data.get("total_price", 0)
    if isinstance(price, bool) or not isinstance(price, (int, float)):
        check.fail("total_price", "'total_price' must be a number.")
        price = None
    else:
        try:
            exact = Decimal(str(price))
            price = exact.quantize(Decimal("0.01"))
        except InvalidOperation:
            check.fail("total_price", "'total_price' must be a finite number.")
            price = None
        # The exact value, not the rounded one: -0.001 rounds to 0.00, but it is a negative price.
        if price is not None and not (Decimal("0") <= exact <= MAX_PRICE):
            check.fail("total_price", f"'total_price' must be between 0 and {MAX_PRICE}.")
    currency = data.get("currency") or store.currency
    if not isinstance(currency, str) or currency.upper() not in CURRENCY_CODES:
        check.fail("currency", "'currency' must be an ISO 4217 code.")
    flags = {}
    for flag in ("test", "archived"):
        flags[flag] = check.boolean(data, flag) if flag in data else False
    created_at = check.timestamp(data, "created_at") if "created_at" in data else None
    check.raise_if_failed()
    assert name is not None  # a missing or invalid name failed the check just above
    customer = _owner(store=store, data=data, shopper=shopper)
    order = Order(
        store=store,
        name=name,
        total_price=price,
        currency=currency.upper(),
        test=bool(flags["test"]),
        archived=bool(flags["archived"]),
        created_at=created_at or timezone.now(),
        **shopper,
    )
    try:
        with transaction.atomic():
            customer = _owner_locked(store=store, customer=customer, named=bool(data.get("customer_id")))
            order.customer = customer
            order.save(force_insert=True)
            if customer is not None:
                refresh_order_figures(store_id=store.pk, customer_ids=[customer.pk])
            event_record(
                store=store, type=event_types.ORDER_CREATE, customer=customer, data=order_data(order, customer)
            )
    except IntegrityError as exc:
        if duplicate_field_of(exc) == "name":
            raise order_duplicate_name(name) from None
        raise
    return order, customer


WISHLIST_FIELDS = {"name", "email", "phone", "items", "customer_id", "created_at"}


def wishlist_create(*, store: Store, data: Any) -> tuple[Wishlist, Customer | None]:
    """Record a wishlist and assign it (POST /api/wishlists)."""
    if not isinstance(data, dict):
        raise invalid_json_input("A wishlist must be a JSON object.")
    check = FieldChecker()
    _unknown_fields(data, WISHLIST_FIELDS, check)
    shopper = _clean_shopper(data, check, store)
    name = check.text(data, "name", 255) if "name" in data else ""
    items = data.get("items", [])
    if (
        not isinstance(items, list)
        or len(items) > MAX_WISHLIST_ITEMS
        or not all(
            isinstance(item, (str, int))
            and not isinstance(item, bool)
            and 0 < len(str(item).strip())
            and len(str(item)) <= 255
            and not CONTROL_OR_BREAK.search(str(item))
            for item in items
        )
    ):
        check.fail(
            "items",
            f"'items' must be an array of at most {MAX_WISHLIST_ITEMS} product references, "
            "each a non-blank string of at most 255 characters (or an integer).",
        )
    created_at = check.timestamp(data, "created_at") if "created_at" in data else None
    check.raise_if_failed()
    customer = _owner(store=store, data=data, shopper=shopper)
    with transaction.atomic():
        customer = _owner_locked(store=store, customer=customer, named=bool(data.get("customer_id")))
        wishlist = Wishlist.objects.create(
            store=store,
            customer=customer,
            name=name or "",
            items=[str(item) for item in items],
            created_at=created_at or timezone.now(),
            **shopper,
        )
        event_record(
            store=store, type=event_types.WISHLIST_CREATE, customer=customer, data=wishlist_data(wishlist, customer)
        )
    return wishlist, customer
