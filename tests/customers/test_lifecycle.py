"""The account lifecycle service: every transition, legal and illegal, and the invite links."""

import datetime as dt
import hashlib

import pytest
from django.contrib.auth.hashers import check_password
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from customers.models import AccountInvite, Customer
from customers.services.lifecycle import (
    InviteLinkStatus,
    InviteLinkUnusable,
    customer_disable,
    customer_enable,
    customer_invite,
    customer_restore,
    invite_accept,
    invite_decline,
    invite_lookup,
)
from tests.factories import customer_make
from twc.api.errors import ApiError

GOOD_PASSWORD = "correct-horse-battery-9"


def token_of(invite) -> str:
    return invite.url.rstrip("/").rsplit("/", 1)[1]


def reload(customer) -> Customer:
    return Customer.objects.get(pk=customer.pk)


def customer_in_state(store, state):
    return customer_make(store=store, id="c-1", state=state)


def test_invite_moves_disabled_to_invited_and_mails_the_link(store_a, settings):
    settings.PUBLIC_BASE_URL = "https://shop.example.com/"
    customer = customer_make(store=store_a, id="c-1", email="ann@example.com", first_name="Ann")
    invite = customer_invite(store=store_a, customer=customer)
    after = reload(customer)
    assert after.state == "invited"
    assert after.version == 2
    assert after.updated_at > customer.updated_at
    assert invite.url.startswith("https://shop.example.com/account/activate/")
    assert invite.emailed is True
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ann@example.com"]
    assert invite.url in mail.outbox[0].body
    assert "Store A" in mail.outbox[0].subject
    stored = AccountInvite.objects.get(customer=customer)
    assert stored.token_hash == hashlib.sha256(token_of(invite).encode()).hexdigest()
    assert token_of(invite) not in stored.token_hash
    assert stored.expires_at - stored.created_at == dt.timedelta(days=30)
    assert invite.expires_at == stored.expires_at


@pytest.mark.parametrize("state", ["disabled", "declined", "invited"])
def test_invite_is_legal_from(store_a, state):
    customer = customer_in_state(store_a, state)
    customer_invite(store=store_a, customer=customer)
    assert reload(customer).state == "invited"
    assert reload(customer).version == 2


def test_inviting_an_enabled_account_is_invalid_operation(store_a):
    customer = customer_in_state(store_a, "enabled")
    with pytest.raises(ApiError) as exc:
        customer_invite(store=store_a, customer=customer)
    assert exc.value.status == 409
    assert exc.value.errors[0].code == "InvalidOperation"
    assert exc.value.message == "An enabled account cannot be invited."
    assert reload(customer).version == 1
    assert not AccountInvite.objects.exists()
    assert mail.outbox == []


def test_invite_by_email_needs_an_email_but_a_link_does_not(store_a):
    customer = customer_make(store=store_a, id="c-1", email=None, phone="613-555-0100")
    with pytest.raises(ApiError) as exc:
        customer_invite(store=store_a, customer=customer)
    assert exc.value.errors[0].code == "InvalidOperation"
    assert "no email" in exc.value.message
    invite = customer_invite(store=store_a, customer=customer, send_email=False)
    assert invite.emailed is False
    assert mail.outbox == []
    assert reload(customer).state == "invited"


def test_invite_of_another_stores_customer_is_not_found(store_a, store_b):
    customer = customer_make(store=store_b, id="b-1")
    with pytest.raises(ApiError) as exc:
        customer_invite(store=store_a, customer=customer)
    assert exc.value.status == 404
    assert reload(customer).state == "disabled"


