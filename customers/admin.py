"""The shop staff's admin: customers (with addresses, orders, wishlists) of their own stores.

Scoping is tenants.admin_mixins.StoreScopedAdminMixin's. Account actions and restores go through
customers.services.lifecycle, the same service as the API and the activation page; every change is
written to the admin's history (LogEntry), under the customer's name, which holds no email or phone.
"""

import uuid
from collections import defaultdict

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Q
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from customers.admin_forms import AddressForm, AddressFormSet, CustomerAdminForm, DeletedFilter, TagFilter
from customers.models import Address, Customer, Order, Wishlist
from customers.services.customers import customer_soft_delete
from customers.services.erasure import customer_erase
from customers.services.lifecycle import customer_disable, customer_enable, customer_invite, customer_restore
from customers.services.orders import assign_unowned_orders_and_wishlists
from customers.validation import normalize_phone
from tenants.admin_mixins import StoreListFilter, StoreScopedAdminMixin, staff_store_ids, staff_stores
from twc.admin_pagination import EstimatedCountPaginator
from twc.api.errors import ApiError

admin.site.site_header = "TWC Customers"
admin.site.site_title = "TWC Customers admin"
admin.site.index_title = "Customers of your stores"
admin.site.site_url = None  # the service has no public site to link to

# An action on more customers than this is refused: select fewer (or use the API's bulk paths).
ACTION_LIMIT = 1000
SHOWN_IN_SUMMARY = 10


def _invite(*, store, customer):
    return customer_invite(store=store, customer=customer, send_email=True).customer


# name -> (service, button label, past tense for messages, history message)
ACCOUNT_ACTIONS = {
    "enable": (customer_enable, "Enable account", "Enabled", "Enabled the account."),
    "disable": (customer_disable, "Disable account", "Disabled", "Disabled the account."),
    "invite": (_invite, "Send account invite", "Sent an invite to", "Sent an account invite."),
    "restore": (customer_restore, "Restore customer", "Restored", "Restored the deleted customer."),
    "erase": (
        customer_erase,
        "Erase personal data",
        "Erased the personal data of",
        "Erased the personal data; the row is kept as a tombstone.",
    ),
}


class ScopedInlineMixin:
    """Inlines are shown to the staff of the parent's store, without Django model permissions."""

    def _allowed(self, request, obj=None) -> bool:
        ids = staff_store_ids(request.user)
        if ids is None:
            return True
        return request.user.is_staff and bool(ids) and (obj is None or obj.store_id in ids)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_add_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, obj)


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


def _table(rows, headers) -> str:
    if not rows:
        return "-"
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows)
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


