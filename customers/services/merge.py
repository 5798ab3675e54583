"""Merging two customers of a store: `from` into `into` (POST /api/customers/merge, the admin).

The rules (the contract's "Merging customers"):

- The survivor (`into`) keeps its own values; a field it lacks takes `from`'s. `keep` names, per
  field, whose value wins when both have one (`"email": "from"`); for `note` it picks one note
  instead of joining both; for `default_address` whose default address becomes the survivor's.
- `from`'s orders and wishlists move to the survivor (its order figures follow); `from`'s addresses
  move too, except those equal to one the survivor has; tags are joined; metadata is merged key by
  key, the survivor's values winning unless `keep` says `from`; notes are joined with a line break.
- The account: the customer with a password brings it and its state; both having one is refused
  unless `keep.account` names the one that survives.
- `from` is then deleted with `merged_into` set (its id, email and phone are free), its tokens
  revoked. One `customers/merge` event, of the survivor.

`merge_plan` computes the result without writing (the admin's preview shows it); `customer_merge`
locks both rows in a fixed order (by seq, in one statement, so that two merges of an overlapping
pair wait for each other instead of deadlocking), plans again on the locked rows, and writes. A
merge that breaks a limit (250 tags, a note's length, 100 addresses or metadata keys) is refused
before anything changes.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.services.tokens import customer_tokens_revoke
from customers.errors import customer_not_found, merge_into_itself
from customers.metadata import MAX_METADATA_KEYS, METADATA_FIELDS
from customers.models import AccountInvite, Address, Customer, Order, Wishlist
from customers.selectors import customer_get, remember_addresses
from customers.services.customers import raise_duplicate
from customers.services.orders import refresh_order_figures
from customers.validation import (
    ADDRESS_TEXT_FIELDS,
    MAX_ADDRESSES,
    MAX_NOTE_LENGTH,
    MAX_TAGS,
    join_tags,
    normalize_tags,
)
from events import types as event_types
from events.recording import customer_data, event_record
from tenants.models import Store
from twc.api.errors import invalid_field, invalid_json_input, invalid_operation, required_field

INTO, FROM = "into", "from"
# The fields `keep` may name, with the customer's columns each one carries along.
KEEP_COLUMNS: dict[str, tuple[str, ...]] = {
    "email": ("email", "email_key", "verified_email"),
    "phone": ("phone",),
    "first_name": ("first_name",),
    "last_name": ("last_name",),
    "note": ("note",),
    "accepts_marketing": ("accepts_marketing", "accepts_marketing_updated_at", "marketing_opt_in_level"),
    "metadata": ("metadata",),
    "private_metadata": ("private_metadata",),
    "default_address": (),
    "account": ("password", "state", "disabled_by_staff"),
}
# Fields whose survivor value is its own unless it lacks one (then `from`'s).
FILLED_FIELDS = ("email", "phone", "first_name", "last_name")
MERGE_BODY_FIELDS = {"into", "from", "keep"}


@dataclass(frozen=True)
class MergeRequest:
    """A merge body, checked: the two customers' references and the `keep` choices."""

    into: str
    from_: str
    keep: dict[str, str]


@dataclass
class MergePlan:
    """What a merge writes: the survivor's changed columns and the rows that move."""

    into: Customer
    from_: Customer
    changes: dict[str, Any]
    moved_address_ids: list[int]
    default_address_id: int | None
    survivor_addresses: list[Address] = field(default_factory=list)
    account_from_from: bool = False


def merge_request_clean(data: Any) -> MergeRequest:
    """The merge body, or `400` naming the field that is wrong."""
    if not isinstance(data, dict):
        raise invalid_json_input('The body must be a JSON object {"into": "<id>", "from": "<id>", "keep": {...}}.')
    unknown = sorted(str(key)[:100] for key in data if key not in MERGE_BODY_FIELDS)
    if unknown:
        raise invalid_field(unknown[0], f"Unknown field '{unknown[0]}': a merge body has into, from and keep.")
    refs = {}
    for name in ("into", "from"):
        value = data.get(name)
        if value is None or value == "":
            raise required_field(name, f"'{name}' must name a customer (its id or twc_customer_id).")
        if not isinstance(value, str) or len(value) > 255:
            raise invalid_field(name, f"'{name}' must be a customer's id (a string of at most 255 characters).")
        refs[name] = value
    keep = data.get("keep")
    keep = {} if keep is None else keep
    if not isinstance(keep, dict):
        raise invalid_field("keep", '\'keep\' must be an object such as {"email": "from"}.')
    for key, choice in keep.items():
        if key not in KEEP_COLUMNS:
            shown = str(key)[:100]
            raise invalid_field(f"keep.{shown}", f"'keep' names one of: {', '.join(KEEP_COLUMNS)}.")
        if choice not in (INTO, FROM):
            raise invalid_field(f"keep.{key}", f'\'keep.{key}\' must be "into" or "from".')
    return MergeRequest(into=refs["into"], from_=refs["from"], keep=dict(keep))