def test_a_failed_email_undoes_the_invite(store_a, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = 9  # discard port: nothing listens, the connection is refused
    customer = customer_make(store=store_a, id="c-1")
    with pytest.raises(ApiError) as exc:
        customer_invite(store=store_a, customer=customer)
    assert exc.value.status == 503
    assert reload(customer).state == "disabled"
    assert not AccountInvite.objects.exists()


def test_a_new_invite_voids_the_old_link(store_a):
    customer = customer_make(store=store_a, id="c-1")
    first = customer_invite(store=store_a, customer=customer)
    second = customer_invite(store=store_a, customer=customer)
    assert invite_lookup(token_of(first))[0] == InviteLinkStatus.VOIDED
    assert invite_lookup(token_of(second))[0] == InviteLinkStatus.VALID
    assert reload(customer).version == 3
    with pytest.raises(InviteLinkUnusable) as exc:
        invite_accept(token=token_of(first), password=GOOD_PASSWORD)
    assert exc.value.status == InviteLinkStatus.VOIDED


def test_accept_sets_the_password_and_enables_once(store_a):
    customer = customer_make(store=store_a, id="c-1")
    invite = customer_invite(store=store_a, customer=customer)
    accepted = invite_accept(token=token_of(invite), password=GOOD_PASSWORD, password_confirmation=GOOD_PASSWORD)
    after = reload(customer)
    assert accepted.state == after.state == "enabled"
    assert after.version == 3
    assert after.password != GOOD_PASSWORD
    assert check_password(GOOD_PASSWORD, after.password)
    assert invite_lookup(token_of(invite))[0] == InviteLinkStatus.USED
    with pytest.raises(InviteLinkUnusable) as exc:
        invite_accept(token=token_of(invite), password=GOOD_PASSWORD)
    assert exc.value.status == InviteLinkStatus.USED
    with pytest.raises(InviteLinkUnusable):
        invite_decline(token=token_of(invite))
    assert reload(customer).state == "enabled"


@pytest.mark.parametrize(
    ("password", "confirmation", "fragment"),
    [
        ("short1", "short1", "too short"),
        ("12345678901", "12345678901", "entirely numeric"),
        ("password123", "password123", "too common"),
        (GOOD_PASSWORD, "something-else-42", "do not match"),
    ],
)
def test_accept_refuses_a_weak_password_and_keeps_the_link(store_a, password, confirmation, fragment):
    customer = customer_make(store=store_a, id="c-1")
    invite = customer_invite(store=store_a, customer=customer)
    with pytest.raises(ValidationError) as exc:
        invite_accept(token=token_of(invite), password=password, password_confirmation=confirmation)
    assert any(fragment in message for message in exc.value.messages)
    assert reload(customer).state == "invited"
    assert reload(customer).password == ""
    assert invite_lookup(token_of(invite))[0] == InviteLinkStatus.VALID


def test_accept_refuses_a_password_like_the_email(store_a):
    customer = customer_make(store=store_a, id="c-1", email="margaretha.lindqvist@example.com")
    invite = customer_invite(store=store_a, customer=customer)
    with pytest.raises(ValidationError) as exc:
        invite_accept(token=token_of(invite), password="margaretha.lindqvist")
    assert any("too similar" in message for message in exc.value.messages)


def test_decline_moves_invited_to_declined_and_can_be_invited_again(store_a):
    customer = customer_make(store=store_a, id="c-1")
    invite = customer_invite(store=store_a, customer=customer)
    invite_decline(token=token_of(invite))
    assert reload(customer).state == "declined"
    assert reload(customer).version == 3
    assert invite_lookup(token_of(invite))[0] == InviteLinkStatus.USED
    again = customer_invite(store=store_a, customer=reload(customer))
    assert reload(customer).state == "invited"
    assert invite_lookup(token_of(again))[0] == InviteLinkStatus.VALID


def test_an_expired_link_cannot_be_used(store_a):
    customer = customer_make(store=store_a, id="c-1")
    invite = customer_invite(store=store_a, customer=customer)
    AccountInvite.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert invite_lookup(token_of(invite))[0] == InviteLinkStatus.EXPIRED
    with pytest.raises(InviteLinkUnusable) as exc:
        invite_accept(token=token_of(invite), password=GOOD_PASSWORD)
    assert exc.value.status == InviteLinkStatus.EXPIRED
    assert reload(customer).state == "invited"


@pytest.mark.parametrize("token", ["", "nope", "x" * 300])
def test_an_unknown_link_is_unknown(db, token):
    assert invite_lookup(token) == (InviteLinkStatus.UNKNOWN, None)


@pytest.mark.parametrize("state", ["disabled", "invited", "declined"])
def test_enable_is_legal_from(store_a, state):
    customer = customer_in_state(store_a, state)
    enabled = customer_enable(store=store_a, customer=customer)
    assert enabled.state == reload(customer).state == "enabled"
    assert reload(customer).version == 2


@pytest.mark.parametrize("state", ["invited", "enabled", "declined"])
def test_disable_is_legal_from(store_a, state):
    customer = customer_in_state(store_a, state)
    customer_disable(store=store_a, customer=customer)
    assert reload(customer).state == "disabled"
    assert reload(customer).version == 2


@pytest.mark.parametrize(
    ("action", "state", "message"),
    [
        (customer_enable, "enabled", "The account is already enabled."),
        (customer_disable, "disabled", "The account is already disabled."),
    ],
)
def test_enable_and_disable_refuse_a_no_op(store_a, action, state, message):
    customer = customer_in_state(store_a, state)
    with pytest.raises(ApiError) as exc:
        action(store=store_a, customer=customer)
    assert exc.value.errors[0].code == "InvalidOperation"
    assert exc.value.message == message
    assert reload(customer).version == 1


def test_staff_enable_or_disable_voids_the_open_link(store_a):
    customer = customer_make(store=store_a, id="c-1")
    invite = customer_invite(store=store_a, customer=customer)
    customer_disable(store=store_a, customer=customer)
    assert invite_lookup(token_of(invite))[0] == InviteLinkStatus.VOIDED
    with pytest.raises(InviteLinkUnusable):
        invite_accept(token=token_of(invite), password=GOOD_PASSWORD)
    assert reload(customer).state == "disabled"


def test_a_deleted_customer_cannot_change_state(store_a):
    customer = customer_make(store=store_a, id="c-1")
    Customer.objects.filter(pk=customer.pk).update(deleted_at=timezone.now())
    for action in (customer_invite, customer_enable):
        with pytest.raises(ApiError) as exc:
            action(store=store_a, customer=customer)
        assert "deleted" in exc.value.message
    assert reload(customer).state == "disabled"


def test_restore_brings_a_deleted_customer_back(store_a):
    customer = customer_make(store=store_a, id="c-1")
    Customer.objects.filter(pk=customer.pk).update(deleted_at=timezone.now(), version=2)
    restored = customer_restore(store=store_a, customer=customer)
    assert restored.deleted_at is None
    assert reload(customer).deleted_at is None
    assert reload(customer).version == 3


@pytest.mark.parametrize(
    ("taker", "field"),
    [
        ({"id": "c-1", "email": "other@example.com"}, "id"),
        ({"id": "c-2", "email": "C-1@Example.com"}, "email"),
        ({"id": "c-3", "email": None, "phone": "+16135550100"}, "phone"),
    ],
)
def test_restore_fails_clearly_when_a_live_customer_took_a_key(store_a, taker, field):
    customer = customer_make(store=store_a, id="c-1", email="c-1@example.com", phone="613-555-0100")
    Customer.objects.filter(pk=customer.pk).update(deleted_at=timezone.now())
    customer_make(store=store_a, **taker)
    with pytest.raises(ApiError) as exc:
        customer_restore(store=store_a, customer=customer)
    assert exc.value.errors[0].code == "InvalidOperation"
    assert exc.value.message.startswith(f"Its {field} is now used by customer {taker['id']}")
    assert reload(customer).deleted_at is not None


def test_restore_of_a_live_customer_is_refused(store_a):
    customer = customer_make(store=store_a, id="c-1")
    with pytest.raises(ApiError) as exc:
        customer_restore(store=store_a, customer=customer)
    assert exc.value.message == "The customer is not deleted."
