"""The contract's error vocabulary, below every app: the codes, the error type and its constructors.

Services raise an `ApiError`; twc.api.exceptions turns it into the contract's error shape. Two
kinds of helper, each returning one type:
- an error constructor (`invalid_field`, `not_found`, ...) returns an `ApiError` (`ValidationFailed`,
  its 400 subclass, for the 400s), ready to raise;
- an entry builder (`*_entry`) returns one `FieldError`, for the codes that are collected into one
  response field by field (InvalidField, RequiredField, DuplicateField).
A bulk item's failure takes the entries of an error: `error.errors`.

Every answer is bounded whatever the request: an entry cuts the text it echoes (`message`, `field`,
`duplicateValue`), an `ApiError` keeps at most MAX_ERRORS entries and counts the rest
(`errors_omitted`, rendered as `errorsOmitted`), and twc.api.exceptions.error_body keeps the
rendered body within MAX_ERROR_RESPONSE_BYTES. Collectors of many entries (customers.field_checker)
stop building entries once full and only count.
"""

import enum
from dataclasses import dataclass

RETRY_AFTER_SECONDS = 5

# The contract's bounds: an error response lists at most MAX_ERRORS entries and is at most
# MAX_ERROR_RESPONSE_BYTES long; a bulk item's result lists at most MAX_ITEM_ERRORS.
MAX_ERRORS = 100
MAX_ITEM_ERRORS = 20
MAX_ERROR_RESPONSE_BYTES = 64 * 1024
# What an entry echoes of the request, in characters: room for every message and value the rules
# produce (an id or an email is at most 255), not for a megabyte string sent back.
MAX_MESSAGE_CHARS = 1000
MAX_FIELD_CHARS = 200
MAX_VALUE_CHARS = 300
CUT_MARK = "…"


def _cut(text: str, limit: int) -> str:
    """`text` if it has at most `limit` characters, else its start and CUT_MARK (`limit` in all)."""
    return text if len(text) <= limit else text[: limit - len(CUT_MARK)] + CUT_MARK


@enum.unique
class ErrorCode(enum.StrEnum):
    """Every `code` an error entry can carry. A StrEnum, so it is its string on the wire."""

    INVALID_JSON_INPUT = "InvalidJsonInput"
    INVALID_FIELD = "InvalidField"
    REQUIRED_FIELD = "RequiredField"
    DUPLICATE_FIELD = "DuplicateField"
    INVALID_TOKEN = "InvalidToken"
    INSUFFICIENT_SCOPE = "InsufficientScope"
    RESOURCE_NOT_FOUND = "ResourceNotFound"
    CONCURRENT_MODIFICATION = "ConcurrentModification"
    INVALID_OPERATION = "InvalidOperation"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    PAYLOAD_TOO_LARGE = "PayloadTooLarge"
    UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType"
    IDEMPOTENCY_KEY_REUSED = "IdempotencyKeyReused"
    IDEMPOTENCY_KEY_IN_PROGRESS = "IdempotencyKeyInProgress"
    TOO_MANY_REQUESTS = "TooManyRequests"
    SERVICE_UNAVAILABLE = "ServiceUnavailable"
    INVALID_CREDENTIALS = "InvalidCredentials"
    INVALID_MULTIPASS_TOKEN = "InvalidMultipassToken"
    # A bug, answered in the contract's shape rather than as an HTML page.
    INTERNAL_ERROR = "InternalError"
    # The import's report of a row it could not read (import_customers' errors file).
    INVALID_ROW = "InvalidRow"
    INVALID_ENCODING = "InvalidEncoding"


@dataclass(frozen=True)
class FieldError:
    """One entry of an error response's `errors` list."""

    code: ErrorCode
    message: str
    field: str | None = None
    duplicate_value: object = None

    def __post_init__(self) -> None:
        # Cut at construction, so an entry is small wherever it goes (a response, a stored reply,
        # the import's errors file), whatever the input it echoes.
        object.__setattr__(self, "message", _cut(str(self.message), MAX_MESSAGE_CHARS))
        if self.field is not None:
            object.__setattr__(self, "field", _cut(str(self.field), MAX_FIELD_CHARS))
        value = self.duplicate_value
        if value is not None and not isinstance(value, (str, bool, int, float)):
            value = str(value)
        if isinstance(value, str):
            object.__setattr__(self, "duplicate_value", _cut(value, MAX_VALUE_CHARS))

    def as_dict(self) -> dict[str, object]:
        entry: dict[str, object] = {"code": self.code, "message": self.message}
        if self.field is not None:
            entry["field"] = self.field
        if self.code == ErrorCode.DUPLICATE_FIELD:
            entry["duplicateValue"] = self.duplicate_value
        return entry


class ApiError(Exception):
    """An error with the contract's shape: a status and one or more entries.

    At most MAX_ERRORS entries are kept; `errors_omitted` counts those left out (given by a collector
    that stopped building them, plus any beyond MAX_ERRORS here).
    """

    status = 400

    def __init__(
        self,
        errors: list[FieldError] | FieldError,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        *,
        omitted: int = 0,
    ):
        errors = errors if isinstance(errors, list) else [errors]
        self.errors = errors[:MAX_ERRORS]
        self.errors_omitted = omitted + len(errors) - len(self.errors)
        if status is not None:
            self.status = status
        self.headers = headers or {}
        super().__init__(self.errors[0].message)

    @property
    def message(self) -> str:
        return self.errors[0].message


