"""The bulk write's second phase: each valid item's fate, from one read of the store's customers.

Created, skipped, updated or failed, with the batch's first-wins rule (customers.services.bulk).
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Model
from django.utils import timezone

from customers.errors import customer_duplicate_entry, email_or_phone_required_entry
from customers.fields import UNIQUE_KEYS
from customers.models import Address, Customer
from customers.selectors import customers_holding_keys
from customers.services.customers import new_customer_values, put_changes
from customers.uuids import new_uuid_text
from tenants.models import Store
from twc.api.errors import MAX_ITEM_ERRORS, ApiError, FieldError, duplicate_field_entry

UNIQUE_FIELDS = tuple((key.api_name, key.key_column) for key in UNIQUE_KEYS)


@dataclass(frozen=True, slots=True)
class ValidItem:
    """An item of the batch that passed the cleaning: model values, `ref` only when the item sent an `id`."""

    index: int
    cleaned: dict


@dataclass(frozen=True, slots=True)
class NewCustomer:
    """An item that creates a customer, and that customer's row (every column, by attname)."""

    item: ValidItem
    row: dict


@dataclass(frozen=True, slots=True)
class CustomerUpdate:
    """An item applied as a PUT to an existing customer."""

    item: ValidItem
    customer: Customer  # with the changes applied
    read_version: int  # written only if the customer is still at this version
    new_addresses: list[dict] | None  # they replace `current_addresses`; None: the addresses do not change
    current_addresses: list[Address]


@dataclass(slots=True)
class Plan:
    """What one batch will write, decided from one read of the existing customers."""

    creates: list[NewCustomer] = field(default_factory=list)
    updates: list[CustomerUpdate] = field(default_factory=list)
    results: dict[int, dict] = field(default_factory=dict)  # by index: the items settled without a write


@dataclass(frozen=True, slots=True)
class KeyMatch:
    """An existing customer holding one of an item's keys, and the API field of that key."""

    field_name: str
    customer: Customer


@dataclass(frozen=True, slots=True)
class UpdateTarget:
    """An item of the update mode and the one existing customer it updates."""

    item: ValidItem
    customer: Customer


class NewRows:
    """New rows of a model as plain dicts with Model.__init__'s defaults, computed once per model.

    A Customer instance costs more to build than its validation; the bulk paths write dicts.
    """

    def __init__(self, model: type[Model]):
        self.fixed: dict[str, Any] = {}
        self.computed: dict[str, Any] = {}  # attname: the callable default
        for f in model._meta.concrete_fields:
            if f.has_default() and callable(f.default):
                self.computed[f.attname] = f.default
            else:
                self.fixed[f.attname] = f.get_default()

    def new(self, values: dict) -> dict:
        row = self.fixed.copy()
        for name, make in self.computed.items():
            if name not in values:
                row[name] = make()
        row.update(values)
        return row


CUSTOMER_ROWS = NewRows(Customer)


class BatchClaims:
    """The keys (`ref`, `email_key`, `phone` values) of the batch's items written so far."""

    __slots__ = ("taken",)

    def __init__(self) -> None:
        self.taken: dict[str, set] = {attr: set() for _, attr in UNIQUE_FIELDS}

    def clash(self, cleaned: dict) -> str | None:
        """The API field by which an item collides with an earlier item of the batch that is written."""
        for name, attr in UNIQUE_FIELDS:
            value = cleaned.get(attr)
            if value and value in self.taken[attr]:
                return name
        return None

    def take(self, cleaned: dict) -> None:
        for _, attr in UNIQUE_FIELDS:
            if value := cleaned.get(attr):
                self.taken[attr].add(value)

    def release(self, cleaned: dict) -> None:
        for _, attr in UNIQUE_FIELDS:
            if value := cleaned.get(attr):
                self.taken[attr].discard(value)


def failure_result(index: int, errors: list[FieldError], omitted: int = 0) -> dict:
    """A failed item: at most MAX_ITEM_ERRORS entries, `errorsOmitted` counting the others."""
    result = {"index": index, "status": "failed", "errors": [e.as_dict() for e in errors[:MAX_ITEM_ERRORS]]}
    omitted += max(0, len(errors) - MAX_ITEM_ERRORS)
    if omitted:
        result["errorsOmitted"] = omitted
    return result


def outcome_result(index: int, status: str, customer: Customer | dict) -> dict:
    if isinstance(customer, dict):
        ref, twc_customer_id = customer["ref"], customer["twc_customer_id"]
    else:
        ref, twc_customer_id = customer.ref, customer.twc_customer_id
    return {"index": index, "status": status, "id": ref, "twc_customer_id": str(twc_customer_id)}


def _sent_value(field_name: str, cleaned: dict) -> Any:
    """The value of an API key field as the item sent it (the email as written, not its key)."""
    return cleaned.get("email") if field_name == "email" else cleaned.get(dict(UNIQUE_FIELDS)[field_name])


def duplicate_error(field_name: str, cleaned: dict) -> FieldError:
    return customer_duplicate_entry(field_name, _sent_value(field_name, cleaned))


