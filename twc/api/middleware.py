"""Guards for /api/ that must act before a view runs."""

from django.conf import settings
from django.http import HttpResponse

from customers.errors import ApiError, FieldError
from twc.api.exceptions import error_body
from twc.api.renderers import dumps


def json_error_response(error: ApiError) -> HttpResponse:
    response = HttpResponse(
        dumps(error_body(error.status, error.errors)), status=error.status, content_type="application/json"
    )
    for name, value in error.headers.items():
        response[name] = value
    return response


class ApiBodyLimitMiddleware:
    """Answer an oversized /api/ body with 413 in the contract's shape before anything reads it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return json_error_response(
                    ApiError(FieldError("InvalidJsonInput", "The Content-Length header is not a number."))
                )
            if length > settings.API_MAX_BODY_BYTES:
                return json_error_response(
                    ApiError(
                        FieldError(
                            "PayloadTooLarge",
                            f"The request body is {length} bytes; the limit is {settings.API_MAX_BODY_BYTES}.",
                        ),
                        status=413,
                    )
                )
        return self.get_response(request)
