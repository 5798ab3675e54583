"""The account lifecycle behind `state`: every transition, used by the API, the admin and the pages.

    disabled --invite--> invited --accept (password)--> enabled
                         invited --decline-----------> declined
    staff: enable (any state but enabled), disable (any state but disabled)
    a disabled or declined account can be invited again; re-inviting an invited one resends

An illegal transition raises `invalid_operation(...)` (409 InvalidOperation) with a sentence a
person can read. Each transition bumps `version` and `updated_at`, under a row lock so that two
staff members acting at once cannot both move the same account. Restoring a deleted customer
lives here too: it is the one way back from deletion.

Invites: the link carries a random token; only its SHA-256 is stored. A link is single-use,
expires after INVITE_LIFETIME, and a new invite (or a staff enable/disable) voids the older ones.
"""

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.services.tokens import customer_tokens_revoke
from customers.errors import customer_duplicate, customer_not_found
from customers.models import AccountInvite, Customer, CustomerState
from customers.services.integrity import duplicate_field_of
from events import types as event_types
from events.recording import STATE_EVENT_TYPES, customer_data, event_record
from tenants.models import Store
from twc.api.errors import invalid_operation, service_unavailable

logger = logging.getLogger(__name__)

INVITE_LIFETIME = dt.timedelta(days=30)

# Which states each transition may start from; the message explains a refusal.
INVITABLE = {CustomerState.DISABLED, CustomerState.DECLINED, CustomerState.INVITED}
REFUSALS: dict[tuple[str, str], str] = {
    ("invite", CustomerState.ENABLED): "An enabled account cannot be invited.",
    ("enable", CustomerState.ENABLED): "The account is already enabled.",
    ("disable", CustomerState.DISABLED): "The account is already disabled.",
}


@dataclass(frozen=True)
class Invite:
    """A sent invite: the customer after the transition and the link (the token is shown only here)."""

    customer: Customer
    url: str
    expires_at: dt.datetime
    emailed: bool


class InviteLinkStatus:
    VALID = "valid"
    UNKNOWN = "unknown"
    USED = "used"
    VOIDED = "voided"
    EXPIRED = "expired"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def activation_url(token: str) -> str:
    path = reverse("account-activate", kwargs={"token": token})
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def _locked(*, store: Store, customer: Customer) -> Customer:
    """The customer's current row, locked for the rest of the transaction; 404 if not the store's."""
    locked = Customer.objects.select_for_update().filter(pk=customer.pk, store=store).first()
    if locked is None:
        raise customer_not_found(customer.ref)
    locked.store = store  # the event's store, without a query
    return locked


def _require_live(customer: Customer) -> None:
    if customer.deleted_at is not None:
        raise invalid_operation("A deleted customer's account cannot change; restore the customer first.")


def _move(customer: Customer, state: str, now: dt.datetime, **fields: object) -> Customer:
    """Write the new state (and fields) with the version bump, and its event; the caller holds the
    row lock, in a transaction."""
    changes = {"state": state, "version": customer.version + 1, "updated_at": now, **fields}
    Customer.objects.filter(pk=customer.pk).update(**changes)
    for field, value in changes.items():
        setattr(customer, field, value)
    event_record(store=customer.store, type=STATE_EVENT_TYPES[state], customer=customer, data=customer_data(customer))
    return customer


def _void_open_invites(customer: Customer, now: dt.datetime) -> None:
    AccountInvite.objects.filter(customer=customer, used_at__isnull=True, voided_at__isnull=True).update(voided_at=now)


def _refuse(action: str, customer: Customer) -> None:
    message = REFUSALS.get((action, customer.state))
    if message is not None:
        raise invalid_operation(message)


def customer_invite(*, store: Store, customer: Customer, send_email: bool = True) -> Invite:
    """disabled/declined/invited -> invited: a fresh single-use link, older links voided.

    With send_email the link is mailed to the customer (Django's email framework); without it the
    caller (a store's own systems) sends it. A mail that cannot be sent undoes the invite.
    """
    with transaction.atomic():
        customer = _locked(store=store, customer=customer)
        _require_live(customer)
        _refuse("invite", customer)
        if customer.state not in INVITABLE:  # pragma: no cover - every state is covered above
            raise invalid_operation(f"A {customer.state} account cannot be invited.")
        if send_email and not customer.email:
            raise invalid_operation("The customer has no email address: send the link yourself (send_email: false).")
        now = timezone.now()
        _void_open_invites(customer, now)
        token = secrets.token_urlsafe(32)
        invite = AccountInvite.objects.create(
            customer=customer, token_hash=token_hash(token), created_at=now, expires_at=now + INVITE_LIFETIME
        )
        _move(customer, CustomerState.INVITED, now)
        url = activation_url(token)
        if send_email:
            _send_invite_email(customer, store=store, url=url, expires_at=invite.expires_at)
    return Invite(customer=customer, url=url, expires_at=invite.expires_at, emailed=send_email)


