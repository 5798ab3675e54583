"""Reads of the accounts app."""

from django.db.models import QuerySet

from customers.models import Customer, Wishlist
from tenants.models import Store


def customer_wishlists(*, store: Store, customer: Customer) -> QuerySet[Wishlist]:
    return Wishlist.objects.filter(store=store, customer=customer)
