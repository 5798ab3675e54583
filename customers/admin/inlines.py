"""The customer page's address inline: edited with the customer, written by the customer's service."""

from django.contrib import admin

from customers.admin.forms import AddressForm, AddressFormSet, refusal_shown_on, with_refusal
from customers.models import Address
from tenants.admin_mixins import staff_store_ids


class ScopedInlineMixin:
    """Inlines are shown to the staff of the parent's store, without Django model permissions.

    A deleted customer's are shown only: the services write live customers (restore it first).
    """

    def _allowed(self, request, obj=None) -> bool:
        ids = staff_store_ids(request.user)
        if ids is None:
            return True
        return request.user.is_staff and bool(ids) and (obj is None or obj.store_id in ids)

    def _editable(self, request, obj=None) -> bool:
        return self._allowed(request, obj) and (obj is None or obj.deleted_at is None)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_add_permission(self, request, obj=None):
        return self._editable(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(request, obj)


class AddressInline(ScopedInlineMixin, admin.StackedInline):
    model = Address
    form = AddressForm
    formset = AddressFormSet
    extra = 0
    fields = (
        ("first_name", "last_name"),
        ("company", "name"),
        "address1",
        "address2",
        ("city", "province", "province_code"),
        ("country", "country_code", "zip"),
        "phone",
        "is_default",
    )

    def get_formset(self, request, obj=None, **kwargs):
        return with_refusal(super().get_formset(request, obj, **kwargs), refusal_shown_on(request))


def address_line(address: Address | None) -> str:
    """One line naming an address on the admin's pages: street, city, province, country."""
    if address is None:
        return "-"
    parts = [address.address1, address.city, address.province_code or address.province, address.country_code]
    return ", ".join(part for part in parts if part) or f"Address {address.pk}"
