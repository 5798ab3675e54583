"""The pages an invite's link opens (set a password -> enabled, or decline -> declined) and a
password reset's link opens (a new password; every customer token revoked).

Thin: the rules are customers.services.lifecycle's. A link that cannot be used (unknown, used,
voided, expired) gets a friendly page with 410 Gone, never an error page.
"""

from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from accounts.services.resets import reset_complete, reset_lookup
from customers.services.lifecycle import (
    InviteLinkStatus,
    InviteLinkUnusable,
    invite_accept,
    invite_decline,
    invite_lookup,
)
from twc.api.errors import ApiError

UNUSABLE_LINK_MESSAGES = {
    InviteLinkStatus.UNKNOWN: (
        "This link is not valid",
        "We could not find this invitation. Check that you opened the whole link from the email.",
    ),
    InviteLinkStatus.USED: (
        "This link was already used",
        "Each invitation link works once, and this one has been used. "
        "If you already chose a password, your account is ready; otherwise ask the shop for a new invitation.",
    ),
    InviteLinkStatus.VOIDED: (
        "This link is no longer valid",
        "A newer invitation replaced this one, or the shop changed your account. "
        "Use the most recent email, or ask the shop for a new invitation.",
    ),
    InviteLinkStatus.EXPIRED: (
        "This link has expired",
        "Invitation links are valid for 30 days. Ask the shop to send you a new invitation.",
    ),
}


RESET_LINK_MESSAGES = {
    **UNUSABLE_LINK_MESSAGES,
    InviteLinkStatus.UNKNOWN: (
        "This link is not valid",
        "We could not find this password reset. Check that you opened the whole link from the email.",
    ),
    InviteLinkStatus.USED: (
        "This link was already used",
        "Each password reset link works once, and this one has been used. Ask for a new one if you need it.",
    ),
    InviteLinkStatus.VOIDED: (
        "This link is no longer valid",
        "A newer password reset link replaced this one, or the shop changed your account. Use the most recent email.",
    ),
    InviteLinkStatus.EXPIRED: (
        "This link has expired",
        "Password reset links are valid for 24 hours. Ask for a new one from the shop's sign-in page.",
    ),
}


def _unusable(request, status: str, messages: dict = UNUSABLE_LINK_MESSAGES):
    title, message = messages[status]
    return render(request, "customers/account/link_unusable.html", {"title": title, "message": message}, status=410)


def _no_referrer(response):
    # The token is in the URL: keep it out of Referer headers sent elsewhere. Not "no-referrer":
    # with it Chromium posts the forms with `Origin: null`, which Django's CSRF check refuses.
    response["Referrer-Policy"] = "same-origin"
    return response


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def activate(request, token: str):
    status, invite = invite_lookup(token)
    if status != InviteLinkStatus.VALID:
        return _no_referrer(_unusable(request, status))
    customer = invite.customer
    context = {"customer": customer, "store": customer.store, "errors": []}
    if request.method == "POST":
        try:
            if request.POST.get("action") == "decline":
                invite_decline(token=token)
                return _no_referrer(render(request, "customers/account/declined.html", context))
            invite_accept(
                token=token,
                password=request.POST.get("password", ""),
                password_confirmation=request.POST.get("password_confirmation", ""),
            )
            return _no_referrer(render(request, "customers/account/activated.html", context))
        except InviteLinkUnusable as exc:
            return _no_referrer(_unusable(request, exc.status))
        except ValidationError as exc:
            context["errors"] = exc.messages
    return _no_referrer(render(request, "customers/account/activate.html", context))


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def reset_password(request, token: str):
    status, reset = reset_lookup(token)
    if status != InviteLinkStatus.VALID:
        return _no_referrer(_unusable(request, status, RESET_LINK_MESSAGES))
    customer = reset.customer
    context = {"customer": customer, "store": customer.store, "errors": []}
    if request.method == "POST":
        try:
            reset_complete(
                token=token,
                password=request.POST.get("password", ""),
                password_confirmation=request.POST.get("password_confirmation", ""),
            )
            return _no_referrer(render(request, "customers/account/reset_done.html", context))
        except InviteLinkUnusable as exc:
            return _no_referrer(_unusable(request, exc.status, RESET_LINK_MESSAGES))
        except ApiError as exc:
            context["errors"] = [entry.message for entry in exc.errors]
    return _no_referrer(render(request, "customers/account/reset.html", context))
