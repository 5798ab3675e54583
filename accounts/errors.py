"""The accounts' errors, built on the contract's vocabulary in twc.api.errors."""

from twc.api.errors import ApiError, ErrorCode, FieldError

# One message for every failed sign-in: it must not tell which part was wrong.
INVALID_CREDENTIALS_MESSAGE = "The email or the password is not correct."


def invalid_credentials(field: str | None = None) -> ApiError:
    return ApiError(FieldError(ErrorCode.INVALID_CREDENTIALS, INVALID_CREDENTIALS_MESSAGE, field=field), status=400)


def invalid_multipass_token(message: str) -> ApiError:
    return ApiError(FieldError(ErrorCode.INVALID_MULTIPASS_TOKEN, message), status=400)