def _send_invite_email(customer: Customer, *, store: Store, url: str, expires_at: dt.datetime) -> None:
    greeting = f"Hello {customer.first_name}," if customer.first_name else "Hello,"
    body = (
        f"{greeting}\n\n"
        f"{store.name} invites you to activate your customer account.\n"
        f"Open this link to choose a password (or to decline):\n\n{url}\n\n"
        f"The link works once and expires on {expires_at:%Y-%m-%d} (UTC).\n"
        "If you did not expect this email, you can ignore it.\n"
    )
    assert customer.email  # customer_invite mails only a customer with an address
    try:
        send_mail(f"Activate your {store.name} account", body, settings.DEFAULT_FROM_EMAIL, [customer.email])
    except Exception as exc:  # SMTP down, refused recipient...: undo the invite, say so
        logger.warning("invite email to customer %s failed: %s", customer.pk, exc)
        raise service_unavailable("The invite email could not be sent; try again later.", retry_after=60) from None


def _staff_move(*, store: Store, customer: Customer, action: str, target: str) -> Customer:
    """A staff enable or disable: refused from the target state itself; open invite links stop working.

    Disabling revokes the customer's access tokens, and disabling an enabled account records that
    staff did it (Multipass does not re-enable such an account); enabling clears that mark."""
    with transaction.atomic():
        customer = _locked(store=store, customer=customer)
        _require_live(customer)
        _refuse(action, customer)
        now = timezone.now()
        _void_open_invites(customer, now)
        if target == CustomerState.DISABLED:
            customer_tokens_revoke(customer=customer)
            return _move(customer, target, now, disabled_by_staff=customer.state == CustomerState.ENABLED)
        return _move(customer, target, now, disabled_by_staff=False)


def customer_enable(*, store: Store, customer: Customer) -> Customer:
    """Staff: any state but enabled -> enabled."""
    return _staff_move(store=store, customer=customer, action="enable", target=CustomerState.ENABLED)


def customer_disable(*, store: Store, customer: Customer) -> Customer:
    """Staff: any state but disabled -> disabled."""
    return _staff_move(store=store, customer=customer, action="disable", target=CustomerState.DISABLED)


def customer_multipass_enable(*, store: Store, customer: Customer) -> Customer | None:
    """Multipass: a customer in `disabled` (never had an account), `invited` or `declined` state
    becomes `enabled` (open invite links stop working); an enabled one stays as it is. None, and no
    change, for an account staff disabled (it stays disabled) or a customer deleted meanwhile."""
    with transaction.atomic():
        customer = _locked(store=store, customer=customer)
        staff_disabled = customer.state == CustomerState.DISABLED and customer.disabled_by_staff
        if customer.deleted_at is not None or staff_disabled:
            return None
        if customer.state == CustomerState.ENABLED:
            return customer
        now = timezone.now()
        _void_open_invites(customer, now)
        return _move(customer, CustomerState.ENABLED, now)


