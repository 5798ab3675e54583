"""Erasure of deleted customers (service and retention command) and export of one customer."""

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from customers.models import AccountInvite, Address, Customer, Order, Wishlist
from customers.services import customer_soft_delete
from customers.services.erasure import customer_erase, customer_export
from tests.factories import customer_make, order_make, wishlist_make
from twc.api.errors import ApiError
from twc.api.models import IdempotencyRecord

PERSONAL = {
    "id": "c-1",
    "email": "Erase.Me@Example.com",
    "phone": "+1 613 555 0100",
    "first_name": "Erin",
    "last_name": "Rase",
    "note": "allergic to spam",
    "multipass_identifier": "mp-1",
    "tags": "vip, newsletter",
    "addresses": [{"address1": "1 Main St", "city": "Ottawa", "phone": "613-555-0100", "name": "Erin Rase"}],
}


def customer_with_history(*, store, **overrides) -> Customer:
    """A customer with personal data everywhere: its fields, an address, an order, a wishlist, an
    open invite and a password."""
    fields = PERSONAL | overrides
    customer = customer_make(store=store, **fields)
    order_make(store=store, name=f"#{fields['id']}", email=fields["email"], phone=fields["phone"], total_price=25.5)
    wishlist_make(store=store, customer_id=fields["id"], email=fields["email"], items=["sku-1"])
    now = timezone.now()
    AccountInvite.objects.create(
        customer=customer, token_hash=f"{customer.pk:064d}", created_at=now, expires_at=now + dt.timedelta(days=7)
    )
    Customer.objects.filter(pk=customer.pk).update(password="pbkdf2_sha256$hash")
    customer.refresh_from_db()
    return customer


def deleted_days_ago(customer: Customer, days: int = 0) -> Customer:
    """The customer soft-deleted (as DELETE /api/customers/{id} does), `days` ago."""
    customer_soft_delete(store=customer.store, ref=customer.ref)
    Customer.objects.filter(pk=customer.pk).update(deleted_at=timezone.now() - dt.timedelta(days=days))
    customer.refresh_from_db()
    return customer


def test_erase_wipes_personal_fields_and_keeps_a_tombstone(store_a):
    customer = deleted_days_ago(customer_with_history(store=store_a))
    version = customer.version

    erased = customer_erase(store=store_a, customer=customer)

    assert erased.erased_at is not None
    assert (erased.ref, erased.twc_customer_id, erased.version) == ("c-1", customer.twc_customer_id, version + 1)
    assert [
        erased.first_name,
        erased.last_name,
        erased.email,
        erased.email_key,
        erased.phone,
        erased.note,
        erased.multipass_identifier,
        erased.tags,
        erased.password,
    ] == ["", "", None, None, None, "", None, "", ""]
    assert (erased.orders_count, str(erased.total_spent)) == (1, "25.50")
    assert Address.objects.filter(customer=erased).count() == 0
    assert AccountInvite.objects.filter(customer=erased).count() == 0
    assert list(Order.objects.filter(customer=erased).values_list("name", "email", "email_key", "phone")) == [
        ("#c-1", None, None, None)
    ]
    assert list(Wishlist.objects.filter(customer=erased).values_list("email", "email_key", "phone", "items")) == [
        (None, None, None, ["sku-1"])
    ]


def test_erase_refuses_a_live_customer(store_a):
    customer = customer_with_history(store=store_a)
    with pytest.raises(ApiError) as refused:
        customer_erase(store=store_a, customer=customer)
    assert refused.value.status == 409
    assert refused.value.errors[0].code == "InvalidOperation"
    assert refused.value.message == (
        "Customer 'c-1' is not deleted: only a deleted customer can be erased. Delete it first."
    )
    customer.refresh_from_db()
    assert (customer.email, customer.erased_at) == ("Erase.Me@Example.com", None)


def test_erase_refuses_another_stores_customer(store_a, store_b):
    customer = deleted_days_ago(customer_with_history(store=store_a))
    with pytest.raises(ApiError) as refused:
        customer_erase(store=store_b, customer=customer)
    assert refused.value.status == 404
    customer.refresh_from_db()
    assert customer.erased_at is None


def test_erasing_twice_changes_nothing(store_a):
    customer = deleted_days_ago(customer_with_history(store=store_a))
    first = customer_erase(store=store_a, customer=customer)
    second = customer_erase(store=store_a, customer=first)
    assert (second.erased_at, second.version) == (first.erased_at, first.version)


def test_erase_leaves_a_new_customer_with_the_same_email_alone(api_a, store_a):
    old = deleted_days_ago(customer_with_history(store=store_a))
    customer_make(store=store_a, id="c-1", email=PERSONAL["email"])
    customer_erase(store=store_a, customer=old)
    assert api_a.get("/api/customers/c-1").json()["email"] == PERSONAL["email"]


