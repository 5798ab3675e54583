"""Writes of the customers app. Every function takes `store=` explicitly (from the token)."""

from customers.services.customers import (  # noqa: F401
    customer_create,
    customer_soft_delete,
    customer_update,
)
from customers.services.orders import order_create, wishlist_create  # noqa: F401
