"""Admin fixtures: a superuser, staff of store A, staff of store B, and customers in both stores."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from customers.models import Address, Customer
from customers.services import customer_create, order_create, wishlist_create
from tenants.models import StoreStaff


def make_user(username, *, superuser=False, stores=()):
    user_model = get_user_model()
    if superuser:
        user = user_model.objects.create_superuser(username, f"{username}@example.com", "pw")
    else:
        user = user_model.objects.create_user(username, f"{username}@example.com", "pw", is_staff=True)
    for store in stores:
        StoreStaff.objects.create(store=store, user=user)
    return user


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def superuser(db):
    return make_user("root", superuser=True)


@pytest.fixture
def staff_a(store_a):
    return make_user("staff-a", stores=[store_a])


@pytest.fixture
def admin_super(superuser):
    return logged_in(superuser)


@pytest.fixture
def admin_a(staff_a, store_b):
    """Store A's staff; store B exists beside it in every test."""
    return logged_in(staff_a)


def customer(store, ref, **fields):
    fields.setdefault("email", f"{ref}@example.com")
    created, _ = customer_create(store=store, data={"id": ref, **fields})
    return created


@pytest.fixture
def shop(store_a, store_b):
    """Two customers per store, with an address, an order and a wishlist each; one deleted in each."""
    made = {}
    for store, prefix in ((store_a, "a"), (store_b, "b")):
        first = customer(
            store,
            f"{prefix}-1",
            email=f"{prefix}1@example.com",
            first_name=f"{prefix.upper()}ann",
            tags="vip, newsletter",
            addresses=[{"city": f"{prefix}-city", "default": True}],
        )
        second = customer(store, f"{prefix}-2", email=f"{prefix}2@example.com", state="enabled")
        gone = customer(store, f"{prefix}-gone", email=f"{prefix}gone@example.com")
        Customer.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
        order, _ = order_create(store=store, data={"name": f"#{prefix}1001", "email": first.email, "total_price": 10})
        wishlist, _ = wishlist_create(store=store, data={"name": f"{prefix}-wish", "email": first.email})
        made[prefix] = {
            "first": Customer.objects.get(pk=first.pk),
            "second": second,
            "gone": gone,
            "order": order,
            "wishlist": wishlist,
            "address": Address.objects.get(customer=first),
        }
    return made