def invite_lookup(token: object) -> tuple[str, AccountInvite | None]:
    """What a link's token opens: (InviteLinkStatus, the invite or None). Reads only. `token` is
    whatever the link carried."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return InviteLinkStatus.UNKNOWN, None
    invite = (
        AccountInvite.objects.select_related("customer", "customer__store").filter(token_hash=token_hash(token)).first()
    )
    return link_status(invite, timezone.now(), live_state=CustomerState.INVITED), invite


class OneUseLink(Protocol):
    """What link_status reads of an account link (AccountInvite, accounts.PasswordReset)."""

    used_at: dt.datetime | None
    voided_at: dt.datetime | None
    expires_at: dt.datetime

    @property
    def customer(self) -> Customer: ...


def link_status(link: OneUseLink | None, now: dt.datetime, *, live_state: str) -> str:
    """The InviteLinkStatus of a one-use account link (an invite, or accounts' password reset): it
    opens only while unused, not voided or expired, and its customer live and in `live_state`."""
    if link is None:
        return InviteLinkStatus.UNKNOWN
    if link.used_at is not None:
        return InviteLinkStatus.USED
    customer = link.customer
    if link.voided_at is not None or customer.deleted_at is not None or customer.state != live_state:
        return InviteLinkStatus.VOIDED
    if link.expires_at <= now:
        return InviteLinkStatus.EXPIRED
    return InviteLinkStatus.VALID


class InviteLinkUnusable(Exception):
    """The link cannot be used (any status but valid); `status` says why."""

    def __init__(self, status: str):
        self.status = status
        super().__init__(status)


def _use_invite(token: str) -> tuple[AccountInvite, Customer, dt.datetime]:
    """Lock the invite's customer and check the link again inside the transaction."""
    status, invite = invite_lookup(token)
    if invite is None or status != InviteLinkStatus.VALID:
        raise InviteLinkUnusable(status)
    customer = Customer.objects.select_for_update().get(pk=invite.customer_id)
    customer.store = invite.customer.store  # read with the invite: the event's store, without a query
    invite = AccountInvite.objects.select_for_update().get(pk=invite.pk)
    invite.customer = customer
    now = timezone.now()
    status = link_status(invite, now, live_state=CustomerState.INVITED)
    if status != InviteLinkStatus.VALID:
        raise InviteLinkUnusable(status)
    AccountInvite.objects.filter(pk=invite.pk).update(used_at=now)
    return invite, customer, now


def invite_accept(*, token: str, password: str, password_confirmation: str | None = None) -> Customer:
    """invited -> enabled: the customer sets a password through their link (single use).

    Raises InviteLinkUnusable for a bad link and django.core.exceptions.ValidationError for a
    password that Django's validators refuse (nothing changes then).
    """
    if password_confirmation is not None and password != password_confirmation:
        raise ValidationError("The two passwords do not match.", code="password_mismatch")
    with transaction.atomic():
        invite, customer, now = _use_invite(token)
        # The customer stands in for a user: the similarity check compares names and email.
        password_validation.validate_password(password, user=customer)  # type: ignore[arg-type]
        return _move(customer, CustomerState.ENABLED, now, password=make_password(password))


def invite_decline(*, token: str) -> Customer:
    """invited -> declined, through the customer's link (single use)."""
    with transaction.atomic():
        invite, customer, now = _use_invite(token)
        return _move(customer, CustomerState.DECLINED, now)


def customer_restore(*, store: Store, customer: Customer) -> Customer:
    """Bring a deleted customer back, unless a live customer now holds its id, email or phone."""
    with transaction.atomic():
        customer = _locked(store=store, customer=customer)
        if customer.deleted_at is None:
            raise invalid_operation("The customer is not deleted.")
        if customer.erased_at is not None:
            raise invalid_operation("An erased customer cannot be restored.")
        taken = (
            Customer.objects.for_store(store)
            .filter(
                Q(ref=customer.ref)
                | (Q(email_key=customer.email_key) if customer.email_key else Q(pk__in=[]))
                | (Q(phone=customer.phone) if customer.phone else Q(pk__in=[]))
            )
            .values_list("ref", "email_key", "phone")
            .first()
        )
        if taken is not None:
            field: str | None = (
                "id" if taken[0] == customer.ref else "email" if taken[1] == customer.email_key else "phone"
            )
            raise invalid_operation(
                f"Its {field} is now used by customer {taken[0]}: change or delete that customer first."
            )
        now = timezone.now()
        changes = {"deleted_at": None, "version": customer.version + 1, "updated_at": now}
        try:
            with transaction.atomic():
                Customer.objects.filter(pk=customer.pk).update(**changes)
        except IntegrityError as exc:  # a live customer took the key between our check and the write
            field = duplicate_field_of(exc)
            if field is None:
                raise
            raise customer_duplicate(field, getattr(customer, {"id": "ref"}.get(field, field))) from None
        for field, value in changes.items():
            setattr(customer, field, value)
        event_record(store=store, type=event_types.CUSTOMER_RESTORE, customer=customer, data=customer_data(customer))
        return customer