class ValidationFailed(ApiError):
    """A 400: the request itself is wrong (a bulk upload fails only that item)."""

    status = 400


# --- Entry builders -----------------------------------------------------------------------------
def invalid_field_entry(field_name: str | None, message: str) -> FieldError:
    return FieldError(ErrorCode.INVALID_FIELD, message, field=field_name)


def unknown_field_entry(name: object) -> FieldError:
    """A field a body must not have (it catches typos); `name` as sent, cut to 100 characters."""
    shown = str(name)[:100]
    return invalid_field_entry(shown, f"Unknown field '{shown}'.")


def required_field_entry(field_name: str, message: str | None = None) -> FieldError:
    return FieldError(ErrorCode.REQUIRED_FIELD, message or f"'{field_name}' is required.", field=field_name)


def duplicate_field_entry(field_name: str, value: object, message: str) -> FieldError:
    return FieldError(ErrorCode.DUPLICATE_FIELD, message, field=field_name, duplicate_value=value)


# --- Error constructors -------------------------------------------------------------------------
def invalid_json_input(message: str) -> ValidationFailed:
    return ValidationFailed(FieldError(ErrorCode.INVALID_JSON_INPUT, message))


def invalid_field(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(invalid_field_entry(field_name, message))


def required_field(field_name: str, message: str | None = None) -> ValidationFailed:
    return ValidationFailed(required_field_entry(field_name, message))


def duplicate_field(field_name: str, value: object, message: str) -> ApiError:
    return ApiError(duplicate_field_entry(field_name, value, message), status=409)


# RFC 6750 section 3.1: the error a Bearer challenge names, and the refusal of a request that sent no
# bearer token (no header, or another scheme), whose challenge names none.
INVALID_REQUEST = "invalid_request"
INVALID_TOKEN = "invalid_token"
NO_BEARER_TOKEN = "no_bearer_token"


def _bearer_challenge(error: str | None = None, *, scope: str | None = None) -> str:
    """The `WWW-Authenticate` of an /api/ 401 or 403 (RFC 6750 section 3)."""
    params = ['realm="api"']
    if error in (INVALID_REQUEST, INVALID_TOKEN, "insufficient_scope"):
        params.append(f'error="{error}"')
    if scope:
        params.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(params)


def invalid_token(message: str, *, bearer_error: str | None = None) -> ApiError:
    """401; `bearer_error` is None when no token was sent, else INVALID_TOKEN or INVALID_REQUEST."""
    return ApiError(
        FieldError(ErrorCode.INVALID_TOKEN, message),
        status=401,
        headers={"WWW-Authenticate": _bearer_challenge(bearer_error)},
    )


def insufficient_scope(message: str, *, scope: str | None = None) -> ApiError:
    """403 with the challenge naming the scope the request needs."""
    return ApiError(
        FieldError(ErrorCode.INSUFFICIENT_SCOPE, message),
        status=403,
        headers={"WWW-Authenticate": _bearer_challenge("insufficient_scope", scope=scope)},
    )


def not_found(message: str) -> ApiError:
    return ApiError(FieldError(ErrorCode.RESOURCE_NOT_FOUND, message), status=404)


def method_not_allowed(message: str) -> ApiError:
    return ApiError(FieldError(ErrorCode.METHOD_NOT_ALLOWED, message), status=405)


def concurrent_modification(message: str) -> ApiError:
    return ApiError(FieldError(ErrorCode.CONCURRENT_MODIFICATION, message), status=409)


def invalid_operation(message: str, *, status: int = 409) -> ApiError:
    return ApiError(FieldError(ErrorCode.INVALID_OPERATION, message), status=status)


def payload_too_large(message: str) -> ApiError:
    return ApiError(FieldError(ErrorCode.PAYLOAD_TOO_LARGE, message), status=413)


def unsupported_media_type() -> ApiError:
    return ApiError(
        FieldError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "The request body must be application/json."), status=415
    )


def idempotency_key_reused(message: str) -> ApiError:
    return ApiError(FieldError(ErrorCode.IDEMPOTENCY_KEY_REUSED, message), status=422)


def idempotency_key_in_progress(message: str, *, retry_after: int) -> ApiError:
    return ApiError(
        FieldError(ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS, message),
        status=409,
        headers={"Retry-After": str(retry_after)},
    )


def too_many_requests(*, retry_after: int, headers: dict[str, str] | None = None) -> ApiError:
    """429 with `Retry-After` (beside any other headers given, such as the rate-limit budget)."""
    return ApiError(
        FieldError(ErrorCode.TOO_MANY_REQUESTS, f"Too many requests; retry in {retry_after} s."),
        status=429,
        headers={**(headers or {}), "Retry-After": str(retry_after)},
    )


def service_unavailable(
    message: str = "The database cannot be reached; retry later.", *, retry_after: int = RETRY_AFTER_SECONDS
) -> ApiError:
    return ApiError(
        FieldError(ErrorCode.SERVICE_UNAVAILABLE, message), status=503, headers={"Retry-After": str(retry_after)}
    )


def internal_error() -> ApiError:
    return ApiError(FieldError(ErrorCode.INTERNAL_ERROR, "An unexpected error occurred."), status=500)
