"""Customer access tokens for /api/me: their own authentication class and permission.

Store tokens (tenants.authentication) and customer tokens never open each other's endpoints: the
/api/me views authenticate with `CustomerTokenAuthentication` only, so a store token there is
unknown (401), and every other view authenticates store tokens only, so a customer token there is
unknown too (401).
"""

from typing import TYPE_CHECKING, cast

from django.http import HttpRequest
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from accounts.models import CustomerAccessToken
from accounts.services.tokens import customer_token_find

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

_UNRESOLVED = object()


def bearer_token(request: HttpRequest) -> str | None:
    """The bearer token a request carries, or None; AuthenticationFailed for a malformed header."""
    header = get_authorization_header(request).split()  # type: ignore[arg-type]  # reads only META
    if not header:
        return None
    if header[0].lower() != b"bearer" or len(header) != 2:
        raise AuthenticationFailed("The Authorization header must be 'Bearer <token>'.")
    try:
        return header[1].decode("ascii")
    except UnicodeDecodeError:
        raise AuthenticationFailed("The token is invalid.") from None


def resolve_customer_token(request: HttpRequest) -> CustomerAccessToken | None:
    """The live customer token of the request (None without one), looked up once per request (the
    CORS check and the view share it). Raises AuthenticationFailed for a bad or unknown token."""
    cached = getattr(request, "_customer_token", _UNRESOLVED)
    if cached is not _UNRESOLVED:
        return cast("CustomerAccessToken | None", cached)
    if "access_token" in request.GET:
        raise AuthenticationFailed("Send the token in the Authorization header, not the query string.")
    raw = bearer_token(request)
    token = customer_token_find(raw) if raw is not None else None
    if raw is not None and token is None:
        raise AuthenticationFailed("The customer token is unknown, expired or revoked.")
    request._customer_token = token  # type: ignore[attr-defined]
    return token


class CustomerTokenAuthentication(BaseAuthentication):
    www_authenticate_realm = "api"

    def authenticate(self, request: "Request") -> tuple[None, CustomerAccessToken] | None:
        token = resolve_customer_token(request._request)
        return (None, token) if token is not None else None

    def authenticate_header(self, request: "Request") -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'


class HasCustomerToken(BasePermission):
    def has_permission(self, request: "Request", view: "APIView") -> bool:
        return isinstance(request.auth, CustomerAccessToken)  # False: DRF answers 401
