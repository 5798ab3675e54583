"""CORS for /api/me: a storefront page may call it with the customer's token from the origins its
store allows (StoreAccountSettings.cors_allowed_origins). django-cors-headers asks this handler.

A preflight carries no token, so it is allowed when some store allows the origin; the request itself
is allowed only when the token's own store does.
"""

from typing import Any

from django.http import HttpRequest
from rest_framework.exceptions import AuthenticationFailed

from accounts.authentication import resolve_customer_token
from accounts.models import StoreAccountSettings


def _origin_in(origin: str, lines: str) -> bool:
    return origin.rstrip("/") in {line.strip().rstrip("/") for line in lines.splitlines() if line.strip()}


def allow_store_origins(sender: Any, request: HttpRequest, **kwargs: Any) -> bool:
    origin = request.headers.get("Origin", "")
    if not origin:
        return False
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        candidates = StoreAccountSettings.objects.filter(cors_allowed_origins__contains=origin.rstrip("/"))
        return any(_origin_in(origin, row) for row in candidates.values_list("cors_allowed_origins", flat=True))
    try:
        token = resolve_customer_token(request)
    except AuthenticationFailed:
        return False
    if token is None:
        return False
    lines = StoreAccountSettings.objects.filter(store_id=token.store_id).values_list("cors_allowed_origins", flat=True)
    return any(_origin_in(origin, row) for row in lines)
