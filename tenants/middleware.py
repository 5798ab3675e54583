"""The store of an /api/ request, resolved before any middleware that needs it."""

from django.http import HttpRequest
from django.http.response import HttpResponseBase

from tenants.authentication import resolve_store
from twc.api.middleware import GetResponse, answers_503_when_database_is_down


class StoreMiddleware:
    """Resolve an /api/ request's bearer token once: `request.store` and `request.store_token` (None
    without a valid token; the view answers the 401). Placed before the rate limiter and the
    idempotency keys, which read them, and after the body limit, so an oversized body costs no query."""

    def __init__(self, get_response: GetResponse):
        self.get_response = get_response

    @answers_503_when_database_is_down
    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info.startswith("/api/"):
            resolve_store(request)
        return self.get_response(request)
