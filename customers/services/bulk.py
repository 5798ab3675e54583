"""Create many customers at once (POST /api/upload-customers), each item judged on its own.

Three phases, as Saleor's customerBulkUpdate: clean every item in Python (the same rules as the
single create), find duplicates inside the payload and against the database with one query, then
write the good ones in bulk. A constant number of statements, whatever the number of items.
"""

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from customers.errors import ApiError, FieldError, ValidationFailed, duplicate_field
from customers.models import Address, Customer
from customers.services.customers import new_addresses, new_customer, raise_duplicate
from customers.services.orders import assign_unowned_orders_and_wishlists
from customers.validation import clean_customer
from tenants.models import Store

UNIQUE_FIELDS = (("id", "ref"), ("email", "email_key"), ("phone", "phone"))


def _failure(index: int, errors: list[FieldError]) -> dict:
    return {"index": index, "status": "failed", "errors": [e.as_dict() for e in errors]}


def _created(index: int, customer: Customer) -> dict:
    return {"index": index, "status": "created", "id": customer.ref, "twc_customer_id": str(customer.twc_customer_id)}


def _taken_keys(store: Store, customers: list[Customer]) -> dict[str, set]:
    """Which refs, email keys and phones of these customers a live customer of the store holds."""
    wanted = {attr: {getattr(c, attr) for c in customers if getattr(c, attr)} for _, attr in UNIQUE_FIELDS}
    condition = Q(ref__in=wanted["ref"]) | Q(email_key__in=wanted["email_key"]) | Q(phone__in=wanted["phone"])
    taken: dict[str, set] = {attr: set() for _, attr in UNIQUE_FIELDS}
    for row in Customer.objects.for_store(store).filter(condition).values_list("ref", "email_key", "phone"):
        for (_, attr), value in zip(UNIQUE_FIELDS, row, strict=True):
            if value in wanted[attr]:
                taken[attr].add(value)
    return taken


def _duplicate_entry(customer: Customer, seen: dict[str, set]) -> FieldError | None:
    for field, attr in UNIQUE_FIELDS:
        value = getattr(customer, attr)
        if value and value in seen[attr]:
            shown = customer.email if field == "email" else value
            return duplicate_field(field, shown).errors[0]
    return None


def customers_upload(*, store: Store, items: list[Any]) -> dict:
    """Create each valid, non-duplicate item; report one result per item, in the order sent."""
    if len(items) > settings.UPLOAD_MAX_ITEMS:
        raise ApiError(
            FieldError("PayloadTooLarge", f"An upload takes at most {settings.UPLOAD_MAX_ITEMS} customers."),
            status=413,
        )
    now = timezone.now()
    results: list[dict | None] = [None] * len(items)
    candidates: list[tuple[int, Customer, list[dict]]] = []
    for index, item in enumerate(items):
        try:
            cleaned = clean_customer(item, store=store)
        except ValidationFailed as exc:
            results[index] = _failure(index, exc.errors)
            continue
        customer = new_customer(store=store, cleaned=cleaned, now=now)
        candidates.append((index, customer, cleaned.get("_addresses", [])))

    # First wins: against the database, then against earlier items of this payload.
    seen = _taken_keys(store, [c for _, c, _ in candidates]) if candidates else {}
    accepted: list[tuple[int, Customer, list[dict]]] = []
    for index, customer, addresses in candidates:
        duplicate = _duplicate_entry(customer, seen)
        if duplicate is not None:
            results[index] = _failure(index, [duplicate])
            continue
        for _, attr in UNIQUE_FIELDS:
            if getattr(customer, attr):
                seen[attr].add(getattr(customer, attr))
        accepted.append((index, customer, addresses))

    if accepted:
        try:
            _write(accepted)
        except IntegrityError:
            # A concurrent writer took a key between our check and our insert: write one by one,
            # so that only the items that really collide fail.
            accepted = _write_one_by_one(accepted, results)
    for index, customer, _ in accepted:
        results[index] = _created(index, customer)
    created = sum(1 for r in results if r["status"] == "created")
    return {"created": created, "failed": len(results) - created, "results": results}


def _write(accepted: list[tuple[int, Customer, list[dict]]]) -> None:
    with transaction.atomic():
        customers = Customer.objects.bulk_create([c for _, c, _ in accepted])
        addresses: list[Address] = []
        for customer, (_, _, raw) in zip(customers, accepted, strict=True):
            addresses.extend(new_addresses(customer, raw))
        if addresses:
            Address.objects.bulk_create(addresses)
        assign_unowned_orders_and_wishlists(customers=customers)


def _write_one_by_one(accepted, results) -> list:
    written = []
    for index, customer, raw in accepted:
        customer.pk = None  # a rolled-back bulk insert may have set it
        try:
            with transaction.atomic():
                customer.save(force_insert=True)
                Address.objects.bulk_create(new_addresses(customer, raw))
                assign_unowned_orders_and_wishlists(customers=[customer])
        except IntegrityError as exc:
            try:
                raise_duplicate(exc, customer)
            except ApiError as error:
                results[index] = _failure(index, error.errors)
            continue
        written.append((index, customer, raw))
    return written
