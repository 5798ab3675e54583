"""The customers of the staff's stores: list, search, change page; writes through the services.

The add and change forms write through `customer_create` / `customer_update` (customers.admin.forms),
as the API does; a refused save shows the page again with the refusal on its fields. Scoping is
tenants.admin_mixins.StoreScopedAdminMixin's; every change is written to the admin's history
(LogEntry) under the customer's name, which holds no email or phone.
"""

import uuid

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts.services.tokens import customer_active_sessions
from customers.admin.actions import AccountActionsMixin
from customers.admin.filters import DeletedFilter, TagFilter, changelist_sorting_only_by
from customers.admin.forms import (
    AddressFormSet,
    CustomerAdminForm,
    WriteRefused,
    refusal_of,
    refusal_shown_on,
    show_refusal_on,
    with_refusal,
)
from customers.admin.inlines import AddressInline, address_line
from customers.admin.merge import MergeActionMixin
from customers.emails import email_key
from customers.fields import WRITABLE_MODEL_FIELDS
from customers.models import Customer
from customers.phones import normalize_phone
from events.admin import customer_events_summary
from tenants.admin_mixins import StoreListFilter, StoreScopedAdminMixin, staff_store_ids, staff_stores
from twc.admin_pagination import EstimatedCountPaginator
from twc.api.errors import ApiError

ROWS_SHOWN_ON_THE_PAGE = 10


def _table(rows, headers) -> str:
    if not rows:
        return "-"
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows)
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


@admin.register(Customer)
class CustomerAdmin(MergeActionMixin, AccountActionsMixin, StoreScopedAdminMixin, admin.ModelAdmin):
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
    # Only the columns with a per-store index: sorting by another reads every row of the store.
    sortable_by = ("ref", "updated_at")
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # facet counts are a COUNT per filter choice per page view
    paginator = EstimatedCountPaginator

    readonly_fields = (
        "twc_customer_id",
        "admin_graphql_api_id",
        "account_password",
        "active_sessions",
        "invites_summary",
        "orders_count",
        "total_spent",
        "last_order_link",
        "last_order_name",
        "default_address_summary",
        "orders_summary",
        "wishlists_summary",
        "events_summary",
        "version",
        "created_at",
        "updated_at",
        "deleted_at",
        "erased_at",
        "merged_into_link",
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
                    ("account_password", "active_sessions"),
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
        ("Metadata", {"fields": ("metadata", "private_metadata")}),
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
        (
            "Record",
            {
                "fields": (
                    "version",
                    "created_at",
                    "updated_at",
                    "deleted_at",
                    "merged_into_link",
                    "erased_at",
                    "loaded_version",
                )
            },
        ),
        ("Events", {"fields": ("events_summary",)}),
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
        return changelist_sorting_only_by(super().get_changelist(request, **kwargs))

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
            return queryset.filter(email_key=email_key(term)), False
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
        if obj is not None and obj.deleted_at is not None:
            # The services write live customers only: a deleted one is restored before it is edited.
            fields += [name for name in WRITABLE_MODEL_FIELDS if name not in fields]
        return fields

    @admin.display(description="password")
    def account_password(self, obj):
        return "set" if obj and obj.password else "not set"

    @admin.display(description="active sessions")
    def active_sessions(self, obj):
        # Live customer access tokens (sign-ins not signed out, revoked or expired).
        return customer_active_sessions(customer=obj) if obj and obj.pk else 0

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
        return address_line(obj.addresses.filter(is_default=True).first())

    @admin.display(description="latest orders")
    def orders_summary(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        orders = obj.orders.order_by("-created_at", "-id")[:ROWS_SHOWN_ON_THE_PAGE]
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
        wishlists = obj.wishlists.order_by("-created_at", "-id")[:ROWS_SHOWN_ON_THE_PAGE]
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

    @admin.display(description="latest events")
    def events_summary(self, obj):
        return "-" if obj is None or obj.pk is None else customer_events_summary(obj)

    # --- saving: through the services ---------------------------------------------------------
    def get_form(self, request, obj=None, change=False, **kwargs):
        return with_refusal(super().get_form(request, obj, change, **kwargs), refusal_shown_on(request))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except WriteRefused as refused:
            # The service refused the save, and the view's transaction is rolled back: the same
            # POST is shown again, its forms adding the refusal as errors on the fields it names.
            show_refusal_on(request, refused.refusal)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        """Nothing here: save_related writes the customer with its addresses, in one service call."""

    def save_related(self, request, form, formsets, change):
        addresses = next((formset for formset in formsets if isinstance(formset, AddressFormSet)), None)
        try:
            form.write(addresses=addresses)
        except ApiError as exc:
            raise WriteRefused(refusal_of(exc)) from exc
