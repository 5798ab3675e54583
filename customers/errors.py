"""The customer app's own errors, built on the contract's vocabulary in twc.api.errors."""

from twc.api.errors import (
    ApiError,
    FieldError,
    ValidationFailed,
    concurrent_modification,
    duplicate_field,
    duplicate_field_entry,
    invalid_field,
    invalid_field_entry,
    invalid_json_input,
    invalid_operation,
    not_found,
    required_field_entry,
)


def _duplicate_message(field_name: str) -> str:
    return f"Another customer of this store already has this {field_name}."


def customer_duplicate_entry(field_name: str, value: object) -> FieldError:
    """DuplicateField: another customer of the store holds this `id`, email or phone."""
    return duplicate_field_entry(field_name, value, _duplicate_message(field_name))


def customer_duplicate(field_name: str, value: object) -> ApiError:
    return duplicate_field(field_name, value, _duplicate_message(field_name))


def order_duplicate_name(name: str) -> ApiError:
    return duplicate_field("name", name, "Another order of this store already has this name.")


def customer_not_found(ref: str) -> ApiError:
    return not_found(f"Customer '{ref}' was not found.")


def customer_not_an_object() -> ValidationFailed:
    return invalid_json_input("A customer must be a JSON object.")


def email_or_phone_required_entry() -> FieldError:
    return required_field_entry("email", "A customer needs an 'email' or a 'phone'.")


LOOKALIKE_EMAIL = (
    "'email' must be in NFC and hold, beyond ASCII, only letters, marks and digits: no compatibility "
    "characters (such as ſ or the Kelvin sign), no invisible, control or format characters, no symbols."
)


def lookalike_email_entry() -> FieldError:
    """An email that NFKC changes or that holds invisible characters (customers.emails)."""
    return invalid_field_entry("email", LOOKALIKE_EMAIL)


def undialable_phone_entry() -> FieldError:
    return invalid_field_entry("phone", "'phone' is not a dialable number.")


def customer_version_mismatch(expected: int, current: int | None) -> ApiError:
    return concurrent_modification(
        f"Version mismatch: the request names version {expected}, the customer is at version {current}."
    )


def customer_changing_too_fast() -> ApiError:
    """An update that lost the race to concurrent writers again and again: the client retries."""
    return concurrent_modification("The customer is changing too fast; retry.")


def unknown_customer_id() -> ValidationFailed:
    """An order's or a wishlist's `customer_id` that names no live customer of the store."""
    return invalid_field("customer_id", "No customer has this 'customer_id'.")


def merge_into_itself() -> ApiError:
    return invalid_operation("A customer cannot be merged into itself: name two customers.")
