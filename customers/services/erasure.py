"""Erasure and export of one customer's personal data.

Erasure is what privacy law and Shopify's `customers/redact` ask for: a deleted customer's personal
fields are wiped, and the row stays as a tombstone (its `id`, `twc_customer_id`, dates and order
figures) so that orders and logs that refer to it still resolve. Export is the answer to an access
request: everything we hold about one customer, as JSON.
"""

import datetime as dt

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from accounts.models import CustomerAccessToken, PasswordReset
from customers.errors import customer_not_found
from customers.models import AccountInvite, Address, Customer, Order, Wishlist
from customers.representation import customer_to_dict, order_to_dict, wishlist_to_dict
from events import types as event_types
from events.recording import erased_customer_data, event_record, events_redact_customer
from tenants.models import Store
from twc.api.errors import invalid_operation
from twc.api.idempotency_store import stored_replies_forget

EXPORT_FORMAT = "twc-customer-export/1"

# What an erased customer keeps of each personal field.
ERASED_VALUES = {
    "first_name": "",
    "last_name": "",
    "email": None,
    "email_key": None,
    "phone": None,
    "note": "",
    "multipass_identifier": None,
    "tags": "",
    "password": "",
}
ERASED_SHOPPER = {"email": None, "email_key": None, "phone": None}


def customer_erase(*, store: Store, customer: Customer) -> Customer:
    """Wipe a deleted customer's personal data and keep the row as a tombstone (`erased_at` set).

    Wipes names, email, phone, note, multipass id, tags, password, addresses, invites, the email
    and phone of the customer's orders and wishlists, and the stored API replies that hold the
    customer (Idempotency-Key replays, in the database and in Redis). A customer that is not deleted
    is refused (`409 InvalidOperation`); erasing an erased customer changes nothing but those replies.
    """
    if customer.store_id != store.pk:
        raise customer_not_found(customer.ref)
    with transaction.atomic():
        current = Customer.objects.select_for_update().get(pk=customer.pk)
        if current.deleted_at is None:
            raise invalid_operation(
                f"Customer '{current.ref}' is not deleted: only a deleted customer can be erased. Delete it first."
            )
        # First, inside the transaction: if Redis cannot be reached, nothing is erased and the
        # erasure can be run again, rather than leaving the replies behind an erased customer.
        stored_replies_forget(store=store, subjects=[str(current.twc_customer_id)])
        if current.erased_at is not None:
            return current
        now = timezone.now()
        Address.objects.filter(customer=current).delete()
        AccountInvite.objects.filter(customer=current).delete()
        # The account goes with the personal data: its tokens and reset links.
        CustomerAccessToken.objects.filter(customer=current).delete()
        PasswordReset.objects.filter(customer=current).delete()
        Order.objects.filter(customer=current).update(**ERASED_SHOPPER)
        Wishlist.objects.filter(customer=current).update(**ERASED_SHOPPER)
        Customer.objects.filter(pk=current.pk).update(
            **ERASED_VALUES, erased_at=now, updated_at=now, version=F("version") + 1
        )
        current.refresh_from_db()
        # The events kept of the customer are reduced to ids, then the erasure is one more event.
        events_redact_customer(customer=current)
        event_record(
            store=store, type=event_types.CUSTOMER_REDACT, customer=current, data=erased_customer_data(current)
        )
    return current


def customers_due_for_erasure(*, deleted_before: dt.datetime, store: Store | None = None) -> QuerySet[Customer]:
    """Customers deleted before the cutoff and not yet erased (of one store, or of every store)."""
    due = Customer.objects.filter(deleted_at__lt=deleted_before, erased_at__isnull=True)
    if store is not None:
        due = due.filter(store=store)
    return due.select_related("store").order_by("seq")


def customer_export(*, store: Store, customer: Customer) -> dict:
    """Everything we hold about the customer: the customer with its addresses, its orders and
    wishlists, and its invites' metadata (never a token hash). Serialise with twc.api.renderers.dumps."""
    if customer.store_id != store.pk:
        raise customer_not_found(customer.ref)
    record = customer_to_dict(customer, list(Address.objects.filter(customer=customer).order_by("id")))
    record["deleted_at"] = customer.deleted_at.isoformat() if customer.deleted_at else None
    record["erased_at"] = customer.erased_at.isoformat() if customer.erased_at else None
    record["has_password"] = bool(customer.password)
    invites = AccountInvite.objects.filter(customer=customer).order_by("created_at", "id")
    return {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now().isoformat(),
        "store": store.name,
        "customer": record,
        "orders": [
            order_to_dict(order, customer.ref) for order in Order.objects.filter(customer=customer).order_by("id")
        ],
        "wishlists": [
            wishlist_to_dict(wishlist, customer.ref)
            for wishlist in Wishlist.objects.filter(customer=customer).order_by("id")
        ],
        "invites": [
            {
                "created_at": invite.created_at.isoformat(),
                "expires_at": invite.expires_at.isoformat(),
                "used_at": invite.used_at.isoformat() if invite.used_at else None,
                "voided_at": invite.voided_at.isoformat() if invite.voided_at else None,
            }
            for invite in invites
        ],
    }
