"""Scope checks for store tokens: GET needs customers:read, writes need customers:write; a view may
name its own scope (`required_scope`, such as the sign-in endpoints' customers:sign_in)."""

from typing import TYPE_CHECKING, cast

from rest_framework.permissions import SAFE_METHODS, BasePermission

from twc.api.errors import insufficient_scope

if TYPE_CHECKING:  # DRF loads this module while rest_framework.views is still being imported
    from oauth2_provider.models import AccessToken
    from rest_framework.request import Request
    from rest_framework.views import APIView

READ_SCOPE = "customers:read"
WRITE_SCOPE = "customers:write"
SIGN_IN_SCOPE = "customers:sign_in"


def needed_scope(method: str | None) -> str:
    # Django's request.method is typed Optional; a request without one is not read-only.
    return READ_SCOPE if method in SAFE_METHODS else WRITE_SCOPE


def token_grants(token: "AccessToken", scope: str) -> bool:
    """The token's own scopes, and the application's as they are now: scopes taken away from an
    application in the admin bind the tokens it was already given."""
    application = token.application
    if application is None:  # a store token always has one (tenants.authentication refuses it otherwise)
        return False
    return scope in token.scope.split() and scope in application.store_link.scopes.split()


class HasStoreScope(BasePermission):
    def has_permission(self, request: "Request", view: "APIView") -> bool:
        token = cast("AccessToken | None", request.auth)  # what StoreTokenAuthentication authenticated
        if token is None or getattr(request, "store", None) is None:
            return False  # DRF answers 401 NotAuthenticated
        needed = getattr(view, "required_scope", None) or needed_scope(request.method)
        if not token_grants(token, needed):
            raise insufficient_scope(f"This request needs the '{needed}' scope.", scope=needed)
        return True
