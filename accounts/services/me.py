"""What a signed-in customer changes of itself: its own fields and its password."""

from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import CustomerAccessToken
from accounts.services.sign_in import password_check_for_change
from accounts.services.tokens import IssuedToken, customer_token_issue, customer_tokens_revoke
from customers.errors import customer_not_an_object
from customers.fields import CUSTOMER_WRITABLE_FIELDS
from customers.models import Address, Customer
from customers.services.customers import customer_update
from twc.api.errors import ValidationFailed, invalid_field, invalid_field_entry


def me_update(*, customer: Customer, data: Any) -> tuple[Customer, list[Address]]:
    """PATCH /api/me: only the fields a customer may change, through customer_update (validation,
    uniqueness, the version bump) like every other write. Any other field is InvalidField, even
    with its current value."""
    if not isinstance(data, dict):
        raise customer_not_an_object()
    refused = [key for key in data if key not in CUSTOMER_WRITABLE_FIELDS]
    if refused:
        raise ValidationFailed(
            [invalid_field_entry(str(key)[:100], f"'{str(key)[:100]}' cannot be changed here.") for key in refused]
        )
    return customer_update(store=customer.store, data=data, ref=customer.ref)


def password_validated(password: str, *, customer: Customer, field: str) -> str:
    """The password hashed (Argon2id), or 400 InvalidField naming `field` when Django's validators refuse it."""
    try:
        # The customer stands in for a user: the similarity check compares names and email.
        password_validation.validate_password(password, user=customer)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise invalid_field(field, " ".join(exc.messages)) from None
    return make_password(password)


def customer_password_set(*, customer: Customer, hashed: str) -> None:
    """Write a new password (no version bump) and revoke every token of the customer."""
    with transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(password=hashed)
        customer.password = hashed
        customer_tokens_revoke(customer=customer)


def customer_password_change(
    *, token: CustomerAccessToken, current_password: str, new_password: str, ip: str | None = None
) -> IssuedToken:
    """POST /api/me/password: the current password checked (and counted like a sign-in), the new one
    validated; every token of the customer is revoked and a new one issued."""
    customer = token.customer
    password_check_for_change(customer=customer, password=current_password, ip=ip)
    hashed = password_validated(new_password, customer=customer, field="new_password")
    with transaction.atomic():
        customer_password_set(customer=customer, hashed=hashed)
        return customer_token_issue(customer=customer)
