"""The shop staff's admin: customers (with addresses, orders, wishlists) of their own stores.

customer.py is the customer's list and page, forms.py its forms (which write through the API's
services), actions.py the account actions, inlines.py the address inline, filters.py the list's
filters, store_data.py the read-only orders, wishlists and addresses.
"""

from django.contrib import admin

from customers.admin.customer import CustomerAdmin
from customers.admin.store_data import AddressAdmin, OrderAdmin, WishlistAdmin

__all__ = ["AddressAdmin", "CustomerAdmin", "OrderAdmin", "WishlistAdmin"]

admin.site.site_header = "TWC Customers"
admin.site.site_title = "TWC Customers admin"
admin.site.index_title = "Customers of your stores"
admin.site.site_url = None  # the service has no public site to link to
