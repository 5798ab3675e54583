"""Races end with one winner and clean 409s, never a 500 (real threads, real transactions).

The battery (tests/battery/test_races.py) runs larger races on both databases; this is the
foundation's own check on PostgreSQL: 16 threads creating one email, in two spellings.
"""

from collections import Counter

import pytest
from django.db import connection

from customers.models import Customer
from tests.battery.concurrency import run_concurrently, status_counts
from tests.conftest import api_client, fetch_token

pytestmark = pytest.mark.django_db(transaction=True)


def test_sixteen_threads_creating_one_email(creds_a):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run by CI's PostgreSQL pass)")
    token = fetch_token(creds_a.client_id, creds_a.client_secret)

    def post_customer_with_the_email(index):
        body = {"id": f"racer-{index}", "email": "Race@Example.com" if index % 2 else "race@example.COM"}
        return api_client(token).post("/api/customers", body)

    statuses = status_counts(run_concurrently(16, post_customer_with_the_email))
    print(f"\n16 concurrent creates of one email: {dict(statuses)}")
    assert statuses == Counter({201: 1, 409: 15})
    assert Customer.objects.filter(email_key="race@example.com").count() == 1
