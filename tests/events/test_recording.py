"""The outbox: every change of a customer records exactly one event, in the same transaction, from
every path (API, upload, import, lifecycle, erasure, orders and wishlists); a change rolled back or
a write that changes nothing records none."""

import pytest
from django.db import transaction

from customers.models import Customer
from customers.services import customer_create, customer_soft_delete, customer_update
from customers.services.bulk import customers_bulk_write
from customers.services.erasure import customer_erase
from customers.services.lifecycle import (
    customer_disable,
    customer_enable,
    customer_invite,
    customer_restore,
    invite_accept,
    invite_decline,
)
from events.models import Event
from tests.factories import customer_make, order_make, wishlist_make


def events_of(store) -> list[Event]:
    return list(Event.objects.filter(store=store).order_by("seq"))


def kinds(store) -> list[str]:
    return [event.type for event in events_of(store)]


def token_of(invite) -> str:
    return invite.url.rstrip("/").rsplit("/", 1)[1]


def test_api_create_records_the_customer_as_answered(api_a, store_a, store_b):
    response = api_a.post("/api/customers", {"id": "c-1", "email": "ann@shop.example", "addresses": [{"city": "X"}]})
    assert response.status_code == 201
    [event] = events_of(store_a)
    assert event.type == "customers/create"
    assert event.data == {"customer": response.json()}
    assert event.customer_key == Customer.objects.get().twc_customer_id
    assert event.occurred_at.isoformat() == response.json()["updated_at"]
    assert events_of(store_b) == []


