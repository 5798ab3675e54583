"""Races, on SQLite and on PostgreSQL, with real threads and real transactions: one winner, clean
409s for the others, nothing created twice, never a server error."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from tests.battery.concurrency import run_concurrently, status_counts
from tests.conftest import api_client, fetch_token
from tests.factories import customer_make

pytestmark = pytest.mark.django_db(transaction=True)


def server_errors(responses) -> int:
    return sum(1 for r in responses if not hasattr(r, "status_code") or r.status_code >= 500)


def test_sqlite_test_database_has_real_locking():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite settings only")
    connection.ensure_connection()
    assert not connection.is_in_memory_db()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] == 20_000
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        Customer.objects.count()
    assert queries.captured_queries[0]["sql"] == "BEGIN IMMEDIATE"


def test_fifty_concurrent_creates_of_one_email(creds_a):
    token = fetch_token(creds_a.client_id, creds_a.client_secret)

    def post_customer_with_the_email(index):
        email = "Race@Example.com" if index % 2 else "race@example.COM"
        return api_client(token).post("/api/customers", {"id": f"racer-{index}", "email": email})

    responses = run_concurrently(50, post_customer_with_the_email)
    statuses = status_counts(responses)
    print(f"\nraces ({connection.vendor}): 50 concurrent creates of one email -> {dict(statuses)}")
    assert statuses == {201: 1, 409: 49}
    conflicts = [r.json()["errors"][0] for r in responses if r.status_code == 409]
    assert {(e["code"], e["field"]) for e in conflicts} == {("DuplicateField", "email")}
    assert Customer.objects.filter(email_key="race@example.com").count() == 1
    assert server_errors(responses) == 0


def test_twenty_concurrent_updates_naming_one_version(creds_a):
    token = fetch_token(creds_a.client_id, creds_a.client_secret)
    customer_make(store=creds_a.store, id="c-race", email="v@example.com")

    def put_version_1(index):
        body = {"id": "c-race", "note": f"writer {index}", "version": 1}
        return api_client(token).put("/api/customers", body)

    responses = run_concurrently(20, put_version_1)
    statuses = status_counts(responses)
    print(f"\nraces ({connection.vendor}): 20 concurrent updates of version 1 -> {dict(statuses)}")
    assert statuses == {200: 1, 409: 19}
    assert {r.json()["errors"][0]["code"] for r in responses if r.status_code == 409} == {"ConcurrentModification"}
    winner = next(r.json() for r in responses if r.status_code == 200)
    stored = Customer.objects.get(ref="c-race")
    assert (stored.version, stored.note) == (2, winner["note"])
    assert server_errors(responses) == 0


def test_concurrent_uploads_sharing_rows_create_each_row_once(creds_a):
    token = fetch_token(creds_a.client_id, creds_a.client_secret)
    shared = [{"id": f"shared-{n}", "email": f"shared-{n}@example.com"} for n in range(20)]
    uploaders = 8

    def upload_shared_and_own_rows(index):
        own = [{"id": f"own-{index}-{n}", "email": f"own-{index}-{n}@example.com"} for n in range(10)]
        return api_client(token).post("/api/upload-customers", shared + own)

    responses = run_concurrently(uploaders, upload_shared_and_own_rows)
    statuses = status_counts(responses)
    created = sum(r.json()["created"] for r in responses if r.status_code == 200)
    print(
        f"\nraces ({connection.vendor}): {uploaders} concurrent uploads sharing 20 rows -> {dict(statuses)}, "
        f"{created} created of {20 + uploaders * 10} distinct rows"
    )
    assert statuses == {200: uploaders}
    assert created == 20 + uploaders * 10
    for n in range(20):
        assert Customer.objects.filter(ref=f"shared-{n}").count() == 1
    assert Customer.objects.count() == 20 + uploaders * 10
    failures = [item for r in responses for item in r.json()["results"] if item["status"] == "failed"]
    assert len(failures) == (uploaders - 1) * 20
    assert {e["code"] for item in failures for e in item["errors"]} == {"DuplicateField"}
    assert server_errors(responses) == 0


def test_crossing_merges_of_one_pair_end_with_one_winner(creds_a):
    token = fetch_token(creds_a.client_id, creds_a.client_secret)
    customer_make(store=creds_a.store, id="m-1", email="m1@example.com")
    customer_make(store=creds_a.store, id="m-2", email="m2@example.com")
    customer_make(store=creds_a.store, id="m-3", email="m3@example.com")
    pairs = [("m-1", "m-2"), ("m-2", "m-1"), ("m-3", "m-2"), ("m-2", "m-3")]

    def merge_a_pair(index):
        into, from_ = pairs[index % len(pairs)]
        return api_client(token).post("/api/customers/merge", {"into": into, "from": from_})

    responses = run_concurrently(12, merge_a_pair)
    statuses = status_counts(responses)
    print(f"\nraces ({connection.vendor}): 12 merges of overlapping pairs -> {dict(statuses)}")
    assert server_errors(responses) == 0
    assert set(statuses) <= {200, 404, 409}
    # m-2 is in every pair: whichever merge won took it or kept it, and no other merge of it won
    live = set(Customer.objects.filter(deleted_at__isnull=True).values_list("ref", flat=True))
    merged_away = Customer.objects.filter(merged_into__isnull=False)
    assert statuses[200] == 3 - len(live) == merged_away.count()
    assert all(customer.merged_into.deleted_at is None or customer.merged_into.merged_into for customer in merged_away)
    assert statuses[200] >= 1


def test_orders_racing_a_merge_never_land_on_the_merged_away_customer(creds_a):
    token = fetch_token(creds_a.client_id, creds_a.client_secret)
    customer_make(store=creds_a.store, id="o-1", email="o1@example.com")
    customer_make(store=creds_a.store, id="o-2", email="o2@example.com")

    def order_or_merge(index):
        client = api_client(token)
        if index == 0:
            return client.post("/api/customers/merge", {"into": "o-1", "from": "o-2"})
        return client.post("/api/orders", {"name": f"#{index}", "customer_id": "o-2", "total_price": 1})

    responses = run_concurrently(10, order_or_merge)
    assert server_errors(responses) == 0
    assert responses[0].status_code == 200, responses[0].content
    created = [r for r in responses[1:] if r.status_code == 201]
    # an order after the merge names a customer that no longer exists: 400, never a lost order
    assert all(r.status_code in (201, 400) for r in responses[1:])
    from customers.models import Order

    owners = set(Order.objects.values_list("customer__ref", "customer__deleted_at"))
    assert owners <= {("o-1", None)}
    survivor = api_client(token).get("/api/customers/o-1").json()
    assert survivor["orders_count"] == len(created) == Order.objects.count()
