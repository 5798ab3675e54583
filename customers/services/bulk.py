"""Create or update many customers at once, each item judged on its own.

One implementation for POST /api/upload-customers and the import_customers command. Three phases,
as Saleor's customerBulkUpdate: clean every item in Python (the single create's rules), find
duplicates inside the payload and against the database with one query (bulk_plan), then write in
bulk (bulk_write: COPY on PostgreSQL, one executemany on SQLite). A constant number of statements
per batch, whatever its size.

Inside the batch the first item wins: a later item with the `id`, email or phone of an earlier
one that is created or updated fails with DuplicateField. An item that is not written (refused,
skipped) takes no key: the next one is judged as if it had been sent alone, after it.

`on_conflict` says what happens to an item whose `id`, email or phone belongs to an existing
customer of the store: `error` (DuplicateField), `skip` (left as it is), `update` (applied as a PUT).
"""

from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction

from customers.errors import customer_changing_too_fast
from customers.services.bulk_plan import (
    BatchClaims,
    Plan,
    ValidItem,
    duplicate_error,
    failure_result,
    outcome_result,
    plan_batch,
)
from customers.services.bulk_write import LostRace, is_deadlock, write_plan
from customers.services.integrity import duplicate_field_of
from customers.validation import clean_customer
from tenants.models import Store
from twc.api.errors import (
    MAX_ITEM_ERRORS,
    ErrorCode,
    FieldError,
    ValidationFailed,
    invalid_field,
    payload_too_large,
)

ON_CONFLICT_MODES = ("error", "skip", "update")
# Another writer can take a key between our lookup and our write: re-plan the batch this many
# times, then write item by item so that only the items that really collide fail.
WRITE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class CleanedItems:
    """A batch after the first phase: the valid items, and a failed result for each of the others."""

    valid: list[ValidItem]
    failures: list[dict]


def check_on_conflict(on_conflict: str) -> str:
    if on_conflict not in ON_CONFLICT_MODES:
        raise invalid_field("on_conflict", "'on_conflict' must be one of: error, skip, update.")
    return on_conflict


def customers_upload(*, store: Store, items: list[Any], on_conflict: str = "error") -> dict:
    """POST /api/upload-customers: at most UPLOAD_MAX_ITEMS items, one result per item, in order."""
    check_on_conflict(on_conflict)
    if len(items) > settings.UPLOAD_MAX_ITEMS:
        raise payload_too_large(f"An upload takes at most {settings.UPLOAD_MAX_ITEMS} customers.")
    return customers_bulk_write(store=store, items=items, on_conflict=on_conflict)


def customers_bulk_write(
    *,
    store: Store,
    items: list[Any],
    on_conflict: str = "error",
    dry_run: bool = False,
    cleaned: CleanedItems | None = None,
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
    results: list[dict | None] = [None] * len(items)
    for failure in cleaned.failures:
        results[failure["index"]] = failure
    if cleaned.valid:
        # The update mode must find the customer an item names; a dry run writes nothing to be refused.
        look_up_first = not expect_new or dry_run or on_conflict == "update"
        _plan_and_write(
            store=store,
            items=cleaned.valid,
            on_conflict=on_conflict,
            dry_run=dry_run,
            results=results,
            look_up_first=look_up_first,
        )
    return bulk_report(cast("list[dict]", results))  # every item has its result now


def bulk_report(results: list[dict]) -> dict:
    counts = {"created": 0, "updated": 0, "skipped": 0, "failed": 0}
    for result in results:
        counts[result["status"]] += 1
    return {**counts, "results": results}


def clean_items(*, store: Store, items: list[Any], on_conflict: str) -> CleanedItems:
    """Phase one, no database: the cleaned items, and a failed result for each item that is not valid."""
    valid, failures = [], []
    for index, raw in enumerate(items):
        try:
            valid.append(ValidItem(index, clean_item(raw, store=store, on_conflict=on_conflict)))
        except ValidationFailed as exc:
            failures.append(failure_result(index, exc.errors, exc.errors_omitted))
    return CleanedItems(valid=valid, failures=failures)


def clean_item(item: Any, *, store: Store, on_conflict: str) -> dict:
    """The single create's rules; in update mode the PUT's (partial) rules, as the item may update."""
    if on_conflict != "update":
        return clean_customer(item, store=store, max_errors=MAX_ITEM_ERRORS)
    if isinstance(item, dict) and "id" in item and item["id"] is None:
        item = {key: value for key, value in item.items() if key != "id"}  # null id: "assign one"
    return clean_customer(item, store=store, partial=True, max_errors=MAX_ITEM_ERRORS)


def _plan_and_write(
    *,
    store: Store,
    items: list[ValidItem],
    on_conflict: str,
    dry_run: bool,
    results: list,
    look_up_first: bool = True,
) -> None:
    for attempt in range(WRITE_ATTEMPTS if look_up_first else WRITE_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                plan = plan_batch(
                    store=store, items=items, on_conflict=on_conflict, look_up=look_up_first or attempt > 0
                )
                if not dry_run:
                    write_plan(plan)
        except (IntegrityError, LostRace):
            continue
        except OperationalError as exc:
            if not is_deadlock(exc):
                raise
            continue  # two batches inserting each other's keys: PostgreSQL aborted this one
        _record(plan, results)
        return
    # Still colliding with concurrent writers: item by item, so that only the real collisions fail.
    claims = BatchClaims()  # the batch's first-wins rule, across the items written one by one
    for item in items:
        try:
            with transaction.atomic():
                plan = plan_batch(store=store, items=[item], on_conflict=on_conflict, claims=claims)
                write_plan(plan)
        except IntegrityError as exc:
            claims.release(item.cleaned)  # not written: its keys are not taken
            field_name = duplicate_field_of(exc)
            error = (
                duplicate_error(field_name, item.cleaned)
                if field_name
                else FieldError(ErrorCode.INVALID_OPERATION, "The database refused this customer.")
            )
            results[item.index] = failure_result(item.index, [error])
        except (LostRace, OperationalError) as exc:
            if isinstance(exc, OperationalError) and not is_deadlock(exc):
                raise
            claims.release(item.cleaned)
            error = customer_changing_too_fast().errors[0]
            results[item.index] = failure_result(item.index, [error])
        else:
            _record(plan, results)


def _record(plan: Plan, results: list) -> None:
    for index, result in plan.results.items():
        results[index] = result
    for create in plan.creates:
        results[create.item.index] = outcome_result(create.item.index, "created", create.row)
    for update in plan.updates:
        results[update.item.index] = outcome_result(update.item.index, "updated", update.customer)
