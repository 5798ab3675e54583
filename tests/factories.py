"""Test data, made through the same write paths as the API: every row is valid and normalised as a
client's request would have stored it.

Plain keyword functions rather than factory_boy. The services (`store_create`, `customer_create`,
`order_create`, `wishlist_create`) already own the defaults, the normalisation and the uniqueness
rules; a factory_boy factory would either call them anyway, adding a dependency for nothing, or
write model rows directly and skip the very rules the tests rely on. So each entity has one
`<entity>_make` function, keyword-only like the services:

    customer = customer_make(store=store_a, id="c-1", email="ann@example.com")
    order_make(store=store_a, email="ann@example.com", total_price=10)

Fields are the contract's (`id`, `customer_id`, timestamps as ISO 8601 text), as a client sends
them. Whatever a test does not name is made up, unique within the test run.
"""

import itertools

from django.contrib.auth import get_user_model

from customers.models import Customer, Order, Wishlist
from customers.services import customer_create, order_create, wishlist_create
from tenants.models import Store, StoreStaff
from tenants.services import StoreCredentials, store_create

STAFF_PASSWORD = "staff-password"

_numbers = itertools.count(1)


def store_credentials_make(**fields) -> StoreCredentials:
    """A store of its own tenant (unless `tenant_name` names one) and an OAuth application with both
    scopes; the client secret is returned in clear, as `create_store` shows it once."""
    number = next(_numbers)
    fields.setdefault("name", f"Store {number}")
    fields.setdefault("tenant_name", f"Tenant {number}")
    return store_create(**fields)


def store_make(**fields) -> Store:
    """A store (`store_credentials_make` without the credentials)."""
    return store_credentials_make(**fields).store


def customer_make(*, store: Store, **fields) -> Customer:
    """A customer of `store` created by `customer_create`, as POST /api/customers would.

    Without an email or a phone (the contract needs one), it gets an email of its own.
    """
    if "email" not in fields and "phone" not in fields:
        fields["email"] = f"customer-{next(_numbers)}@example.com"
    customer, _ = customer_create(store=store, data=fields)
    return customer


def order_make(*, store: Store, **fields) -> Order:
    """An order of `store` recorded by `order_create`, as POST /api/orders would: assigned to the
    customer its `customer_id`, email or phone names, whose figures follow."""
    fields.setdefault("name", f"#{next(_numbers)}")
    order, _ = order_create(store=store, data=fields)
    return order


def wishlist_make(*, store: Store, **fields) -> Wishlist:
    """A wishlist of `store` recorded by `wishlist_create`, as POST /api/wishlists would."""
    wishlist, _ = wishlist_create(store=store, data=fields)
    return wishlist


def staff_make(*, store: Store, username: str | None = None, password: str = STAFF_PASSWORD, **fields):
    """A staff user (admin access, not a superuser) who is a member of `store`'s staff."""
    username = username or f"staff-{next(_numbers)}"
    fields.setdefault("email", f"{username}@example.com")
    user = get_user_model().objects.create_user(username, password=password, is_staff=True, **fields)
    StoreStaff.objects.create(store=store, user=user)
    return user


def user_make(username: str, *, superuser: bool = False, password: str = "pw"):
    """An admin user of no store: a superuser when asked, else a staff user with no store."""
    model = get_user_model()
    if superuser:
        return model.objects.create_superuser(username, f"{username}@example.com", password)
    return model.objects.create_user(username, password=password, is_staff=True)
