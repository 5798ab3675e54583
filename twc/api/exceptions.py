"""Every API error, whatever raised it, in the contract's shape:

{"statusCode": 404, "message": "...", "errors": [{"code": "ResourceNotFound", "message": "..."}]}
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

from customers.errors import ApiError, FieldError

logger = logging.getLogger("twc.api")

RETRY_AFTER_SECONDS = 5


def is_database_unavailable(exc: Exception) -> bool:
    """A lost or refused database connection (a restart, a failover), as opposed to a bug."""
    return isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DatabaseError) and "connection" in str(exc).lower()
    )


def service_unavailable() -> ApiError:
    return ApiError(
        FieldError("ServiceUnavailable", "The database cannot be reached; retry later."),
        status=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def error_body(status: int, errors: list[FieldError]) -> dict:
    return {"statusCode": status, "message": errors[0].message, "errors": [e.as_dict() for e in errors]}


def _drf_validation_entries(detail, prefix: str = "") -> list[FieldError]:
    if isinstance(detail, dict):
        entries = []
        for key, value in detail.items():
            name = key if not prefix else f"{prefix}.{key}"
            if key == "non_field_errors":
                name = prefix or None
            entries.extend(_drf_validation_entries(value, name))
        return entries
    if isinstance(detail, list):
        entries = []
        for item in detail:
            entries.extend(_drf_validation_entries(item, prefix))
        return entries
    code = "RequiredField" if getattr(detail, "code", "") == "required" else "InvalidField"
    return [FieldError(code, str(detail), field=prefix or None)]


def to_api_error(exc: Exception) -> ApiError | None:
    """Map any exception an API view can raise to an ApiError; None for a real bug."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestDataTooBig):
        return ApiError(FieldError("PayloadTooLarge", "The request body is too large."), status=413)
    if isinstance(exc, drf.ParseError):
        return ApiError(FieldError("InvalidJsonInput", str(exc.detail)), status=400)
    if isinstance(exc, drf.UnsupportedMediaType):
        return ApiError(FieldError("UnsupportedMediaType", "The request body must be application/json."), status=415)
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        message = str(exc.detail) if isinstance(exc, drf.AuthenticationFailed) else "A valid bearer token is required."
        return ApiError(
            FieldError("InvalidToken", message), status=401, headers={"WWW-Authenticate": 'Bearer realm="api"'}
        )
    if isinstance(exc, (drf.PermissionDenied, DjangoPermissionDenied)):
        return ApiError(FieldError("InsufficientScope", "The token lacks the scope this request needs."), status=403)
    if isinstance(exc, (drf.NotFound, Http404)):
        return ApiError(FieldError("ResourceNotFound", "The resource was not found."), status=404)
    if isinstance(exc, drf.MethodNotAllowed):
        return ApiError(FieldError("MethodNotAllowed", str(exc.detail)), status=405)
    if isinstance(exc, drf.Throttled):
        wait = int(exc.wait or 1)
        return ApiError(
            FieldError("TooManyRequests", "Too many requests; retry later."),
            status=429,
            headers={"Retry-After": str(max(1, wait))},
        )
    if isinstance(exc, drf.ValidationError):
        return ApiError(_drf_validation_entries(exc.detail) or [FieldError("InvalidField", "Invalid input.")])
    if isinstance(exc, DjangoValidationError):
        return ApiError([FieldError("InvalidField", message) for message in exc.messages])
    if isinstance(exc, SuspiciousOperation):
        return ApiError(FieldError("InvalidJsonInput", "The request could not be read."), status=400)
    if is_database_unavailable(exc):
        logger.warning("database unavailable: %s", exc.__class__.__name__)
        return service_unavailable()
    if isinstance(exc, drf.APIException):
        return ApiError(FieldError("InvalidOperation", str(exc.detail)), status=exc.status_code)
    return None


def error_response(error: ApiError) -> Response:
    response = Response(error_body(error.status, error.errors), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: an unexpected exception is logged and answered 500 in the same shape."""
    error = to_api_error(exc)
    if error is None:
        logger.exception("unhandled error in %s", context.get("view").__class__.__name__)
        error = ApiError(FieldError("InternalError", "An unexpected error occurred."), status=500)
    return error_response(error)
