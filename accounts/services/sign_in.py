"""Signing a customer in with email and password, and the guessing limits around every password check.

Every failure is the same `400 InvalidCredentials` and costs about the same: an unknown email, an
account that is not enabled or has no password still hashes the password once. The limits
(twc.api.failure_limits) are checked BEFORE any hash is computed, per (store, email) whether or not
a customer has that email, and per (store, shopper address) when the store's systems send
`TWC-Customer-IP`. Nothing here changes the customer's `version`.
"""

import hashlib
import ipaddress
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password

from accounts.errors import invalid_credentials
from accounts.services.tokens import IssuedToken, customer_token_issue
from customers.emails import email_key, is_written_one_way
from customers.models import Customer, CustomerState
from tenants.models import Store
from twc.api import failure_limits
from twc.api.errors import ApiError, invalid_field, too_many_requests
from twc.api.failure_limits import FailurePolicy

CUSTOMER_IP_HEADER = "TWC-Customer-IP"


@dataclass(frozen=True)
class SignIn:
    customer: Customer
    token: IssuedToken


def email_policy() -> FailurePolicy:
    return FailurePolicy(
        max_failures=settings.SIGN_IN_MAX_FAILURES,
        window=settings.SIGN_IN_FAILURE_WINDOW_SECONDS,
        first_wait=settings.SIGN_IN_LOCKOUT_SECONDS,
        max_wait=settings.SIGN_IN_MAX_LOCKOUT_SECONDS,
    )


def address_policy() -> FailurePolicy:
    return FailurePolicy(
        max_failures=settings.SIGN_IN_IP_MAX_FAILURES,
        window=settings.SIGN_IN_FAILURE_WINDOW_SECONDS,
        first_wait=settings.SIGN_IN_LOCKOUT_SECONDS,
        max_wait=settings.SIGN_IN_MAX_LOCKOUT_SECONDS,
    )


def customer_ip(header: str | None) -> str | None:
    """The shopper's address from TWC-Customer-IP, normalised; None without the header."""
    if header is None or header.strip() == "":
        return None
    try:
        return str(ipaddress.ip_address(header.strip()))
    except ValueError:
        raise invalid_field(CUSTOMER_IP_HEADER, f"{CUSTOMER_IP_HEADER} must be an IPv4 or IPv6 address.") from None


def _email_key(email: str) -> str:
    # The same key as the customer's email_key for a valid address; any other text still gets one.
    try:
        key = email_key(email)
    except Exception:  # a malformed address: counted under its own text
        key = None
    return key or email.strip().casefold()


@dataclass(frozen=True)
class GuessLimits:
    """The failure-limit keys one sign-in attempt counts against."""

    keys: list[tuple[str, FailurePolicy]]

    @classmethod
    def of(cls, *, store: Store, email: str, ip: str | None) -> "GuessLimits":
        digest = hashlib.sha256(_email_key(email).encode("utf-8")).hexdigest()[:40]
        keys = [(f"signin-email:{store.pk}:{digest}", email_policy())]
        if ip is not None:
            keys.append((f"signin-ip:{store.pk}:{ip}", address_policy()))
        return cls(keys)

    def check(self) -> None:
        """429 with Retry-After while any key is locked; nothing is hashed then."""
        waits = [wait for key, policy in self.keys if (wait := failure_limits.locked_for(key, policy)) is not None]
        if waits:
            raise too_many_requests(retry_after=max(waits))

    def failed(self) -> None:
        for key, policy in self.keys:
            failure_limits.record_failure(key, policy)

    def succeeded(self) -> None:
        # The email's count starts over; the address's failures stay (one shopper, many emails).
        failure_limits.clear(self.keys[0][0])


def password_matches(customer: Customer | None, password: str) -> bool:
    """Check the password; an old or imported hash is rehashed with the first hasher (Argon2id) on a
    match, without a version bump. With no usable customer the password is hashed anyway (the same
    cost as a check, so that timing does not tell whether the email has an account)."""
    if customer is None or customer.state != CustomerState.ENABLED or not customer.password:
        make_password(password)
        return False

    def upgrade(raw_password: str) -> None:
        Customer.objects.filter(pk=customer.pk).update(password=make_password(raw_password))

    return check_password(password, customer.password, setter=upgrade)


def customer_sign_in(*, store: Store, email: str, password: str, ip: str | None = None) -> SignIn:
    """Sign a customer of `store` in: a new customer access token, or 400 InvalidCredentials / 429."""
    limits = GuessLimits.of(store=store, email=email, ip=ip)
    limits.check()
    # An address not written one way (a NUL, a look-alike) is no customer's: PostgreSQL refuses NULs.
    customer = (
        Customer.objects.for_store(store).filter(email_key=_email_key(email)).first()
        if is_written_one_way(email)
        else None
    )
    if not password_matches(customer, password):
        limits.failed()
        raise invalid_credentials()
    assert customer is not None  # password_matches is False without one
    limits.succeeded()
    return SignIn(customer=customer, token=customer_token_issue(customer=customer))


def password_check_for_change(*, customer: Customer, password: str, ip: str | None = None) -> None:
    """/api/me/password's check of the current password: counted against the same limits as a
    sign-in with the customer's email (a wrong one is InvalidCredentials naming the field)."""
    limits = GuessLimits.of(store=customer.store, email=customer.email or f"#{customer.pk}", ip=ip)
    limits.check()
    if not password_matches(customer, password):
        limits.failed()
        error: ApiError = invalid_credentials(field="current_password")
        raise error
    limits.succeeded()