def _address_key(address: Address) -> tuple:
    return tuple(getattr(address, name).strip().casefold() for name in ADDRESS_TEXT_FIELDS)


def _joined_note(into: str, from_: str) -> str:
    if not from_ or from_ == into:
        return into
    if not into:
        return from_
    return f"{into}\n{from_}"


def _default_of(addresses: list[Address]) -> Address | None:
    return next((address for address in addresses if address.is_default), None)


def merge_plan(
    *,
    into: Customer,
    from_: Customer,
    keep: dict[str, str],
    into_addresses: list[Address],
    from_addresses: list[Address],
) -> MergePlan:
    """The merge's result, computed without writing; `409 InvalidOperation` for a merge the rules refuse."""
    if into.pk == from_.pk:
        raise merge_into_itself()
    if into.store_id != from_.store_id:  # pragma: no cover - both are read through the same store
        raise customer_not_found(from_.ref)
    changes: dict[str, Any] = {}

    def take(name: str) -> None:
        for column in KEEP_COLUMNS[name]:
            if getattr(into, column) != getattr(from_, column):
                changes[column] = getattr(from_, column)

    for name in FILLED_FIELDS:
        own, other = getattr(into, name), getattr(from_, name)
        if other and (not own or keep.get(name) == FROM):
            take(name)
    if keep.get("accepts_marketing") == FROM:
        take("accepts_marketing")
    if not into.multipass_identifier and from_.multipass_identifier:
        changes["multipass_identifier"] = from_.multipass_identifier

    note = {INTO: into.note, FROM: from_.note}.get(keep.get("note", ""), None)
    note = _joined_note(into.note, from_.note) if note is None else note
    if len(note) > MAX_NOTE_LENGTH:
        raise invalid_operation(f"The joined notes would be longer than {MAX_NOTE_LENGTH} characters.")
    if note != into.note:
        changes["note"] = note

    tags = normalize_tags(into.tags.split(",") + from_.tags.split(","))
    if len(tags) > MAX_TAGS:
        raise invalid_operation(f"The merged customer would have {len(tags)} tags; a customer can have {MAX_TAGS}.")
    if join_tags(tags) != into.tags:
        changes["tags"] = join_tags(tags)

    for name in METADATA_FIELDS:
        first, second = (from_, into) if keep.get(name) == FROM else (into, from_)
        merged = {**(getattr(second, name) or {}), **(getattr(first, name) or {})}
        if len(merged) > MAX_METADATA_KEYS:
            raise invalid_operation(f"The merged '{name}' would have {len(merged)} keys; at most {MAX_METADATA_KEYS}.")
        if merged != (getattr(into, name) or {}):
            changes[name] = merged

    account = keep.get("account")
    if account is None and into.password and from_.password:
        raise invalid_operation(
            'Both customers have a password: say whose account survives with keep.account "into" or "from".'
        )
    account_from_from = account == FROM or (account is None and bool(from_.password) and not into.password)
    if account_from_from:
        take("account")

    # Addresses: from's move unless the survivor has an equal one; the default is the survivor's
    # unless keep.default_address is "from" (or the survivor has none).
    own_keys = {_address_key(address): address for address in into_addresses}
    moved: list[Address] = []
    equal_of: dict[int, Address] = {}
    for address in from_addresses:
        key = _address_key(address)
        if key in own_keys:
            equal_of[address.pk] = own_keys[key]
        else:
            own_keys[key] = address
            moved.append(address)
    if len(into_addresses) + len(moved) > MAX_ADDRESSES:
        raise invalid_operation(f"The merged customer would have more than {MAX_ADDRESSES} addresses.")
    own_default, from_default = _default_of(into_addresses), _default_of(from_addresses)
    default = own_default
    if from_default is not None and (own_default is None or keep.get("default_address") == FROM):
        default = equal_of.get(from_default.pk, from_default)
    survivor_addresses = [*into_addresses, *moved]
    return MergePlan(
        into=into,
        from_=from_,
        changes=changes,
        moved_address_ids=[address.pk for address in moved],
        default_address_id=default.pk if default is not None else None,
        survivor_addresses=survivor_addresses,
        account_from_from=account_from_from,
    )


