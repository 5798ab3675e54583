"""Admin fixtures: a superuser, staff of store A, staff of store B, and customers in both stores."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from customers.models import Address, Customer
from tests.factories import customer_make, order_make, staff_make, wishlist_make


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw")


@pytest.fixture
def staff_a(store_a):
    return staff_make(store=store_a, username="staff-a")


@pytest.fixture
def admin_super(superuser):
    return logged_in(superuser)


@pytest.fixture
def admin_a(staff_a, store_b):
    """Store A's staff; store B exists beside it in every test."""
    return logged_in(staff_a)


@pytest.fixture
def shop(store_a, store_b):
    """Two customers per store, with an address, an order and a wishlist each; one deleted in each."""
    made = {}
    for store, prefix in ((store_a, "a"), (store_b, "b")):
        first = customer_make(
            store=store,
            id=f"{prefix}-1",
            email=f"{prefix}1@example.com",
            first_name=f"{prefix.upper()}ann",
            tags="vip, newsletter",
            addresses=[{"city": f"{prefix}-city", "default": True}],
        )
        second = customer_make(store=store, id=f"{prefix}-2", email=f"{prefix}2@example.com", state="enabled")
        gone = customer_make(store=store, id=f"{prefix}-gone", email=f"{prefix}gone@example.com")
        Customer.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
        order = order_make(store=store, name=f"#{prefix}1001", email=first.email, total_price=10)
        wishlist = wishlist_make(store=store, name=f"{prefix}-wish", email=first.email)
        made[prefix] = {
            "first": Customer.objects.get(pk=first.pk),
            "second": second,
            "gone": gone,
            "order": order,
            "wishlist": wishlist,
            "address": Address.objects.get(customer=first),
        }
    return made
