"""The store of an /api/ request, resolved before any middleware that needs it."""

from contextlib import AbstractContextManager
from typing import cast

from django.http import HttpRequest
from django.http.response import HttpResponseBase

from tenants.authentication import StoreRequest, resolve_store
from tenants.permissions import request_scope, token_grants
from twc.api.idempotency import HEADER as IDEMPOTENCY_KEY_HEADER
from twc.api.middleware import GetResponse, answers_503_when_database_is_down
from twc.replica import replica_reads

IDEMPOTENCY_KEY_META = "HTTP_" + IDEMPOTENCY_KEY_HEADER.upper().replace("-", "_")


class StoreMiddleware:
    """Resolve an /api/ request's bearer token once: `request.store` and `request.store_token` (None
    without a valid token; the view answers the 401), and, for a POST carrying an Idempotency-Key,
    `request.store_token_has_scope`, whether the token has the scope the request needs (the view's
    `required_scope`, else the method's; the view's HasStoreScope answers the 403; the idempotency
    keys replay a stored reply only when it is true, and are its only reader: finding the view's
    scope resolves the URL once more, which no other request pays for). Placed before the rate
    limiter and the idempotency keys, which read them, and after the body limit, so an oversized
    body costs no query."""

    def __init__(self, get_response: GetResponse):
        self.get_response = get_response

    @answers_503_when_database_is_down
    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info.startswith("/api/"):
            resolve_store(request)
            resolved = cast(StoreRequest, request)
            token = resolved.store_token
            if request.method == "POST" and IDEMPOTENCY_KEY_META in request.META:
                resolved.store_token_has_scope = token is not None and token_grants(
                    token, request_scope(request.path_info, request.method)
                )
        return self.get_response(request)


def request_reads(request: HttpRequest) -> AbstractContextManager[str]:
    """The database the block's reads of many rows may use for this request: the standby once it
    has replayed the last write of the request's OAuth application (twc.replica), else the primary."""
    token = getattr(request, "store_token", None)
    return replica_reads(token.application_id if token is not None else None)
