"""Two app servers (separate gunicorn processes, two workers each) on one PostgreSQL database agree
under concurrent load: uniqueness holds across them, and each sees the other's writes at once.
The database is the only state they share for these; see docs/scaling.md."""

import threading
from collections import Counter

import pytest

from customers.models import Customer
from tests.factories import customer_make

pytestmark = pytest.mark.postgres


def run_concurrently(actions) -> list:
    """Run the callables at the same moment, one thread each; their results in order."""
    barrier = threading.Barrier(len(actions))
    results = [None] * len(actions)

    def worker(index):
        barrier.wait()
        results[index] = actions[index]()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture
def two_servers(app_servers, creds_a, store_b):
    """Servers A and B, each with a token of store A it issued itself, and store B beside it."""
    server_a, server_b = app_servers(2)
    return (
        server_a.with_token(server_a.token_for(creds_a.client_id, creds_a.client_secret)),
        server_b.with_token(server_b.token_for(creds_a.client_id, creds_a.client_secret)),
    )


def test_one_email_raced_across_both_servers(two_servers):
    servers = two_servers
    racers = 16

    def post_customer_with_the_email(index):
        body = {"id": f"racer-{index}", "email": "Race@Example.com" if index % 2 else "race@example.COM"}
        return servers[index % 2].post("/api/customers", body)

    replies = run_concurrently([lambda i=i: post_customer_with_the_email(i) for i in range(racers)])
    assert Counter(reply.status for reply in replies) == Counter({201: 1, 409: racers - 1})
    for reply in replies:
        if reply.status == 409:
            assert reply.body["errors"][0]["code"] == "DuplicateField"
            assert reply.body["errors"][0]["field"] == "email"
    assert Customer.objects.filter(email_key="race@example.com").count() == 1


def test_one_reference_raced_across_both_servers(two_servers):
    servers = two_servers

    def post_customer_with_the_reference(index):
        return servers[index % 2].post("/api/customers", {"id": "same-ref", "email": f"r{index}@example.com"})

    replies = run_concurrently([lambda i=i: post_customer_with_the_reference(i) for i in range(8)])
    assert Counter(reply.status for reply in replies) == Counter({201: 1, 409: 7})
    assert {reply.body["errors"][0]["field"] for reply in replies if reply.status == 409} == {"id"}


def test_each_server_reads_the_others_writes_at_once(two_servers):
    server_a, server_b = two_servers
    created = server_a.post("/api/customers", {"id": "c-1", "email": "ann@example.com"})
    assert created.status == 201
    read = server_b.get("/api/customers/c-1")
    assert read.status == 200
    assert read.body == created.body

    updated = server_b.put("/api/customers", {"id": "c-1", "note": "from B", "version": 1})
    assert updated.status == 200
    assert server_a.get("/api/customers/c-1").body["note"] == "from B"
    assert server_a.get("/api/customers/c-1").headers["ETag"] == '"2"'

    assert server_a.delete("/api/customers/c-1").status == 200
    assert server_b.get("/api/customers/c-1").status == 404
    assert server_b.post("/api/customers", {"id": "c-1", "email": "ann@example.com"}).status == 201


def test_conditional_updates_raced_across_both_servers(two_servers, store_a):
    _, server_b = two_servers
    customer_make(store=store_a, id="c-1", email="ann@example.com")

    def put_version_1(server, index):
        return server.put("/api/customers", {"id": "c-1", "note": f"writer {index}", "version": 1})

    replies = run_concurrently([lambda i=i: put_version_1(two_servers[i % 2], i) for i in range(8)])
    assert Counter(reply.status for reply in replies) == Counter({200: 1, 409: 7})
    assert {reply.body["errors"][0]["code"] for reply in replies if reply.status == 409} == {"ConcurrentModification"}
    assert server_b.get("/api/customers/c-1").body["version"] == 2


def test_mixed_load_on_both_servers_loses_no_write(two_servers, store_a):
    """Unconditional updates of one customer from both servers: each is applied (200) or, losing a
    race for the row, refused as a 409; at least one wins, and the version counts exactly the 200s."""
    _, server_b = two_servers
    customer_make(store=store_a, id="c-1", email="ann@example.com")
    writers = 10

    def put_note(index):
        return two_servers[index % 2].put("/api/customers", {"id": "c-1", "note": f"writer {index}"})

    replies = run_concurrently([lambda i=i: put_note(i) for i in range(writers)])
    assert [reply.status for reply in replies].count(200) + [reply.status for reply in replies].count(409) == writers
    applied = sum(1 for reply in replies if reply.status == 200)
    assert applied >= 1
    assert server_b.get("/api/customers/c-1").body["version"] == 1 + applied
