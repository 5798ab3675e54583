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


class HasStoreScope(BasePermission):
    def has_permission(self, request: "Request", view: "APIView") -> bool:
        token = cast("AccessToken | None", request.auth)  # what StoreTokenAuthentication authenticated
        if token is None or getattr(request, "store", None) is None:
            return False  # DRF answers 401 NotAuthenticated
        needed = getattr(view, "required_scope", None) or (
            READ_SCOPE if request.method in SAFE_METHODS else WRITE_SCOPE
        )
        # The token's own scopes, and the application's as they are now: scopes taken away from an
        # application in the admin bind the tokens it was already given. (A store's token has its
        # application: resolve_store found the store through it.)
        if needed not in token.scope.split() or needed not in token.application.store_link.scopes.split():  # type: ignore[union-attr]
            raise insufficient_scope(f"This request needs the '{needed}' scope.", scope=needed)
        return True
