"""Guards for /api/ that must act before a view runs."""

import functools
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from twc.api.errors import ApiError, invalid_json_input, payload_too_large
from twc.api.exceptions import api_error_body, is_database_unavailable, unavailable_error
from twc.api.renderers import dumps

# What Django hands a middleware: the rest of the chain.
GetResponse = Callable[[HttpRequest], HttpResponseBase]
Middleware = TypeVar("Middleware")


def json_error_response(error: ApiError) -> HttpResponse:
    response = HttpResponse(dumps(api_error_body(error)), status=error.status, content_type="application/json")
    for name, value in error.headers.items():
        response[name] = value
    return response


class ApiBodyLimitMiddleware:
    """Answer an oversized /api/ body with 413 in the contract's shape before anything reads it."""

    def __init__(self, get_response: GetResponse):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return json_error_response(invalid_json_input("The Content-Length header is not a number."))
            if length > settings.API_MAX_BODY_BYTES:
                limit = settings.API_MAX_BODY_BYTES
                return json_error_response(
                    payload_too_large(f"The request body is {length} bytes; the limit is {limit}.")
                )
        return self.get_response(request)


class NoStoreMiddleware:
    """Customer data must not sit in a browser's or a proxy's cache: `Cache-Control: no-store` on
    every /api/ and /o/ response."""

    def __init__(self, get_response: GetResponse):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if request.path_info.startswith(("/api/", "/o/")):
            response["Cache-Control"] = "no-store"
        return response


def answers_503_when_database_is_down(
    call: Callable[[Middleware, HttpRequest], HttpResponseBase],
) -> Callable[[Middleware, HttpRequest], HttpResponseBase]:
    """For a middleware's __call__ that reads the database itself (rate limits, idempotency keys).

    Django turns an exception raised inside a middleware into an HTML 500 at that very layer, so no
    outer middleware could catch it: each such middleware answers an outage itself.
    """

    @functools.wraps(call)
    def guarded(self: Middleware, request: HttpRequest) -> HttpResponseBase:
        try:
            return call(self, request)
        except Exception as exc:
            if is_database_unavailable(exc):
                return json_error_response(unavailable_error(exc))
            raise

    return guarded


class DatabaseUnavailableMiddleware:
    """A database outage raised by a view outside DRF (the OAuth token endpoint, the admin) is a
    503 in the contract's shape, not Django's HTML 500. DRF views already answer it themselves."""

    def __init__(self, get_response: GetResponse):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_unavailable(exception):
            return json_error_response(unavailable_error(exception))
        return None
