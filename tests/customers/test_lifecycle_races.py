"""Concurrent lifecycle moves end with one winner: the row lock serialises them (real threads)."""

from collections import Counter

import pytest
from django.db import connection

from customers.models import AccountInvite, Customer
from customers.services.lifecycle import InviteLinkUnusable, customer_enable, customer_invite, invite_accept
from tests.battery.concurrency import run_concurrently
from tests.factories import customer_make
from twc.api.errors import ApiError

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run by CI's PostgreSQL pass)")


def test_one_link_used_by_eight_threads_enables_once(store_a):
    customer = customer_make(store=store_a, id="c-1", email="c1@example.com")
    token = customer_invite(store=store_a, customer=customer).url.rstrip("/").rsplit("/", 1)[1]

    def accept_the_link(index):
        try:
            invite_accept(token=token, password=f"racing-password-{index}-xyz")
        except InviteLinkUnusable as exc:
            return exc.status
        return "enabled"

    outcomes = Counter(run_concurrently(8, accept_the_link))
    assert outcomes == Counter({"enabled": 1, "used": 7})
    stored = Customer.objects.get(pk=customer.pk)
    assert stored.state == "enabled"
    assert stored.version == 3
    assert AccountInvite.objects.filter(used_at__isnull=False).count() == 1


def test_eight_staff_enabling_at_once_change_it_once(store_a):
    customer = customer_make(store=store_a, id="c-1", email="c1@example.com")

    def enable_the_customer(index):
        try:
            customer_enable(store=store_a, customer=customer)
        except ApiError as exc:
            return exc.message
        return "enabled"

    outcomes = Counter(run_concurrently(8, enable_the_customer))
    assert outcomes == Counter({"enabled": 1, "The account is already enabled.": 7})
    assert Customer.objects.get(pk=customer.pk).version == 2
