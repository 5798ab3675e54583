"""Failed staff sign-ins at /admin/login/ are throttled, per username and per client address.

Each sign-in takes a token from both buckets (twc.api.ratelimit, shared by every process) before
the password is checked, and gives them back when it succeeds: only failures count. While either
bucket is empty the password is not checked at all (no hash) and the login page answers 429 with
`Retry-After` and the reason in the form's errors. docs/admin-and-accounts.md says it for staff.
"""

import hashlib
from typing import Any, cast

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse

from twc.api.ratelimit import Limit, give_back_each, take_each
from twc.client_address import client_address


def login_limits(username: str, address: str) -> list[Limit]:
    # Usernames are keyed by a digest: bounded, and any case of a name counts as that name.
    user_key = hashlib.sha256(username.casefold().encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return [
        Limit(
            f"admin-login-user:{user_key}",
            settings.ADMIN_LOGIN_USER_FAILURES_PER_MINUTE / 60,
            settings.ADMIN_LOGIN_USER_FAILURES_BURST,
        ),
        Limit(
            f"admin-login-ip:{address[:64]}",
            settings.ADMIN_LOGIN_IP_FAILURES_PER_MINUTE / 60,
            settings.ADMIN_LOGIN_IP_FAILURES_BURST,
        ),
    ]


class ThrottledLoginRequest(HttpRequest):
    """Django's request as the form leaves it when it refuses a sign-in (for the type checker: the
    attribute is set on the request itself, and read back by `admin_login`)."""

    admin_login_retry_after: int


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "throttled": "Too many failed sign-ins for this username or from this address. Try again in %(seconds)s s.",
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not username or not password:
            return super().clean()  # the fields' own errors
        address = client_address(self.request) if self.request is not None else ""
        refusal, taken = take_each(login_limits(username, address))
        if refusal is not None:
            if self.request is not None:
                cast(ThrottledLoginRequest, self.request).admin_login_retry_after = refusal.retry_after
            raise ValidationError(
                self.error_messages["throttled"], code="throttled", params={"seconds": refusal.retry_after}
            )
        cleaned = super().clean()  # a failure raises here and keeps its tokens
        give_back_each(taken)
        return cleaned


def admin_login(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    """The admin's own login view, answered 429 with `Retry-After` while the sign-in is throttled."""
    response = admin.site.login(request, extra_context)
    retry_after = getattr(request, "admin_login_retry_after", None)
    if retry_after is not None:
        response.status_code = 429
        response["Retry-After"] = str(retry_after)
    return response
