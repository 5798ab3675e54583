"""Orders, wishlists and addresses as the store's systems reported them: viewed here, not edited."""

from django.contrib import admin

from customers.admin.filters import changelist_ignoring
from customers.models import Address, Order, Wishlist
from tenants.admin_mixins import StoreListFilter, StoreScopedAdminMixin
from twc.admin_pagination import EstimatedCountPaginator
from twc.text import is_row_number


class ReadOnlyStoreDataAdmin(StoreScopedAdminMixin, admin.ModelAdmin):
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator
    ordering = ("-id",)  # newest first, by key: the one order every store's rows share an index for
    sortable_by = ()

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyStoreDataAdmin):
    list_display = ("name", "customer", "email", "phone", "total_price", "currency", "test", "archived", "created_at")
    list_filter = (StoreListFilter, "test", "archived")
    list_select_related = ("customer",)
    search_fields = ("=name", "=email_key", "=phone", "=customer__ref")
    autocomplete_fields = ("customer",)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        customer = request.GET.get("customer")
        return queryset.filter(customer_id=customer) if customer and is_row_number(customer) else queryset

    def get_changelist(self, request, **kwargs):
        return changelist_ignoring("customer", super().get_changelist(request, **kwargs))


@admin.register(Wishlist)
class WishlistAdmin(ReadOnlyStoreDataAdmin):
    list_display = ("__str__", "name", "customer", "email", "phone", "created_at")
    list_filter = (StoreListFilter,)
    list_select_related = ("customer",)
    search_fields = ("=email_key", "=phone", "=customer__ref")
    autocomplete_fields = ("customer",)


@admin.register(Address)
class AddressAdmin(ReadOnlyStoreDataAdmin):
    """Addresses are edited on their customer's page (written with the customer, by its service)."""

    store_path = "customer__store"
    list_display = ("__str__", "customer", "name", "address1", "city", "country_code", "is_default")
    list_filter = ("is_default",)
    list_select_related = ("customer",)
    search_fields = ("=customer__ref", "zip")