def merge_preview(*, store: Store, into: Customer, from_: Customer, keep: dict[str, str]) -> MergePlan:
    """The plan of merging `from_` into `into` as they are now (the admin's preview); writes nothing."""
    return merge_plan(
        into=into,
        from_=from_,
        keep=keep,
        into_addresses=list(Address.objects.filter(customer=into).order_by("id")),
        from_addresses=list(Address.objects.filter(customer=from_).order_by("id")),
    )


def _lock_pair(*, store: Store, into: Customer, from_: Customer) -> tuple[Customer, Customer]:
    """Both rows, locked in seq order by one statement; `404` for one deleted meanwhile."""
    locked = {
        customer.pk: customer
        for customer in Customer.objects.select_for_update()
        .filter(store=store, pk__in=[into.pk, from_.pk])
        .order_by("pk")
    }
    for customer in (into, from_):
        current = locked.get(customer.pk)
        if current is None or current.deleted_at is not None:
            raise customer_not_found(customer.ref)
        current.store = store
    return locked[into.pk], locked[from_.pk]


def _apply(plan: MergePlan, *, store: Store, now: dt.datetime) -> Customer:
    into, from_ = plan.into, plan.from_
    # `from` first: deleting it frees its id, email and phone for the survivor to take.
    Customer.objects.filter(pk=from_.pk).update(
        deleted_at=now, updated_at=now, version=from_.version + 1, merged_into=into
    )
    AccountInvite.objects.filter(customer=from_, used_at__isnull=True, voided_at__isnull=True).update(voided_at=now)
    customer_tokens_revoke(customer=from_)
    if plan.account_from_from and plan.changes.get("password", into.password) != into.password:
        customer_tokens_revoke(customer=into)  # the survivor's password changed: as a reset would

    # One default per customer (a constraint): the old one is unset before the new one is set.
    default_id = plan.default_address_id
    if default_id is not None:
        Address.objects.filter(customer=into, is_default=True).exclude(pk=default_id).update(is_default=False)
    if plan.moved_address_ids:
        Address.objects.filter(pk__in=plan.moved_address_ids).update(customer=into, is_default=False)
    if default_id is not None:
        Address.objects.filter(pk=default_id, is_default=False).update(is_default=True)
    Order.objects.filter(store=store, customer=from_).update(customer=into)
    Wishlist.objects.filter(store=store, customer=from_).update(customer=into)
    refresh_order_figures(store_id=store.pk, customer_ids=[into.pk])

    changes = {**plan.changes, "version": into.version + 1, "updated_at": now}
    try:
        with transaction.atomic():
            Customer.objects.filter(pk=into.pk).update(**changes)
    except IntegrityError as exc:  # pragma: no cover - from's keys were freed in this transaction
        raise_duplicate(exc, into)
    survivor = Customer.objects.get(pk=into.pk)  # with its order figures
    survivor.store = store
    addresses = list(Address.objects.filter(customer=survivor).order_by("id"))
    remember_addresses(survivor, addresses)
    data = customer_data(survivor, addresses)
    data["merged"] = {"id": from_.ref, "twc_customer_id": str(from_.twc_customer_id)}
    event_record(store=store, type=event_types.CUSTOMER_MERGE, customer=survivor, data=data)
    return survivor


def customer_merge(*, store: Store, data: Any) -> Customer:
    """Merge the customer `data["from"]` names into the one `data["into"]` names; the survivor,
    with its addresses, as of the merge."""
    request = merge_request_clean(data)
    into = customer_get(store=store, ref=request.into, with_addresses=False)
    from_ = customer_get(store=store, ref=request.from_, with_addresses=False)
    return customers_merge(store=store, into=into, from_=from_, keep=request.keep)


def customers_merge(*, store: Store, into: Customer, from_: Customer, keep: dict[str, str]) -> Customer:
    """Merge `from_` into `into` (both read through `store`); the survivor. The admin calls this."""
    if into.pk == from_.pk:
        raise merge_into_itself()
    with transaction.atomic():
        into, from_ = _lock_pair(store=store, into=into, from_=from_)
        plan = merge_preview(store=store, into=into, from_=from_, keep=keep)
        return _apply(plan, store=store, now=timezone.now())
