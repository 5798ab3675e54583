"""The one place an API request gets its store: from the OAuth token's application, once per request.

`resolve_store` sets `request.store` and `request.store_token` on the Django request;
`tenants.middleware.StoreMiddleware` calls it for every /api/ request before the rate limiter and
the idempotency keys, which only read those attributes, and `StoreTokenAuthentication` hands the
same result to DRF (`request.auth`, or the 401).
"""

import hashlib
from typing import TYPE_CHECKING, cast

from django.http import HttpRequest
from django.utils import timezone
from oauth2_provider.models import AccessToken
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, ErrorDetail

from tenants.token_cache import token_cache
from twc.api.errors import INVALID_REQUEST, INVALID_TOKEN, NO_BEARER_TOKEN

if TYPE_CHECKING:
    from rest_framework.request import Request

    from tenants.models import Store, StoreApplication


# The customer tokens of /api/me (accounts.services.tokens.TOKEN_PREFIX) are never store tokens:
# they are refused as unknown without a lookup (StoreMiddleware resolves every /api/ request).
CUSTOMER_TOKEN_PREFIX = "twcct_"


def token_checksum(raw_token: str) -> str:
    # DOT stores only this checksum when COMPLIANT_BCP_RFC9700_TOKEN_STORAGE is on.
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


class StoreRequest(HttpRequest):
    """Django's request as `resolve_store` leaves it (for the type checker: the attributes are set on
    the request itself)."""

    store_token: AccessToken | None
    store: "Store | None"
    store_token_refusal: str | None
    store_token_refusal_code: str | None
    # Set by tenants.middleware.StoreMiddleware, under /api/ only, for a POST with an Idempotency-Key.
    store_token_has_scope: bool


def store_of(token: AccessToken) -> "Store | None":
    """The store a token acts for (loaded by the select_related below), or None."""
    link: StoreApplication | None = getattr(token.application, "store_link", None) if token.application else None
    return link.store if link is not None else None


def _store_token_named(raw_token: str) -> AccessToken | None:
    """The access token `raw_token` names (from the cache, else one query), or None."""
    checksum = token_checksum(raw_token)
    token = token_cache.get(checksum)
    if token is None:
        token = (
            AccessToken.objects.select_related("application__store_link__store").filter(token_checksum=checksum).first()
        )
        if token is not None and store_of(token) is not None:
            token_cache.put(checksum, token)
    return token


def store_token_of(request: HttpRequest) -> AccessToken | None:
    """The valid store token a request carries, or None when it carries none.

    Raises AuthenticationFailed, with the 401's message and as its code the RFC 6750 error of the
    challenge, for a token in the query string (RFC 9700: it would land in access logs), a malformed
    header, or a token that is unknown, expired, revoked or of no store. A token found valid is
    cached in the process for TOKEN_CACHE_SECONDS (tenants.token_cache says how revocation is
    honoured); its expiry is checked every time.
    """
    if "access_token" in request.GET:
        raise AuthenticationFailed(
            "Send the token in the Authorization header, not the query string.", code=INVALID_REQUEST
        )
    # It reads only `META`, which Django's request has as well as DRF's.
    header = get_authorization_header(request).split()  # type: ignore[arg-type]
    if not header:
        return None
    if header[0].lower() != b"bearer" or len(header) != 2:
        # RFC 6750 section 3.1: another scheme is no bearer token at all; its challenge names no error.
        code = NO_BEARER_TOKEN if header[0].lower() != b"bearer" else INVALID_REQUEST
        raise AuthenticationFailed("The Authorization header must be 'Bearer <token>'.", code=code)
    try:
        raw_token = header[1].decode("ascii")
    except UnicodeDecodeError:
        raise AuthenticationFailed("The token is invalid.", code=INVALID_TOKEN) from None
    token = None if raw_token.startswith(CUSTOMER_TOKEN_PREFIX) else _store_token_named(raw_token)
    if token is None or token.expires <= timezone.now():
        raise AuthenticationFailed("The token is unknown, expired or revoked.", code=INVALID_TOKEN)
    if store_of(token) is None:
        raise AuthenticationFailed("The token does not belong to a store.", code=INVALID_TOKEN)
    return token


def resolve_store(request: HttpRequest) -> None:
    """Set `request.store_token` and `request.store` (both None without a valid token), once per
    request; a refused token's message and code are kept as `request.store_token_refusal` and
    `request.store_token_refusal_code` for the 401."""
    if hasattr(request, "store_token"):
        return
    try:
        token, refusal, code = store_token_of(request), None, None
    except AuthenticationFailed as exc:
        # store_token_of raises with a message, whose detail is one ErrorDetail carrying the code.
        code = exc.detail.code if isinstance(exc.detail, ErrorDetail) else None
        token, refusal = None, str(exc.detail)
    resolved = cast(StoreRequest, request)
    resolved.store_token = token
    resolved.store = store_of(token) if token is not None else None
    resolved.store_token_refusal = refusal
    resolved.store_token_refusal_code = code


class StoreTokenAuthentication(BaseAuthentication):
    """Bearer-token authentication: the token `resolve_store` found (StoreMiddleware has already
    resolved it under /api/).

    DOT sets request.user to None for client-credentials tokens, so DRF's IsAuthenticated would deny
    every valid token: the store, not a user, is who calls.
    """

    www_authenticate_realm = "api"

    def authenticate(self, request: "Request") -> tuple[None, AccessToken] | None:
        django_request = cast(StoreRequest, request._request)
        resolve_store(django_request)
        if django_request.store_token_refusal is not None:
            raise AuthenticationFailed(django_request.store_token_refusal, code=django_request.store_token_refusal_code)
        if django_request.store_token is None:
            return None
        return (None, django_request.store_token)

    def authenticate_header(self, request: "Request") -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'
