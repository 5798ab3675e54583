"""Scope checks for store tokens: GET needs customers:read, writes need customers:write."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from twc.api.errors import insufficient_scope

READ_SCOPE = "customers:read"
WRITE_SCOPE = "customers:write"


def needed_scope(method: str) -> str:
    return READ_SCOPE if method in SAFE_METHODS else WRITE_SCOPE


def token_grants(token, scope: str) -> bool:
    """The token's own scopes, and the application's as they are now: scopes taken away from an
    application in the admin bind the tokens it was already given."""
    return scope in token.scope.split() and scope in token.application.store_link.scopes.split()


class HasStoreScope(BasePermission):
    def has_permission(self, request, view):
        token = request.auth
        if token is None or getattr(request, "store", None) is None:
            return False  # DRF answers 401 NotAuthenticated
        needed = needed_scope(request.method)
        if not token_grants(token, needed):
            raise insufficient_scope(f"This request needs the '{needed}' scope.")
        return True