def run_command(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_retention_command_erases_only_customers_deleted_longer_ago(store_a, store_b):
    old = customer_with_history(store=store_a, id="old", email="old@example.com", phone="+16135550101")
    recent = customer_with_history(store=store_a, id="recent", email="recent@example.com", phone="+16135550102")
    customer_with_history(store=store_a, id="live", email="live@example.com", phone="+16135550103")
    other_store_old = customer_with_history(
        store=store_b, id="other-store-old", email="b@example.com", phone="+12025550104"
    )
    deleted_days_ago(old, days=40)
    deleted_days_ago(recent, days=5)
    deleted_days_ago(other_store_old, days=40)

    dry = run_command("erase_deleted_customers", "--older-than", "30", "--store", "Store A", "--dry-run")
    assert dry.startswith("Dry run: would erase 1 customers deleted before ")
    assert Customer.objects.filter(erased_at__isnull=False).count() == 0

    summary = run_command("erase_deleted_customers", "--older-than", "30", "--store", "Store A")
    assert summary.startswith("Erased 1 customers deleted before ")
    assert summary.splitlines()[0].endswith("(30 days ago) of store 'Store A'.")
    erased = dict(Customer.objects.values_list("ref", "erased_at"))
    assert [ref for ref, when in sorted(erased.items()) if when] == ["old"]

    everywhere = run_command("erase_deleted_customers", "--older-than", "30")
    assert everywhere.startswith("Erased 1 customers")
    assert "Deleted 0 expired stored API responses." in everywhere
    assert Customer.objects.get(ref="other-store-old").email is None
    assert Customer.objects.get(ref="recent").email == "recent@example.com"
    assert Customer.objects.get(ref="live").email == "live@example.com"


def test_retention_command_rejects_unknown_store_and_negative_days(db):
    with pytest.raises(CommandError, match="no store named 'Nope'"):
        run_command("erase_deleted_customers", "--older-than", "30", "--store", "Nope")
    with pytest.raises(CommandError, match="0 or more days"):
        run_command("erase_deleted_customers", "--older-than", "-1")


def test_export_holds_everything_about_the_customer_and_no_token_hash(api_a, store_a):
    customer = customer_with_history(store=store_a)
    export = customer_export(store=store_a, customer=customer)
    assert export["format"] == "twc-customer-export/1"
    assert export["store"] == "Store A"
    record = export["customer"]
    assert record | {"updated_at": None} == api_a.get("/api/customers/c-1").json() | {
        "updated_at": None,
        "deleted_at": None,
        "erased_at": None,
        "has_password": True,
    }
    assert [order["name"] for order in export["orders"]] == ["#c-1"]
    assert export["orders"][0]["email"] == "Erase.Me@Example.com"
    assert [wishlist["items"] for wishlist in export["wishlists"]] == [["sku-1"]]
    assert len(export["invites"]) == 1
    assert set(export["invites"][0]) == {"created_at", "expires_at", "used_at", "voided_at"}
    assert f"{customer.pk:064d}" not in json.dumps(export, default=str)
    assert "pbkdf2" not in json.dumps(export, default=str)


def test_export_command_prints_json_for_live_deleted_and_erased_customers(store_a):
    customer = customer_with_history(store=store_a)
    live = json.loads(run_command("export_customer", "--store", "Store A", "c-1"))
    assert live["customer"]["email"] == "Erase.Me@Example.com"
    assert live["orders"][0]["total_price"] == 25.5
    deleted = deleted_days_ago(customer)
    by_twc_id = json.loads(run_command("export_customer", "--store", "Store A", str(customer.twc_customer_id)))
    assert by_twc_id["customer"]["deleted_at"] == deleted.deleted_at.isoformat()
    customer_erase(store=store_a, customer=deleted)
    erased = json.loads(run_command("export_customer", "--store", "Store A", "c-1"))
    assert erased["customer"]["email"] is None and erased["customer"]["erased_at"] is not None
    assert erased["customer"]["addresses"] == [] and erased["invites"] == []
    with pytest.raises(CommandError, match="has no customer 'nobody'"):
        run_command("export_customer", "--store", "Store A", "nobody")
    with pytest.raises(CommandError, match="no store named 'Store Z'"):
        run_command("export_customer", "--store", "Store Z", "c-1")


def test_retention_command_deletes_expired_stored_responses(api_a, api_b, store_a, store_b, settings):
    settings.IDEMPOTENCY_TTL_SECONDS = 3600
    for client, key in ((api_a, "a-old"), (api_a, "a-new"), (api_b, "b-old")):
        body = {"id": key, "email": f"{key}@example.com"}
        assert client.post("/api/customers", body, HTTP_IDEMPOTENCY_KEY=key).status_code == 201
    IdempotencyRecord.objects.filter(key__in=["a-old", "b-old"]).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    summary = run_command("erase_deleted_customers", "--older-than", "30", "--store", "Store A")
    assert "Deleted 1 expired stored API responses of store 'Store A'." in summary
    assert sorted(IdempotencyRecord.objects.values_list("key", flat=True)) == ["a-new", "b-old"]
