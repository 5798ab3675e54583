"""GET /api/events and /api/events/{id}: commit order, cursors that never skip an event of a
transaction that committed late, `next` never null, the `types` filter, limits, retention."""

import datetime as dt
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.utils import timezone

from customers.services import customer_create
from events.models import Event
from tests.factories import customer_make

# On PostgreSQL the feed holds back events of transactions still running, the test's own included:
# these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)


def wait_settled(timeout: float = 60) -> None:
    """Wait until every event written so far is past the feed's horizon. Transaction ids are
    cluster-wide: any transaction running on the PostgreSQL server, in any database, holds it back."""
    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT coalesce(max(xid), 0) < pg_snapshot_xmin(pg_current_snapshot())::text::bigint FROM events_event"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)


def follow(client, path="/api/events", **params) -> tuple[list[dict], str]:
    wait_settled()
    response = client.get(path, params)
    assert response.status_code == 200, response.content
    body = response.json()
    return body["events"], body["next"]


def test_the_feed_lists_the_stores_events_in_order(api_a, api_b, store_a, store_b):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    customer_make(store=store_b, id="b-1", email="b@x.com")
    api_a.put("/api/customers", {"id": "c-1", "note": "n"})
    events, cursor = follow(api_a)
    assert [(e["type"], e["data"]["customer"]["id"], e["data"]["customer"]["version"]) for e in events] == [
        ("customers/create", "c-1", 1),
        ("customers/update", "c-1", 2),
    ]
    assert set(events[0]) == {"id", "type", "occurred_at", "data"}
    assert [e["data"]["customer"]["id"] for e in follow(api_b)[0]] == ["b-1"]
    # Following `next`: nothing new yet, and `next` is still a cursor.
    assert follow(api_a, after=cursor) == ([], cursor)
    api_a.delete("/api/customers/c-1")
    events, _ = follow(api_a, after=cursor)
    assert [e["type"] for e in events] == ["customers/delete"]


def test_next_is_never_null(api_a):
    events, cursor = follow(api_a)
    assert events == [] and cursor
    assert follow(api_a, after=cursor) == ([], cursor)


def test_paging_sees_every_event_once(api_a, store_a):
    for number in range(7):
        customer_make(store=store_a, id=f"c-{number}", email=f"c{number}@x.com")
    seen, cursor = [], None
    for _ in range(5):
        params = {"limit": 3} | ({"after": cursor} if cursor else {})
        events, cursor = follow(api_a, **params)
        seen += [e["data"]["customer"]["id"] for e in events]
    assert seen == [f"c-{number}" for number in range(7)]


def test_types_filter(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    api_a.delete("/api/customers/c-1")
    events, _ = follow(api_a, types="customers/delete,orders/create")
    assert [e["type"] for e in events] == ["customers/delete"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"types": "customers/nope"}, "types"),
        ({"types": ","}, "types"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"after": "0.0"}, "after"),
        ({"after": "999.999:forged"}, "after"),
        ({"page_info": "x"}, "page_info"),
    ],
)
def test_bad_parameters_are_400(api_a, params, field):
    response = api_a.get("/api/events", params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "InvalidField"
    assert response.json()["errors"][0]["field"] == field


def test_limit_bounds(api_a, store_a):
    for number in range(3):
        customer_make(store=store_a, id=f"c-{number}", email=f"c{number}@x.com")
    assert len(follow(api_a, limit=1000)[0]) == 3
    assert len(follow(api_a, limit=1)[0]) == 1


def test_one_event_by_id(api_a, api_b, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    event = Event.objects.get()
    response = api_a.get(f"/api/events/{event.event_id}")
    assert response.status_code == 200
    assert response.json()["data"]["customer"]["id"] == "c-1"
    assert api_b.get(f"/api/events/{event.event_id}").status_code == 404
    assert api_a.get("/api/events/not-a-uuid").status_code == 404


def test_the_feed_needs_the_read_scope(scoped_client):
    assert scoped_client("customers:write").get("/api/events").status_code == 403
    assert scoped_client("customers:read").get("/api/events").status_code == 200


def test_retention_deletes_events_older_than_the_setting(store_a, settings):
    settings.EVENTS_RETENTION_DAYS = 30
    customer_make(store=store_a, id="old", email="old@x.com")
    customer_make(store=store_a, id="new", email="new@x.com")
    Event.objects.filter(data__customer__id="old").update(occurred_at=timezone.now() - dt.timedelta(days=31))
    call_command("erase_deleted_customers", "--older-than", "30", stdout=open("/dev/null", "w"))
    assert [e.data["customer"]["id"] for e in Event.objects.all()] == ["new"]


@pytest.mark.postgres
def test_an_event_of_a_transaction_that_commits_late_is_not_skipped(api_a, store_a):
    """A long transaction writes its event first; a short one that began later commits first. A reader
    following `next` meanwhile must still see the long one's event when it commits."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's transaction ids")
    _, cursor = follow(api_a)
    long_wrote, release = threading.Event(), threading.Event()

    def long_transaction():
        try:
            with transaction.atomic():
                customer_create(store=store_a, data={"id": "slow", "email": "slow@x.com"})
                long_wrote.set()
                release.wait(30)
        finally:
            connections.close_all()

    worker = threading.Thread(target=long_transaction)
    worker.start()
    assert long_wrote.wait(30)
    customer_make(store=store_a, id="fast", email="fast@x.com")  # commits first
    assert (
        Event.objects.filter(data__customer__id="fast").get().seq
        > Event.objects.filter(data__customer__id="slow").get().seq
        if Event.objects.filter(data__customer__id="slow").exists()
        else True
    )
    seen = []
    # The slow one is running: the fast one, committed, waits behind it.
    events = api_a.get("/api/events", {"after": cursor}).json()["events"]
    assert events == []
    release.set()
    worker.join(30)
    deadline = timezone.now() + dt.timedelta(seconds=30)
    while len(seen) < 2 and timezone.now() < deadline:
        events, cursor = follow(api_a, after=cursor)
        seen += [e["data"]["customer"]["id"] for e in events]
    assert sorted(seen) == ["fast", "slow"]
    assert len(seen) == 2