def test_update_records_one_update_with_the_new_version(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    response = api_a.put("/api/customers", {"id": "c-1", "note": "n"})
    assert kinds(store_a) == ["customers/create", "customers/update"]
    update = events_of(store_a)[-1]
    assert update.data["customer"] == response.json()
    assert update.data["customer"]["version"] == 2


def test_a_write_that_changes_nothing_records_nothing_and_keeps_the_version(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com", note="same")
    response = api_a.put("/api/customers", {"id": "c-1", "note": "same"})
    assert response.json()["version"] == 1
    assert kinds(store_a) == ["customers/create"]


def test_a_refused_write_records_nothing(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    customer_make(store=store_a, id="c-2", email="b@x.com")
    assert api_a.put("/api/customers", {"id": "c-2", "email": "A@x.com"}).status_code == 409
    assert api_a.post("/api/customers", {"id": "c-3", "email": "a@X.com"}).status_code == 409
    assert kinds(store_a) == ["customers/create", "customers/create"]


def test_a_change_rolled_back_takes_its_event_with_it(store_a):
    with pytest.raises(RuntimeError), transaction.atomic():
        customer_create(store=store_a, data={"id": "c-1", "email": "a@x.com"})
        raise RuntimeError("the caller's transaction fails")
    assert Event.objects.count() == 0


def test_delete_records_the_reduced_shape(store_a):
    customer = customer_make(store=store_a, id="c-1", email="a@x.com")
    deleted = customer_soft_delete(store=store_a, ref="c-1")
    event = events_of(store_a)[-1]
    assert event.type == "customers/delete"
    assert event.data == {
        "customer": {
            "id": "c-1",
            "twc_customer_id": str(customer.twc_customer_id),
            "deleted_at": deleted.deleted_at.isoformat(),
        }
    }


def test_upload_records_one_event_per_customer_created_or_updated(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    items = [
        {"id": "c-1", "note": "updated"},
        {"id": "c-2", "email": "b@x.com", "addresses": [{"city": "Ottawa"}]},
        {"id": "c-3", "email": "not an email"},
        {"id": "c-4", "email": "A@x.com"},  # c-1's email: refused
    ]
    body = api_a.post("/api/upload-customers?on_conflict=update", items).json()
    assert (body["created"], body["updated"], body["failed"]) == (1, 1, 2)
    created, update = events_of(store_a)[1:]
    assert (created.type, update.type) == ("customers/create", "customers/update")
    assert created.data["customer"] == api_a.get("/api/customers/c-2").json()
    assert update.data["customer"] == api_a.get("/api/customers/c-1").json()
    assert Event.objects.count() == 3


def test_upload_update_without_addresses_shows_the_kept_addresses(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com", addresses=[{"city": "Ottawa"}])
    api_a.post("/api/upload-customers?on_conflict=update", [{"id": "c-1", "note": "n"}])
    assert events_of(store_a)[-1].data["customer"] == api_a.get("/api/customers/c-1").json()


def test_bulk_create_taking_over_orders_shows_the_figures(api_a, store_a):
    order_make(store=store_a, email="a@x.com", total_price=12.5)
    customers_bulk_write(store=store_a, items=[{"id": "c-1", "email": "a@x.com"}, {"id": "c-2", "email": "b@x.com"}])
    created = [e.data["customer"] for e in events_of(store_a) if e.type == "customers/create"]
    assert [(c["id"], c["orders_count"], c["total_spent"]) for c in created] == [("c-1", 1, 12.5), ("c-2", 0, 0)]


def test_dry_run_records_nothing(store_a):
    customers_bulk_write(store=store_a, items=[{"email": "a@x.com"}], dry_run=True)
    assert Event.objects.count() == 0


def test_state_changes_are_their_own_types(store_a):
    customer = customer_make(store=store_a, id="c-1", email="a@x.com")
    invite = customer_invite(store=store_a, customer=customer, send_email=False)
    invite_decline(token=token_of(invite))
    invite = customer_invite(store=store_a, customer=customer, send_email=False)
    invite_accept(token=token_of(invite), password="correct-horse-battery-9")
    customer_disable(store=store_a, customer=customer)
    customer_enable(store=store_a, customer=customer)
    assert kinds(store_a) == [
        "customers/create",
        "customers/invite",
        "customers/decline",
        "customers/invite",
        "customers/enable",
        "customers/disable",
        "customers/enable",
    ]
    versions = [e.data["customer"]["version"] for e in events_of(store_a)]
    assert versions == [1, 2, 3, 4, 5, 6, 7]
    assert [e.data["customer"]["state"] for e in events_of(store_a)][-1] == "enabled"


def test_restore_and_erasure(store_a):
    customer = customer_make(store=store_a, id="c-1", email="a@x.com", first_name="Erin")
    order_make(store=store_a, customer_id="c-1", email="a@x.com", total_price=1)
    customer_soft_delete(store=store_a, ref="c-1")
    customer_restore(store=store_a, customer=customer)
    customer_soft_delete(store=store_a, ref="c-1")
    erased = customer_erase(store=store_a, customer=Customer.objects.get(pk=customer.pk))
    assert kinds(store_a) == [
        "customers/create",
        "orders/create",
        "customers/delete",
        "customers/restore",
        "customers/delete",
        "customers/redact",
    ]
    ids = {"id": "c-1", "twc_customer_id": str(customer.twc_customer_id)}
    events = events_of(store_a)
    assert events[-1].data == {"customer": {**ids, "erased_at": erased.erased_at.isoformat()}}
    # The kept events say no more than ids.
    assert [e.data for e in events[:-1]] == [
        {"customer": ids},
        {"order": {"id": events[1].data["order"]["id"]}},
        {"customer": ids},
        {"customer": ids},
        {"customer": ids},
    ]


def test_orders_and_wishlists(store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    order_make(store=store_a, name="#1", email="a@x.com", total_price=10)
    order_make(store=store_a, name="#2", email="nobody@x.com", total_price=10)
    wishlist_make(store=store_a, email="a@x.com", items=["sku-1"])
    order, unowned, wishlist = events_of(store_a)[1:]
    assert (order.type, order.data["order"]["name"], order.data["order"]["customer_id"]) == (
        "orders/create",
        "#1",
        "c-1",
    )
    assert order.customer_key == Customer.objects.get().twc_customer_id
    assert (unowned.customer_key, unowned.data["order"]["customer_id"]) == (None, None)
    assert (wishlist.type, wishlist.data["wishlist"]["items"]) == ("wishlists/create", ["sku-1"])


def test_update_lost_to_a_version_check_records_nothing(store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    with pytest.raises(Exception):  # noqa: B017 - 409 ConcurrentModification
        customer_update(store=store_a, data={"id": "c-1", "note": "n", "version": 7})
    assert kinds(store_a) == ["customers/create"]
