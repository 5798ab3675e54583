"""Account actions on customers: buttons on the change page and actions on the list's selection.

Each goes through the service the API and the activation page use (customers.services.lifecycle,
erasure, customers.customer_soft_delete) and is written to the admin's history.
"""

from collections import defaultdict

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from accounts.services.resets import customer_password_reset
from accounts.services.tokens import customer_tokens_revoke
from customers.services.customers import customer_soft_delete
from customers.services.erasure import customer_erase
from customers.services.lifecycle import customer_disable, customer_enable, customer_invite, customer_restore
from twc.api.errors import ApiError

# An action on more customers than this is refused: select fewer (or use the API's bulk paths).
ACTION_LIMIT = 1000
REFS_SHOWN_IN_A_MESSAGE = 10


def _invite(*, store, customer):
    return customer_invite(store=store, customer=customer, send_email=True).customer


def _revoke_sessions(*, store, customer):
    customer_tokens_revoke(customer=customer)
    return customer


def _password_reset(*, store, customer):
    return customer_password_reset(store=store, customer=customer, send_email=True).customer


# name -> (service, button label, past tense for messages, history message)
ACCOUNT_ACTIONS = {
    "enable": (customer_enable, "Enable account", "Enabled", "Enabled the account."),
    "disable": (customer_disable, "Disable account", "Disabled", "Disabled the account."),
    "invite": (_invite, "Send account invite", "Sent an invite to", "Sent an account invite."),
    "revoke_sessions": (_revoke_sessions, "Revoke sessions", "Revoked the sessions of", "Revoked the sessions."),
    "password_reset": (
        _password_reset,
        "Send password reset",
        "Sent a password reset to",
        "Sent a password reset link.",
    ),
    "restore": (customer_restore, "Restore customer", "Restored", "Restored the deleted customer."),
    "erase": (
        customer_erase,
        "Erase personal data",
        "Erased the personal data of",
        "Erased the personal data; the row is kept as a tombstone.",
    ),
}


def available_actions(customer) -> list[str]:
    """The account actions that apply to `customer` now, by name."""
    if customer.erased_at is not None:
        return []
    if customer.deleted_at is not None:
        return ["restore", "erase"]
    names = []
    if customer.state != "enabled":
        names += ["enable", "invite"]
    if customer.state != "disabled":
        names.append("disable")
    if customer.state == "enabled":
        names += ["password_reset", "revoke_sessions"]
    return names


class AccountActionsMixin:
    """The CustomerAdmin's account buttons (a URL of their own) and list actions."""

    actions = [
        "enable_accounts",
        "disable_accounts",
        "send_account_invites",
        "restore_customers",
        "delete_customers",
        "erase_customers",
        "merge_customers",
    ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        customer = self.get_object(request, unquote(object_id))
        if customer is not None and self.has_change_permission(request, customer):
            # The buttons of change_form.html.
            extra_context["account_actions"] = [
                {"name": name, "label": ACCOUNT_ACTIONS[name][1]} for name in available_actions(customer)
            ]
        return super().change_view(request, object_id, form_url, extra_context)

    # --- buttons on the change page -----------------------------------------------------------
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

    # --- on the selected customers of the list ------------------------------------------------
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
            shown = ", ".join(refs[:REFS_SHOWN_IN_A_MESSAGE]) + (", ..." if len(refs) > REFS_SHOWN_IN_A_MESSAGE else "")
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
        # Erasing cannot be undone: a page listing the customers asks first, as Django's "delete
        # selected" does, and posts the selection back with post=yes.
        if request.POST.get("post") == "yes":
            self._run_on_selected(request, queryset, "erase")
            return None
        customers = list(queryset.select_related("store").order_by("store__name", "ref")[: ACTION_LIMIT + 1])
        if len(customers) > ACTION_LIMIT:
            self.message_user(
                request, f"Select at most {ACTION_LIMIT} customers for one action; nothing was changed.", messages.ERROR
            )
            return None
        due = [c for c in customers if c.deleted_at is not None and c.erased_at is None]
        context = {
            **self.admin_site.each_context(request),
            "title": "Erase personal data",
            "subtitle": None,
            "opts": self.opts,
            "media": self.media,
            "customers": customers,
            "due": due,
            "not_due": len(customers) - len(due),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/customers/customer/erase_selected_confirmation.html", context)

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