def plan_batch(
    *,
    store: Store,
    items: list[ValidItem],
    on_conflict: str,
    look_up: bool = True,
    claims: BatchClaims | None = None,
) -> Plan:
    """Decide each item's fate from one read of the customers holding any of the batch's keys
    (without it, `look_up=False`, every item is a create: the database's unique keys will say if not).
    """
    claims = BatchClaims() if claims is None else claims
    now = timezone.now()
    existing: list[Customer] = []
    if look_up:
        wanted = {attr: [i.cleaned[attr] for i in items if i.cleaned.get(attr)] for _, attr in UNIQUE_FIELDS}
        existing = customers_holding_keys(
            store=store, refs=wanted["ref"], email_keys=wanted["email_key"], phones=wanted["phone"]
        )
    holders = {attr: {getattr(c, attr): c for c in existing if getattr(c, attr)} for _, attr in UNIQUE_FIELDS}
    plan = Plan()
    to_update: list[UpdateTarget] = []
    targeted: set[int] = set()
    for item in items:
        clash = claims.clash(item.cleaned)
        if clash is not None:
            plan.results[item.index] = failure_result(item.index, [duplicate_error(clash, item.cleaned)])
            continue
        matches = (
            [
                KeyMatch(name, holders[attr][item.cleaned[attr]])
                for name, attr in UNIQUE_FIELDS
                if item.cleaned.get(attr) and item.cleaned[attr] in holders[attr]
            ]
            if existing
            else []
        )
        if not matches:
            if not item.cleaned.get("email") and not item.cleaned.get("phone"):
                # Only the update mode gets here (partial rules): a create needs an email or a phone.
                plan.results[item.index] = failure_result(item.index, [email_or_phone_required_entry()])
            else:
                values = new_customer_values(
                    store=store, cleaned=item.cleaned, now=now, twc_customer_id=new_uuid_text()
                )
                values["store_id"] = store.pk
                plan.creates.append(NewCustomer(item, CUSTOMER_ROWS.new(values)))
                claims.take(item.cleaned)
            continue
        if on_conflict == "error":
            plan.results[item.index] = failure_result(
                item.index, [duplicate_error(matches[0].field_name, item.cleaned)]
            )
        elif on_conflict == "skip":
            plan.results[item.index] = outcome_result(item.index, "skipped", matches[0].customer)
        else:
            target = _update_target(item, matches)
            if isinstance(target, Customer) and target.pk in targeted:
                # An earlier item of the batch updates it.
                target = duplicate_error(matches[0].field_name, item.cleaned)
            if isinstance(target, FieldError):
                plan.results[item.index] = failure_result(item.index, [target])
                continue
            targeted.add(target.pk)
            to_update.append(UpdateTarget(item, target))
            claims.take(item.cleaned)
    if to_update:
        _plan_updates(plan, to_update, now)
    return plan


def _update_target(item: ValidItem, matches: list[KeyMatch]) -> Customer | FieldError:
    """The one customer an item updates (the one with its `id`, else with its email or phone), or why none."""
    if "ref" in item.cleaned:
        target = next((m.customer for m in matches if m.field_name == "id"), None)
        if target is None:
            # A new id whose email or phone belongs to another customer: a duplicate, as on create.
            return duplicate_error(matches[0].field_name, item.cleaned)
    else:
        target = matches[0].customer
    first_name = next(m.field_name for m in matches if m.customer.pk == target.pk)
    for match in matches:
        if match.customer.pk != target.pk:
            message = (
                f"This item matches customer '{target.ref}' by {first_name} and customer "
                f"'{match.customer.ref}' by {match.field_name}: it cannot update both."
            )
            value = _sent_value(match.field_name, item.cleaned)
            return duplicate_field_entry(match.field_name, value, message)
    return target


def _plan_updates(plan: Plan, to_update: list[UpdateTarget], now: datetime) -> None:
    # Every updated customer's addresses: an item compares those it sends, and each update's event
    # shows the customer with its addresses.
    updated_pks = [u.customer.pk for u in to_update]
    current: dict[int, list[Address]] = {pk: [] for pk in updated_pks}
    if updated_pks:
        for address in Address.objects.filter(customer_id__in=updated_pks).order_by("id"):
            current[address.customer_id].append(address)
    for update in to_update:
        item, target = update.item, update.customer
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
            plan.results[item.index] = failure_result(item.index, exc.errors, exc.errors_omitted)
            continue
        if not changes and not addresses_changed:
            plan.results[item.index] = outcome_result(item.index, "updated", target)  # as a PUT: applied, no change
            continue
        read_version = target.version
        changes["version"] = read_version + 1
        changes["updated_at"] = now
        for name, value in changes.items():
            setattr(target, name, value)
        plan.updates.append(
            CustomerUpdate(
                item=item,
                customer=target,
                read_version=read_version,
                new_addresses=addresses if addresses_changed else None,
                current_addresses=current_addresses,
            )
        )
