"""Password resets: a single-use link to a page of ours, valid 24 hours; a newer link voids older.

`password_recover` (POST /api/accounts/recover) mails a link only when an enabled live customer has
the email, at most once per customer per 15 minutes, and says nothing either way.
`customer_password_reset` (POST /api/customers/{id}/send_password_reset) makes a link for the
store's systems (mailing it unless told not to). Setting the password revokes every customer token.
"""

import datetime as dt
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import PasswordReset
from accounts.services.me import customer_password_set, password_validated
from customers.emails import email_key, is_written_one_way
from customers.errors import customer_not_found
from customers.models import Customer, CustomerState
from customers.services.lifecycle import InviteLinkStatus, InviteLinkUnusable, link_status, token_hash
from tenants.models import Store
from twc.api.errors import invalid_field, invalid_operation, service_unavailable

logger = logging.getLogger(__name__)

RESET_LIFETIME = dt.timedelta(hours=24)
MAIL_INTERVAL = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class ResetLink:
    customer: Customer
    url: str
    expires_at: dt.datetime
    emailed: bool


def reset_url(token: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("account-reset", kwargs={"token": token})


def _create_link(customer: Customer, now: dt.datetime, *, emailed: bool) -> tuple[PasswordReset, str]:
    PasswordReset.objects.filter(customer=customer, used_at__isnull=True, voided_at__isnull=True).update(voided_at=now)
    token = secrets.token_urlsafe(32)
    reset = PasswordReset.objects.create(
        customer=customer,
        token_hash=token_hash(token),
        created_at=now,
        expires_at=now + RESET_LIFETIME,
        emailed=emailed,
    )
    return reset, reset_url(token)


def _send_reset_email(customer: Customer, *, store: Store, url: str) -> None:
    greeting = f"Hello {customer.first_name}," if customer.first_name else "Hello,"
    body = (
        f"{greeting}\n\nSomeone asked to reset the password of your {store.name} account.\n"
        f"Open this link to choose a new password:\n\n{url}\n\n"
        "The link works once and expires in 24 hours.\n"
        "If you did not ask for this, you can ignore this email: your password stays as it is.\n"
    )
    assert customer.email
    send_mail(f"Reset your {store.name} password", body, settings.DEFAULT_FROM_EMAIL, [customer.email])


def customer_password_reset(*, store: Store, customer: Customer, send_email: bool = True) -> ResetLink:
    """A fresh link for an enabled account (409 InvalidOperation otherwise), mailed unless not."""
    with transaction.atomic():
        locked = Customer.objects.select_for_update().filter(pk=customer.pk, store=store).first()
        if locked is None or locked.deleted_at is not None:
            raise customer_not_found(customer.ref)
        if locked.state != CustomerState.ENABLED:
            raise invalid_operation(f"A {locked.state} account has no password to reset: invite the customer instead.")
        if send_email and not locked.email:
            raise invalid_operation("The customer has no email address: send the link yourself (send_email: false).")
        reset, url = _create_link(locked, timezone.now(), emailed=send_email)
        if send_email:
            try:
                _send_reset_email(locked, store=store, url=url)
            except Exception as exc:  # SMTP down, refused recipient...: undo the link, say so
                logger.warning("password reset email to customer %s failed: %s", locked.pk, exc)
                raise service_unavailable("The email could not be sent; try again later.", retry_after=60) from None
    return ResetLink(customer=locked, url=url, expires_at=reset.expires_at, emailed=send_email)


def password_recover(*, store: Store, email: str) -> None:
    """Mail a reset link when an enabled live customer of the store has the email; say nothing."""
    if not is_written_one_way(email):
        return  # no customer's address (a NUL, a look-alike): nothing to look up
    key = email_key(email)
    customer = Customer.objects.for_store(store).filter(email_key=key, state=CustomerState.ENABLED).first()
    if customer is None or not customer.email:
        return
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        now = timezone.now()
        recent = PasswordReset.objects.filter(customer=locked, emailed=True, created_at__gt=now - MAIL_INTERVAL)
        if recent.exists():
            return
        _reset, url = _create_link(locked, now, emailed=True)
    try:
        _send_reset_email(locked, store=store, url=url)
    except Exception as exc:  # the answer is 202 whatever happens; the link stays for a retry later
        logger.warning("password reset email to customer %s failed: %s", locked.pk, exc)


def reset_lookup(token: object) -> tuple[str, PasswordReset | None]:
    """What a reset link's token opens: (InviteLinkStatus, the reset or None). Reads only."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return InviteLinkStatus.UNKNOWN, None
    reset = (
        PasswordReset.objects.select_related("customer", "customer__store").filter(token_hash=token_hash(token)).first()
    )
    return link_status(reset, timezone.now(), live_state=CustomerState.ENABLED), reset


def reset_complete(*, token: str, password: str, password_confirmation: str | None = None) -> Customer:
    """Set the password through a reset link (single use): every token of the customer is revoked.
    Raises InviteLinkUnusable for a bad link, ApiError (InvalidField `password`) for a refused password."""
    with transaction.atomic():
        status, reset = reset_lookup(token)
        if reset is None or status != InviteLinkStatus.VALID:
            raise InviteLinkUnusable(status)
        customer = Customer.objects.select_for_update().get(pk=reset.customer_id)
        reset = PasswordReset.objects.select_for_update().get(pk=reset.pk)
        reset.customer = customer
        now = timezone.now()
        status = link_status(reset, now, live_state=CustomerState.ENABLED)
        if status != InviteLinkStatus.VALID:
            raise InviteLinkUnusable(status)
        if password_confirmation is not None and password != password_confirmation:
            raise invalid_field("password", "The two passwords do not match.")
        hashed = password_validated(password, customer=customer, field="password")
        PasswordReset.objects.filter(pk=reset.pk).update(used_at=now)
        customer_password_set(customer=customer, hashed=hashed)
        return customer
