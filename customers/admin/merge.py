"""Merging two customers in the admin: select two on the list, see the result, confirm.

The list action shows a page with the two customers side by side, a choice of the survivor and of
whose value wins per field (`keep`), and the result as `customers.services.merge.merge_preview`
computes it; "Update preview" shows it again with the new choices, "Merge" writes it through
`customers_merge`, the API's service, which locks both rows and plans again before it writes.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from customers.admin.inlines import address_line
from customers.models import Address, Customer
from customers.services.merge import FROM, INTO, KEEP_COLUMNS, MergePlan, customers_merge, merge_preview
from twc.api.errors import ApiError

# The rows of the preview: (label, the customer's attribute).
PREVIEW_FIELDS = [
    ("email", "email"),
    ("phone", "phone"),
    ("first name", "first_name"),
    ("last name", "last_name"),
    ("note", "note"),
    ("accepts marketing", "accepts_marketing"),
    ("tags", "tags"),
    ("metadata", "metadata"),
    ("private metadata", "private_metadata"),
    ("account state", "state"),
    ("password", "password"),
]
# The `keep` choices the page offers, with their labels.
KEEP_CHOICES = [
    ("email", "email"),
    ("phone", "phone"),
    ("first_name", "first name"),
    ("last_name", "last name"),
    ("note", "note (instead of both joined)"),
    ("default_address", "default address"),
    ("accepts_marketing", "marketing consent"),
    ("metadata", "metadata"),
    ("private_metadata", "private metadata"),
    ("account", "account (password and state)"),
]


def _shown(attribute: str, value) -> str:
    if attribute == "password":
        return "set" if value else "not set"
    if value in (None, "", {}, []):
        return "-"
    return str(value)


def preview_rows(plan: MergePlan) -> list[tuple[str, str, str, str]]:
    """(label, survivor's value, merged customer's value, result) for each field of the preview."""
    rows = []
    for label, attribute in PREVIEW_FIELDS:
        result = plan.changes.get(attribute, getattr(plan.into, attribute))
        rows.append(
            (
                label,
                _shown(attribute, getattr(plan.into, attribute)),
                _shown(attribute, getattr(plan.from_, attribute)),
                _shown(attribute, result),
            )
        )
    addresses = {address.pk: address for address in plan.survivor_addresses}
    into_default = next((a for a in plan.survivor_addresses if a.is_default and a.customer_id == plan.into.pk), None)
    from_default = Address.objects.filter(customer=plan.from_, is_default=True).first()
    rows.append(
        (
            "default address",
            address_line(into_default),
            address_line(from_default),
            address_line(addresses.get(plan.default_address_id) if plan.default_address_id else None),
        )
    )
    rows.append(
        (
            "addresses",
            str(plan.into.addresses.count()),
            str(plan.from_.addresses.count()),
            f"{len(plan.survivor_addresses)} ({len(plan.moved_address_ids)} moved, the others equal to one kept)",
        )
    )
    into_orders, from_orders = plan.into.orders.count(), plan.from_.orders.count()
    rows.append(("orders", str(into_orders), str(from_orders), str(into_orders + from_orders)))
    into_lists, from_lists = plan.into.wishlists.count(), plan.from_.wishlists.count()
    rows.append(("wishlists", str(into_lists), str(from_lists), str(into_lists + from_lists)))
    return rows


def keep_from_post(post) -> dict[str, str]:
    return {name: post[f"keep_{name}"] for name in KEEP_COLUMNS if post.get(f"keep_{name}") in (INTO, FROM)}


class MergeActionMixin:
    """The CustomerAdmin's "Merge two customers" list action, with its preview page."""

    @admin.action(description="Merge two customers (preview first)", permissions=["change"])
    def merge_customers(self, request, queryset):
        customers = list(queryset.select_related("store").order_by("created_at", "seq")[:3])
        refusal = None
        if len(customers) != 2:
            refusal = "Select exactly two customers to merge."
        elif customers[0].store_id != customers[1].store_id:
            refusal = "Only two customers of the same store can be merged."
        elif any(customer.deleted_at is not None for customer in customers):
            refusal = "A deleted customer cannot be merged; restore it first."
        if refusal:
            self.message_user(request, refusal + " Nothing was changed.", messages.ERROR)
            return None
        by_pk = {str(customer.pk): customer for customer in customers}
        # The older customer survives unless the staff member picks the other.
        into = by_pk.get(request.POST.get("merge_into", ""), customers[0])
        from_ = customers[1] if into is customers[0] else customers[0]
        keep = keep_from_post(request.POST)
        store = into.store

        if request.POST.get("post") == "yes":
            try:
                survivor = customers_merge(store=store, into=into, from_=from_, keep=keep)
            except ApiError as exc:
                self.message_user(request, f"The merge was refused: {exc.message}", messages.ERROR)
            else:
                self.log_change(request, survivor, f"Merged customer {from_.ref} into this customer.")
                self.log_change(request, from_, f"Merged into customer {survivor.ref}; deleted.")
                self.message_user(request, f"Merged {from_} into {survivor}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:customers_customer_change", args=[survivor.pk]))

        plan, refused = None, None
        try:
            plan = merge_preview(store=store, into=into, from_=from_, keep=keep)
        except ApiError as exc:
            refused = exc.message
        context = {
            **self.admin_site.each_context(request),
            "title": "Merge two customers",
            "subtitle": None,
            "opts": self.opts,
            "media": self.media,
            "customers": customers,
            "into": into,
            "from": from_,
            "rows": preview_rows(plan) if plan is not None else [],
            "refused": refused,
            "keep_choices": [(name, label, keep.get(name, "")) for name, label in KEEP_CHOICES],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/customers/customer/merge_preview.html", context)

    @admin.display(description="merged into")
    def merged_into_link(self, obj: Customer | None) -> str:
        if obj is None or obj.merged_into_id is None:
            return "-"
        survivor = Customer.objects.filter(pk=obj.merged_into_id).only("pk", "ref").first()
        if survivor is None:
            return "-"
        url = reverse("admin:customers_customer_change", args=[survivor.pk])
        return format_html('This customer was merged into <a href="{}">{}</a>.', url, survivor.ref)