@admin.register(Customer)
class CustomerAdmin(StoreScopedAdminMixin, admin.ModelAdmin):
    form = CustomerAdminForm
    change_form_template = "admin/customers/customer/change_form.html"
    inlines = [AddressInline]

    def lookup_allowed(self, lookup, value, request=None):
        # The admin takes a URL filter on any field: ?password__startswith=... would let staff read
        # a password hash a character at a time (Django's UserAdmin refuses it the same way).
        return not lookup.startswith("password") and super().lookup_allowed(lookup, value, request)

    list_display = (
        "ref",
        "name",
        "email",
        "phone",
        "state",
        "orders_count",
        "total_spent",
        "updated_at",
        "store",
    )
    list_display_links = ("ref", "name")
    list_filter = (StoreListFilter, "state", "accepts_marketing", "tax_exempt", TagFilter, DeletedFilter)
    list_select_related = ("store",)
    search_fields = ("ref", "email", "phone", "first_name", "last_name")
    search_help_text = "An exact id, email or phone (any format), or the start of a first or last name."
    ordering = ("-updated_at",)
    # Only the columns with a per-store index: sorting a million rows by another is seconds.
    sortable_by = ("ref", "updated_at")
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # facet counts are a COUNT per filter choice per page view
    paginator = EstimatedCountPaginator
    actions = [
        "enable_accounts",
        "disable_accounts",
        "send_account_invites",
        "restore_customers",
        "delete_customers",
        "erase_customers",
    ]

    readonly_fields = (
        "twc_customer_id",
        "admin_graphql_api_id",
        "account_password",
        "invites_summary",
        "orders_count",
        "total_spent",
        "last_order_link",
        "last_order_name",
        "default_address_summary",
        "orders_summary",
        "wishlists_summary",
        "version",
        "created_at",
        "updated_at",
        "deleted_at",
        "erased_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "store",
                    "ref",
                    "twc_customer_id",
                    "admin_graphql_api_id",
                    "state",
                    "account_password",
                    "invites_summary",
                )
            },
        ),
        ("Contact", {"fields": (("first_name", "last_name"), "email", "verified_email", "phone", "note")}),
        (
            "Marketing",
            {
                "fields": (
                    "accepts_marketing",
                    "accepts_marketing_updated_at",
                    "marketing_opt_in_level",
                    "multipass_identifier",
                )
            },
        ),
        ("Tax and tags", {"fields": ("currency", "tax_exempt", "tax_exemptions", "tags")}),
        (
            "Orders and wishlists",
            {
                "fields": (
                    ("orders_count", "total_spent"),
                    ("last_order_link", "last_order_name"),
                    "default_address_summary",
                    "orders_summary",
                    "wishlists_summary",
                )
            },
        ),
        ("Record", {"fields": ("version", "created_at", "updated_at", "deleted_at", "erased_at", "loaded_version")}),
    )

    # --- list ---------------------------------------------------------------------------------
    def get_list_display(self, request):
        ids = staff_store_ids(request.user)
        if ids is not None and len(ids) == 1:
            return tuple(column for column in self.list_display if column != "store")
        return self.list_display

    @admin.display(description="name", ordering="last_name")
    def name(self, obj):
        return f"{obj.first_name} {obj.last_name}".strip() or "-"

    def get_changelist(self, request, **kwargs):
        return _changelist_sorting_only_by(super().get_changelist(request, **kwargs))

    def get_ordering(self, request):
        # Newest changes first, through the (store, updated_at) index. Across every store (a
        # superuser without a store filter) there is no such index: newest created first, by key.
        if staff_store_ids(request.user) is None and not request.GET.get("store"):
            return ("-seq",)
        return self.ordering

    def get_search_results(self, request, queryset, search_term):
        """Indexed exact matches (email, phone, id, twc_customer_id), else the start of a name.

        An email is matched whole (any case) and a phone in any dialable format: prefix matches on
        them would scan the table. Only a name search reads the store's rows.
        """
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == "autocomplete":
            queryset = queryset.filter(deleted_at__isnull=True)  # never offer a deleted customer
        term = search_term.strip()
        if not term:
            return queryset, False
        if "@" in term:
            return queryset.filter(email_key=term.casefold()), False
        condition = Q(ref=term)
        try:
            condition |= Q(twc_customer_id=uuid.UUID(term))
        except ValueError:
            pass
        if sum(ch.isdigit() for ch in term) >= 6 and not any(ch.isalpha() for ch in term):
            phones = set()
            for country in {store.country for store in staff_stores(request.user)[:20]} or {"US"}:
                try:
                    phones.add(normalize_phone(term, country))
                except ValueError:
                    continue
            return queryset.filter(condition | Q(phone__in=phones)), False
        words = term.split()
        if len(words) == 1:
            condition |= Q(first_name__istartswith=term) | Q(last_name__istartswith=term)
        else:
            condition |= Q(first_name__istartswith=words[0], last_name__istartswith=" ".join(words[1:]))
            condition |= Q(last_name__istartswith=term)
        return queryset.filter(condition), False

    # --- change page --------------------------------------------------------------------------
    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ["store", "state"]  # the state changes through the account actions only
        return fields

    @admin.display(description="password")
    def account_password(self, obj):
        return "set" if obj and obj.password else "not set"

    @admin.display(description="account invites")
    def invites_summary(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        now = timezone.now()
        rows = []
        for invite in obj.invites.order_by("-created_at", "-id")[:5]:
            if invite.used_at:
                status = f"used {invite.used_at:%Y-%m-%d %H:%M}"
            elif invite.voided_at:
                status = "replaced or cancelled"
            elif invite.expires_at <= now:
                status = "expired"
            else:
                status = "open"
            rows.append((f"{invite.created_at:%Y-%m-%d %H:%M}", f"{invite.expires_at:%Y-%m-%d}", status))
        return _table(rows, ("sent (UTC)", "expires", "link"))

    @admin.display(description="last order")
    def last_order_link(self, obj):
        if obj is None or obj.last_order_id is None:
            return "-"
        url = reverse("admin:customers_order_change", args=[obj.last_order_id])
        return format_html('<a href="{}">{}</a>', url, obj.last_order_id)

    @admin.display(description="default address")
    def default_address_summary(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        address = obj.addresses.filter(is_default=True).first()
        if address is None:
            return "-"
        parts = [address.address1, address.city, address.province_code or address.province, address.country_code]
        return ", ".join(part for part in parts if part) or f"Address {address.pk}"

    @admin.display(description="latest orders")
    def orders_summary(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        orders = obj.orders.order_by("-created_at", "-id")[:SHOWN_IN_SUMMARY]
        rows = [
            (
                format_html('<a href="{}">{}</a>', reverse("admin:customers_order_change", args=[o.pk]), o.name),
                f"{o.total_price} {o.currency}",
                "test" if o.test else ("archived" if o.archived else ""),
                o.created_at.strftime("%Y-%m-%d %H:%M"),
            )
            for o in orders
        ]
        link = format_html(
            '<p><a href="{}?customer={}">All orders of this customer</a></p>',
            reverse("admin:customers_order_changelist"),
            obj.pk,
        )
        return format_html("{}{}", _table(rows, ("order", "total", "", "created")), link if rows else "")

    @admin.display(description="wishlists")
    def wishlists_summary(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        wishlists = obj.wishlists.order_by("-created_at", "-id")[:SHOWN_IN_SUMMARY]
        rows = [
            (
                format_html(
                    '<a href="{}">{}</a>',
                    reverse("admin:customers_wishlist_change", args=[w.pk]),
                    w.name or f"Wishlist {w.pk}",
                ),
                len(w.items),
                w.created_at.strftime("%Y-%m-%d %H:%M"),
            )
            for w in wishlists
        ]
        return _table(rows, ("wishlist", "items", "created"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        customer = self.get_object(request, unquote(object_id))
        if customer is not None and self.has_change_permission(request, customer):
            extra_context["account_actions"] = [
                {"name": name, "label": ACCOUNT_ACTIONS[name][1]} for name in self._available_actions(customer)
            ]
        return super().change_view(request, object_id, form_url, extra_context)

    @staticmethod
    def _available_actions(customer) -> list[str]:
        if customer.erased_at is not None:
            return []
        if customer.deleted_at is not None:
            return ["restore", "erase"]
        names = []
        if customer.state != "enabled":
            names += ["enable", "invite"]
        if customer.state != "disabled":
            names.append("disable")
        return names

    # --- saving: the API's rules and a version bump -------------------------------------------
    def save_model(self, request, obj, form, change):
        now = timezone.now()
        if not change:
            obj.created_at = obj.updated_at = now
            obj.version = 1
            obj.ref = obj.ref or str(obj.twc_customer_id)
            obj.currency = obj.currency or obj.store.currency
            with transaction.atomic():
                obj.save(force_insert=True)
                assign_unowned_orders_and_wishlists(customers=[obj])
            return
        obj.save()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change and (form.has_changed() or any(formset.has_changed() for formset in formsets)):
            now = timezone.now()
            Customer.objects.filter(pk=form.instance.pk).update(version=F("version") + 1, updated_at=now)
            form.instance.refresh_from_db(fields=["version", "updated_at"])

    # --- account actions: buttons on the change page ------------------------------------------
    def get_urls(self):
        return [
            path(
                "<path:object_id>/account/<str:action>/",
                self.admin_site.admin_view(self.account_action_view),
                name=f"{self.opts.app_label}_{self.opts.model_name}_account_action",
            ),
        ] + super().get_urls()

    def account_action_view(self, request, object_id, action):
        return require_POST(self._account_action)(request, object_id, action)

    def _account_action(self, request, object_id, action):
        customer = self.get_object(request, unquote(object_id))
        if customer is None or action not in ACCOUNT_ACTIONS:
            raise Http404("No such customer or action.")
        if not self.has_change_permission(request, customer):
            raise PermissionDenied
        service, _, done, history = ACCOUNT_ACTIONS[action]
        try:
            service(store=customer.store, customer=customer)
        except ApiError as exc:
            self.message_user(request, f"{customer}: {exc.message}", messages.ERROR)
        else:
            self.log_change(request, customer, history)
            self.message_user(request, f"{done} {customer}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:customers_customer_change", args=[customer.pk]))

    # --- account actions: on the selected customers of the list -------------------------------
    def _run_on_selected(self, request, queryset, action: str):
        service, _, done, history = ACCOUNT_ACTIONS[action]
        customers = list(queryset.select_related("store")[: ACTION_LIMIT + 1])
        if len(customers) > ACTION_LIMIT:
            self.message_user(
                request, f"Select at most {ACTION_LIMIT} customers for one action; nothing was changed.", messages.ERROR
            )
            return
        changed = 0
        refused: dict[str, list[str]] = defaultdict(list)
        for customer in customers:
            try:
                service(store=customer.store, customer=customer)
            except ApiError as exc:
                refused[exc.message].append(customer.ref)
            else:
                changed += 1
                self.log_change(request, customer, history)
        noun = "customer" if changed == 1 else "customers"
        self.message_user(request, f"{done} {changed} {noun}.", messages.SUCCESS if changed else messages.WARNING)
        for reason, refs in refused.items():
            shown = ", ".join(refs[:SHOWN_IN_SUMMARY]) + (", ..." if len(refs) > SHOWN_IN_SUMMARY else "")
            self.message_user(request, f"{len(refs)} not changed: {reason} ({shown})", messages.WARNING)

    @admin.action(description="Enable accounts", permissions=["change"])
    def enable_accounts(self, request, queryset):
        self._run_on_selected(request, queryset, "enable")

    @admin.action(description="Disable accounts", permissions=["change"])
    def disable_accounts(self, request, queryset):
        self._run_on_selected(request, queryset, "disable")

    @admin.action(description="Send account invite", permissions=["change"])
    def send_account_invites(self, request, queryset):
        self._run_on_selected(request, queryset, "invite")

    @admin.action(description="Restore (deleted customers)", permissions=["change"])
    def restore_customers(self, request, queryset):
        self._run_on_selected(request, queryset, "restore")

    @admin.action(description="Erase personal data (deleted customers)", permissions=["change"])
    def erase_customers(self, request, queryset):
        self._run_on_selected(request, queryset, "erase")

    @admin.action(description="Delete customers (kept, restorable)", permissions=["change"])
    def delete_customers(self, request, queryset):
        customers = list(queryset.select_related("store")[: ACTION_LIMIT + 1])
        if len(customers) > ACTION_LIMIT:
            self.message_user(request, f"Select at most {ACTION_LIMIT} customers; nothing was changed.", messages.ERROR)
            return
        deleted = 0
        for customer in customers:
            if customer.deleted_at is not None:
                continue
            try:
                customer_soft_delete(store=customer.store, ref=customer.ref)
            except ApiError:
                continue
            deleted += 1
            self.log_change(request, customer, "Deleted the customer (kept, restorable).")
        skipped = len(customers) - deleted
        message = f"Deleted {deleted} customers." + (f" {skipped} were already deleted." if skipped else "")
        self.message_user(request, message, messages.SUCCESS)


class ReadOnlyStoreDataAdmin(StoreScopedAdminMixin, admin.ModelAdmin):
    """Orders, wishlists and addresses as the store's systems reported them: viewed here, not edited."""

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
        return queryset.filter(customer_id=customer) if customer and customer.isdigit() else queryset

    def get_changelist(self, request, **kwargs):
        return _changelist_ignoring("customer", super().get_changelist(request, **kwargs))


@admin.register(Wishlist)
class WishlistAdmin(ReadOnlyStoreDataAdmin):
    list_display = ("__str__", "name", "customer", "email", "phone", "created_at")
    list_filter = (StoreListFilter,)
    list_select_related = ("customer",)
    search_fields = ("=email_key", "=phone", "=customer__ref")
    autocomplete_fields = ("customer",)


@admin.register(Address)
class AddressAdmin(ReadOnlyStoreDataAdmin):
    """Addresses are edited on their customer's page (the one-default rule is kept there)."""

    store_path = "customer__store"
    list_display = ("__str__", "customer", "name", "address1", "city", "country_code", "is_default")
    list_filter = ("is_default",)
    list_select_related = ("customer",)
    search_fields = ("=customer__ref", "zip")


def _changelist_ignoring(param: str, changelist_class):
    """A ChangeList that leaves `param` to get_queryset instead of reading it as a field lookup."""

    class ChangeList(changelist_class):
        def get_filters_params(self, params=None):
            lookup_params = super().get_filters_params(params)
            lookup_params.pop(param, None)
            return lookup_params

    return ChangeList


def _changelist_sorting_only_by(changelist_class):
    """A ChangeList that ignores `?o=` on columns outside sortable_by (Django only hides their links)."""

    class ChangeList(changelist_class):
        def get_ordering_field(self, field_name):
            if field_name not in self.sortable_by:
                return None
            return super().get_ordering_field(field_name)

    return ChangeList
