"""The one place an API request gets its store: from the OAuth token's application."""

import hashlib

from django.utils import timezone
from oauth2_provider.models import AccessToken
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from tenants.token_cache import token_cache


def token_checksum(raw_token: str) -> str:
    # DOT stores only this checksum when COMPLIANT_BCP_RFC9700_TOKEN_STORAGE is on.
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


def store_of(token: AccessToken):
    """The store a token acts for (loaded by the select_related above), or None."""
    link = getattr(token.application, "store_link", None) if token.application else None
    return link.store if link is not None else None


class StoreTokenAuthentication(BaseAuthentication):
    """Bearer-token authentication that sets `request.store`.

    DOT sets request.user to None for client-credentials tokens, so DRF's IsAuthenticated would deny
    every valid token: the store, not a user, is who calls. Tokens in the query string are refused
    (RFC 9700), so they never land in access logs. A token found valid is cached in the process for
    TOKEN_CACHE_SECONDS (tenants.token_cache says how revocation is honoured).
    """

    www_authenticate_realm = "api"

    def authenticate(self, request):
        # The rate-limit middleware may already have resolved this request's token.
        resolved = getattr(request._request, "store_token", None)
        if resolved is not None:
            request.store = request._request.store = resolved.application.store_link.store
            return (None, resolved)
        if "access_token" in request.query_params:
            raise AuthenticationFailed("Send the token in the Authorization header, not the query string.")
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != b"bearer" or len(header) != 2:
            raise AuthenticationFailed("The Authorization header must be 'Bearer <token>'.")
        try:
            raw_token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("The token is invalid.") from None
        checksum = token_checksum(raw_token)
        token = token_cache.get(checksum)
        if token is None:
            token = (
                AccessToken.objects.select_related("application__store_link__store")
                .filter(token_checksum=checksum)
                .first()
            )
            if token is not None and store_of(token) is not None:
                token_cache.put(checksum, token)
        if token is None or token.expires <= timezone.now():
            raise AuthenticationFailed("The token is unknown, expired or revoked.")
        store = store_of(token)
        if store is None:
            raise AuthenticationFailed("The token does not belong to a store.")
        request.store = store
        request._request.store = store
        return (None, token)

    def authenticate_header(self, request):
        return f'Bearer realm="{self.www_authenticate_realm}"'


def resolve_store_token(django_request):
    """The valid store token of a plain Django request, or None; remembered on the request so the
    API view's authentication does not look it up again."""
    from rest_framework.request import Request

    try:
        result = StoreTokenAuthentication().authenticate(Request(django_request))
    except AuthenticationFailed:
        return None
    if result is None:
        return None
    django_request.store_token = result[1]
    return result[1]
