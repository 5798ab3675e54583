"""What the OpenAPI schema says of every endpoint: the error shape and the error responses, the
rate-limit and idempotency headers (the security scheme is the tenants app's: tenants.schema).

drf-spectacular documents only success responses by default, and a schema fuzzer then flags every
4xx as undocumented: `error_responses` and the postprocessing hook add them.
"""

import re
from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from twc.api.errors import MAX_ERROR_RESPONSE_BYTES, MAX_ERRORS
from twc.text import CONTROL_EXCEPT_TAB_AND_BREAKS, CONTROL_OR_BREAK

# The text rules of twc.text as JSON Schema patterns (ECMA and Python regex alike), so that the
# schema says what the server refuses: a one-line value holds no control character, a multi-line
# one no control character but tab and line breaks; a non-blank one has a character besides spaces.
CONTROL_CLASS = CONTROL_OR_BREAK.pattern[1:-1]  # the inside of its [...], to build other classes
PLAIN_TEXT_PATTERN = rf"^[^{CONTROL_CLASS}]*$"
NON_BLANK_TEXT_PATTERN = rf"^[^{CONTROL_CLASS}]*[^\s{CONTROL_CLASS}][^{CONTROL_CLASS}]*$"
MULTILINE_TEXT_PATTERN = rf"^[^{CONTROL_EXCEPT_TAB_AND_BREAKS.pattern[1:-1]}]*$"
# Query parameters the server reads as if absent when they are sent empty (`?email=`): the
# operation marks them with this extension and add_api_conventions turns it into `allowEmptyValue`.
EMPTY_MEANS_ABSENT = "x-empty-means-absent"

ERROR_DESCRIPTIONS = {
    400: "InvalidJsonInput, InvalidField (with `field`) or RequiredField (with `field`).",
    401: "InvalidToken: no, unknown, expired or revoked token (with `WWW-Authenticate: Bearer`).",
    403: "InsufficientScope: the token lacks the scope this request needs.",
    404: "ResourceNotFound: no such customer in the caller's store.",
    405: "MethodNotAllowed.",
    409: "DuplicateField (with `field` and `duplicateValue`), ConcurrentModification, InvalidOperation, "
    "or IdempotencyKeyInProgress (a POST retried while the first is running; with `Retry-After`).",
    413: "PayloadTooLarge: the body or the upload is over its limit.",
    415: "UnsupportedMediaType: the body is not application/json.",
    422: "IdempotencyKeyReused: the Idempotency-Key was already used with a different request.",
    429: "TooManyRequests: over the application's rate limit; retry after `Retry-After` seconds.",
    503: "ServiceUnavailable: the database (or the shared state) cannot be reached, or a statement ran past the "
    "statement timeout; with `Retry-After`.",
}
# Every /api/ operation can answer these whatever it does.
EVERY_OPERATION = (401, 403, 405, 429, 503)
# And every operation with a JSON body these.
WITH_BODY = (400, 413, 415)
# And every POST (Idempotency-Key) these.
POST_ONLY = (400, 409, 422)


class ErrorEntrySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The contract's error code, e.g. `InvalidField`.")
    message = serializers.CharField()
    field = serializers.CharField(required=False, help_text="The field or parameter at fault.")
    duplicateValue = serializers.JSONField(required=False, help_text="With DuplicateField: the colliding value.")

    class Meta:
        ref_name = "ErrorEntry"


class ErrorSerializer(serializers.Serializer):
    """Every error response, whatever raised it."""

    statusCode = serializers.IntegerField()
    message = serializers.CharField()
    # A declared field: DRF's metaclass takes it out of the class, so it does not hide Serializer.errors.
    errors = ErrorEntrySerializer(many=True, help_text=f"At most {MAX_ERRORS} errors.")  # type: ignore[assignment]
    errorsOmitted = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text=f"How many more errors there were than `errors` lists (at most {MAX_ERRORS}, "
        f"and the response at most {MAX_ERROR_RESPONSE_BYTES // 1024} KB). Absent when none was left out.",
    )

    class Meta:
        ref_name = "Error"


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    return {status: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status]) for status in statuses}


RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": {
        "description": "The application's burst (the most requests it may make at once).",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Remaining": {
        "description": "Requests left in the bucket now; it refills at the steady rate.",
        "schema": {"type": "integer"},
    },
}
RETRY_AFTER = {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}, "required": True}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes the POST safe to retry: the first response for this key (per store, 24 hours) is "
    "replayed with `Idempotent-Replayed: true`; 1 to 255 printable ASCII characters.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}
ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SYMBOL_NAMES = {"": "BLANK", "*": "ALL"}


def name_enum_members(schema: dict[str, Any]) -> None:
    """Member names for generated clients, which call a value that is no identifier VALUE_0:
    `customers/create` is CUSTOMERS_CREATE, the empty choice BLANK, `*` ALL (x-enum-varnames). A schema that
    names its members itself (the orderings) keeps its names."""
    values = schema.get("enum")
    if not values or "x-enum-varnames" in schema or not all(isinstance(v, str) for v in values):
        return
    if all(IDENTIFIER.fullmatch(v) for v in values):
        return
    names = [SYMBOL_NAMES.get(value) or re.sub(r"[^0-9A-Za-z]+", "_", value).strip("_").upper() for value in values]
    if len(set(names)) == len(names) and all(IDENTIFIER.fullmatch(n) for n in names):
        schema["x-enum-varnames"] = names


def add_api_conventions(result: dict[str, Any], generator: object, request: object, public: bool) -> dict[str, Any]:
    """Postprocessing hook: the responses, headers and parameters every /api/ operation shares."""
    # The routes take an optional trailing slash; the contract writes the paths without one.
    result["paths"] = {
        (path.rstrip("/") if path.startswith("/api/") else path): operations
        for path, operations in result.get("paths", {}).items()
    }
    # Request bodies refuse unknown fields (they catch typos): say so, so clients and fuzzers know.
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
        name_enum_members(component)
    for path, operations in result["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.pop(EMPTY_MEANS_ABSENT, False):
                    parameter["allowEmptyValue"] = True
            responses = operation.setdefault("responses", {})
            statuses = list(EVERY_OPERATION)
            if "requestBody" in operation:
                statuses += WITH_BODY
            if method == "post":
                statuses += POST_ONLY
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == IDEMPOTENCY_KEY["name"] for p in parameters):
                    parameters.append(dict(IDEMPOTENCY_KEY))
            for status in statuses:
                responses.setdefault(str(status), {"description": ERROR_DESCRIPTIONS[status], "content": ERROR_REF})
            for status, response in responses.items():
                headers = response.setdefault("headers", {})
                if status != "401":
                    headers.update(RATE_LIMIT_HEADERS)
                if status in ("429", "503"):
                    headers["Retry-After"] = RETRY_AFTER
                if method == "post" and status.startswith(("2", "4")):
                    headers["Idempotent-Replayed"] = {
                        "description": "`true` when this is the replay of the first response for the Idempotency-Key.",
                        "schema": {"type": "string", "enum": ["true"]},
                    }
    return result
