"""Staff saving at the same moment (real threads, real transactions): one save wins, the others get
a form error on the field that collided, never a 500 and never a duplicate."""

from collections import Counter

import pytest
from django.db import connection

from customers.admin.forms import STALE_MESSAGE
from customers.models import Customer
from tests.admin.conftest import logged_in
from tests.admin.test_customer_admin_actions import CHANGELIST, form_data
from tests.admin.test_customer_admin_writes import add_data
from tests.battery.concurrency import run_concurrently
from tests.factories import customer_make, staff_make

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run by CI's PostgreSQL pass)")


def outcome(response) -> str:
    if not hasattr(response, "status_code"):
        return type(response).__name__
    if response.status_code == 302:
        return "saved"
    if response.status_code == 200:
        return "; ".join(
            f"{field}: {' '.join(errors)}" for field, errors in response.context["adminform"].form.errors.items()
        )
    return str(response.status_code)


def staff_clients(store, count: int) -> list:
    return [logged_in(staff_make(store=store)) for _ in range(count)]


def test_staff_adding_the_same_email_at_once_create_it_once(store_a):
    clients = staff_clients(store_a, 2)

    def add(index):
        email = "Race@Example.com" if index % 2 else "race@example.COM"
        return clients[index].post(f"{CHANGELIST}add/", add_data(store_a, email=email, first_name=f"by {index}"))

    outcomes = Counter(outcome(response) for response in run_concurrently(2, add))
    assert outcomes == Counter({"saved": 1, "email: Another customer of this store already has this email.": 1})
    assert Customer.objects.filter(store=store_a, email_key="race@example.com").count() == 1


def test_staff_saving_one_customer_at_once_change_it_once(store_a):
    first = customer_make(store=store_a, id="c-1")
    clients = staff_clients(store_a, 4)

    def edit(index):
        return clients[index].post(f"{CHANGELIST}{first.pk}/change/", form_data(first, note=f"by {index}"))

    outcomes = Counter(outcome(response) for response in run_concurrently(4, edit))
    assert outcomes == Counter({"saved": 1, f"__all__: {STALE_MESSAGE}": 3})
    stored = Customer.objects.get(pk=first.pk)
    assert stored.version == first.version + 1
    assert stored.note.startswith("by ")
