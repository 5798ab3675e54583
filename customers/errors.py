"""The contract's error codes, raised by services and turned into responses by twc.api.exceptions."""

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One entry of an error response's `errors` list."""

    code: str
    message: str
    field: str | None = None
    duplicate_value: object = None

    def as_dict(self) -> dict:
        entry = {"code": self.code, "message": self.message}
        if self.field is not None:
            entry["field"] = self.field
        if self.code == "DuplicateField":
            entry["duplicateValue"] = self.duplicate_value
        return entry


class ApiError(Exception):
    """An error with the contract's shape: a status and one or more entries."""

    status = 400

    def __init__(self, errors: list[FieldError] | FieldError, status: int | None = None, headers: dict | None = None):
        self.errors = errors if isinstance(errors, list) else [errors]
        if status is not None:
            self.status = status
        self.headers = headers or {}
        super().__init__(self.errors[0].message)

    @property
    def message(self) -> str:
        return self.errors[0].message


class ValidationFailed(ApiError):
    status = 400


def invalid_field(field_name: str, message: str) -> FieldError:
    return FieldError("InvalidField", message, field=field_name)


def required_field(field_name: str, message: str | None = None) -> FieldError:
    return FieldError("RequiredField", message or f"'{field_name}' is required.", field=field_name)


def duplicate_field(field_name: str, value) -> ApiError:
    return ApiError(
        FieldError(
            "DuplicateField",
            f"Another customer of this store already has this {field_name}.",
            field=field_name,
            duplicate_value=value,
        ),
        status=409,
    )


def not_found(ref: str, what: str = "Customer") -> ApiError:
    return ApiError(FieldError("ResourceNotFound", f"{what} '{ref}' was not found."), status=404)


def invalid_operation(message: str) -> ApiError:
    return ApiError(FieldError("InvalidOperation", message), status=409)


def concurrent_modification(expected, current) -> ApiError:
    return ApiError(
        FieldError(
            "ConcurrentModification",
            f"Version mismatch: the request names version {expected}, the customer is at version {current}.",
        ),
        status=409,
    )
