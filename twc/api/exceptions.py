"""Every API error, whatever raised it, in the contract's shape:

{"statusCode": 404, "message": "...", "errors": [{"code": "ResourceNotFound", "message": "..."}]}
"""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

from twc.api.errors import (
    MAX_ERROR_RESPONSE_BYTES,
    ApiError,
    ErrorCode,
    FieldError,
    insufficient_scope,
    internal_error,
    invalid_field_entry,
    invalid_json_input,
    invalid_operation,
    invalid_token,
    method_not_allowed,
    not_found,
    payload_too_large,
    service_unavailable,
    too_many_requests,
    unsupported_media_type,
)
from twc.api.renderers import dumps

logger = logging.getLogger("twc.api")


def is_database_unavailable(exc: Exception) -> bool:
    """A lost or refused database connection (a restart, a failover), as opposed to a bug."""
    return isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DatabaseError) and "connection" in str(exc).lower()
    )


def is_statement_timeout(exc: Exception) -> bool:
    """A statement cut by the statement timeout (twc/statement_timeout.py): PostgreSQL's
    query_canceled (SQLSTATE 57014, psycopg's QueryCanceled) or SQLite's interrupt."""
    if not isinstance(exc, OperationalError):
        return False
    return getattr(exc.__cause__, "sqlstate", None) == "57014" or str(exc) == "interrupted"


def unavailable_error(exc: Exception) -> ApiError:
    """The 503 of a database error that is no bug: a statement that ran too long, or an outage."""
    if is_statement_timeout(exc):
        logger.warning("statement timeout")
        return service_unavailable("The request took too long for the database; retry later, or narrow it.")
    logger.warning("database unavailable: %s", exc.__class__.__name__)
    return service_unavailable()


# The envelope around the entries: statusCode, the keys, the brackets, errorsOmitted's digits.
_ENVELOPE_BYTES = 128


def error_body(status: int, errors: list[FieldError], *, omitted: int = 0) -> dict[str, object]:
    """The contract's error shape; `errorsOmitted` beside `errors` when entries were left out.

    The entries are kept, in order, while the rendered body stays within MAX_ERROR_RESPONSE_BYTES
    (the first always is: an entry's text is cut at construction, see twc.api.errors).
    """
    message = errors[0].message
    size = _ENVELOPE_BYTES + len(dumps(message))
    entries: list[dict[str, object]] = []
    for error in errors:
        entry = error.as_dict()
        size += len(dumps(entry)) + 1
        if entries and size > MAX_ERROR_RESPONSE_BYTES:
            break
        entries.append(entry)
    body = {"statusCode": status, "message": message, "errors": entries}
    omitted += len(errors) - len(entries)
    if omitted:
        body["errorsOmitted"] = omitted
    return body


def api_error_body(error: ApiError) -> dict[str, object]:
    return error_body(error.status, error.errors, omitted=error.errors_omitted)


def _drf_validation_entries(detail: object, prefix: str | None = "") -> list[FieldError]:
    if isinstance(detail, dict):
        entries: list[FieldError] = []
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
    code = ErrorCode.REQUIRED_FIELD if getattr(detail, "code", "") == "required" else ErrorCode.INVALID_FIELD
    return [FieldError(code, str(detail), field=prefix or None)]


def to_api_error(exc: Exception) -> ApiError | None:
    """Map any exception an API view can raise to an ApiError; None for a real bug."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestDataTooBig):
        return payload_too_large("The request body is too large.")
    if isinstance(exc, drf.ParseError):
        return invalid_json_input(str(exc.detail))
    if isinstance(exc, drf.UnsupportedMediaType):
        return unsupported_media_type()
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        if isinstance(exc, drf.NotAuthenticated):
            return invalid_token("A valid bearer token is required.")
        codes = exc.get_codes()  # one code for a message; a list or dict names no RFC 6750 error
        return invalid_token(str(exc.detail), bearer_error=codes if isinstance(codes, str) else None)
    if isinstance(exc, (drf.PermissionDenied, DjangoPermissionDenied)):
        return insufficient_scope("The token lacks the scope this request needs.")
    if isinstance(exc, (drf.NotFound, Http404)):
        return not_found("The resource was not found.")
    if isinstance(exc, drf.MethodNotAllowed):
        return method_not_allowed(str(exc.detail))
    if isinstance(exc, drf.Throttled):
        # Throttled.__init__ sets `wait`; the stubs do not declare it.
        return too_many_requests(retry_after=max(1, int(exc.wait or 1)))  # type: ignore[attr-defined]
    if isinstance(exc, drf.ValidationError):
        return ApiError(_drf_validation_entries(exc.detail) or [invalid_field_entry(None, "Invalid input.")])
    if isinstance(exc, DjangoValidationError):
        return ApiError([invalid_field_entry(None, message) for message in exc.messages])
    if isinstance(exc, SuspiciousOperation):
        return invalid_json_input("The request could not be read.")
    if is_database_unavailable(exc):
        return unavailable_error(exc)
    if isinstance(exc, drf.APIException):
        return invalid_operation(str(exc.detail), status=exc.status_code)
    return None


def error_response(error: ApiError) -> Response:
    response = Response(api_error_body(error), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: an unexpected exception is logged and answered 500 in the same shape."""
    error = to_api_error(exc)
    if error is None:
        logger.exception("unhandled error in %s", context.get("view").__class__.__name__)
        error = internal_error()
    return error_response(error)
