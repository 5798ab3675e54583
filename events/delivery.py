"""The delivery queue's statements: queue each subscription's new events, lease due deliveries,
and build their Standard Webhooks requests. The worker that runs them is events.worker; what it
records of each attempt, events.outcomes.

Several workers may run at once, on one machine or many. The queue is a table
(WebhookDelivery): a worker claims due deliveries with `FOR UPDATE SKIP LOCKED` on PostgreSQL (two
workers never claim the same row; on SQLite writers are serialised anyway) and stamps a lease on
them, then commits before it sends: no transaction stays open during a POST (it would hold back the
feed, events.feed). A worker killed mid-delivery leaves its lease to lapse, and the delivery is
claimed again (so a delivery may come twice: receivers deduplicate on `webhook-id`).

Order per customer: a delivery is claimed only when no earlier pending delivery of the same
customer to the same subscription exists (one in flight is still pending); other customers never
wait.
"""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from django.db import connection, transaction
from django.utils import timezone

from events import feed, signing
from events.models import Event, WebhookAttempt, WebhookDelivery, WebhookSubscription
from events.types import ALL_TOPICS
from twc.api.renderers import dumps

LEASE = dt.timedelta(seconds=120)
DISPATCH_BATCH = 1000

DELIVERIES = WebhookDelivery._meta.db_table
SUBSCRIPTIONS = WebhookSubscription._meta.db_table
ATTEMPTS = WebhookAttempt._meta.db_table
EVENTS = Event._meta.db_table


@dataclass(frozen=True)
class Subscription:
    """What the worker needs of a subscription, read when its deliveries are claimed."""

    id: Any  # the column's value as the database gives it back (a UUID on PostgreSQL, hex on SQLite)
    url: str
    keys: tuple[str, ...]  # the secrets that sign: the previous one too, within 24 h of a rotation
    failing_since: dt.datetime | None


class Claimed(NamedTuple):
    """A delivery leased to this worker, with what its request needs (a tuple: a claim builds
    hundreds of them at a time, in the thread the sending threads wait on)."""

    id: int
    attempts: int  # before this attempt
    subscription: Subscription
    event_id: str
    event_key: Any  # event_id as the database gives it back (for the attempt row)
    type: str
    occurred_at: dt.datetime
    data: str  # the event's `data`, as stored (JSON text)


def db_time(value: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """A datetime read with a raw cursor: SQLite gives it naive (in UTC)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def uuid_text(value: Any) -> str:
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(value))


def placeholders(values: list) -> str:
    return ", ".join(["%s"] * len(values))


# --- queueing ----------------------------------------------------------------------------------


def dispatch(*, now: dt.datetime | None = None) -> int:
    """Queue, for every enabled subscription, the events after its position that match its topics.

    One transaction; subscriptions another worker is dispatching are skipped.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        return queue_events(cursor, now or timezone.now())


def queue_events(cursor: Any, now: dt.datetime) -> int:
    """Each subscription's next events (up to DISPATCH_BATCH) become deliveries in one INSERT ... SELECT."""
    queued = 0
    # In SQL, not the ORM's select_for_update: the worker's pipelined step is psycopg's transaction,
    # which Django does not see (events.worker._step_transaction).
    lock = "FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    cursor.execute(
        f"SELECT id, store_id, topics, cursor_xid, cursor_seq FROM {SUBSCRIPTIONS} WHERE enabled ORDER BY id {lock}"
    )
    subscriptions = cursor.fetchall()
    pk = WebhookSubscription._meta.pk
    assert pk is not None
    at = db_time(now)
    for subscription_id, store_id, topics_json, cursor_xid, cursor_seq in subscriptions:
        topics = orjson.loads(topics_json)
        position = (cursor_xid, cursor_seq)
        batch = feed.settled(feed.after_position(Event.objects.filter(store_id=store_id), position))
        last = list(batch.order_by("xid", "seq").values_list("xid", "seq")[:DISPATCH_BATCH])
        if not last:
            continue
        end = last[-1]
        # Every event up to `end` is settled: its transaction has ended, so none can still appear
        # in (position, end] between this statement and the last.
        wanted = [] if ALL_TOPICS in topics else [topic for topic in topics if isinstance(topic, str)]
        by_type = f"AND type IN ({placeholders(wanted)})" if wanted else ""
        cursor.execute(
            f"""
            INSERT INTO {DELIVERIES} (subscription_id, event_id, customer_key, state, attempts, next_attempt_at,
                                      created_at)
            SELECT %s, seq, customer_key, 'pending', 0, %s, %s FROM {EVENTS}
            WHERE store_id = %s AND (xid, seq) > (%s, %s) AND (xid, seq) <= (%s, %s) {by_type}
            """,
            [pk.get_db_prep_value(subscription_id, connection), at, at, store_id, *position, *end, *wanted],
        )
        queued += max(cursor.rowcount, 0)
        cursor.execute(
            f"UPDATE {SUBSCRIPTIONS} SET cursor_xid = %s, cursor_seq = %s WHERE id = %s",
            [*end, pk.get_db_prep_value(subscription_id, connection)],
        )
    return queued


# --- claiming ----------------------------------------------------------------------------------


def _lease_sql() -> str:
    """Lease the next due deliveries: those of enabled subscriptions, not leased, each the earliest
    pending one of its customer to its subscription.

    The worker's transactions have sorts off (events.worker._set_step_settings), and both parts are written so
    that only an index read in order answers them without a sort: the candidates in the due index
    (next_attempt_at, id), each customer's first pending delivery in the order index
    (subscription, customer_key, id). So a claim costs its batch whatever the queue's length and
    however stale the statistics: with statistics taken while the queue was empty, PostgreSQL
    sorted the whole queue for every claim, or answered "no earlier pending delivery of this
    customer" by scanning the due index (40 ms a claim with 16,000 pending).
    """
    lock = "FOR UPDATE OF d SKIP LOCKED" if connection.vendor == "postgresql" else ""
    return f"""
        UPDATE {DELIVERIES} SET leased_until = %s
        WHERE id IN (
            SELECT d.id FROM {DELIVERIES} d JOIN {SUBSCRIPTIONS} s ON s.id = d.subscription_id
            WHERE d.state = 'pending' AND d.next_attempt_at <= %s
              AND (d.leased_until IS NULL OR d.leased_until < %s) AND s.enabled
              AND (d.customer_key IS NULL OR d.id = (
                  SELECT e.id FROM {DELIVERIES} e
                  WHERE e.state = 'pending' AND e.subscription_id = d.subscription_id
                    AND e.customer_key = d.customer_key
                  ORDER BY e.id LIMIT 1))
            ORDER BY d.next_attempt_at, d.id
            LIMIT %s
            {lock}
        )
        RETURNING id, subscription_id, event_id, attempts
    """


# What a claimed delivery's request needs, from the leased rows `c` (id, subscription_id, event_id, attempts).
_CLAIMED_COLUMNS = (
    "c.id, c.attempts, e.event_id, e.type, e.occurred_at, e.data, "
    "s.id, s.url, s.secret, s.previous_secret, s.previous_secret_until, s.failing_since"
)
_CLAIMED_JOINS = f"JOIN {EVENTS} e ON e.seq = c.event_id JOIN {SUBSCRIPTIONS} s ON s.id = c.subscription_id"


def claim(*, limit: int, now: dt.datetime | None = None) -> list[Claimed]:
    """Lease up to `limit` due deliveries to this worker (committed before anything is sent)."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        rows = lease(cursor, limit, now)
        return claimed_of(cursor.fetchall() if rows is None else rows, now)


def lease(cursor: Any, limit: int, now: dt.datetime) -> list[tuple] | None:
    """Lease due deliveries. On PostgreSQL one statement (the lease in a CTE, joined to the events
    and subscriptions) whose rows the caller reads from `cursor` (returns None: in the worker's
    pipelined step they arrive with the commit); on SQLite the lease, then the join (returns the rows)."""
    params = [db_time(now + LEASE), db_time(now), db_time(now), limit]
    if connection.vendor == "postgresql":
        cursor.execute(f"WITH c AS ({_lease_sql()}) SELECT {_CLAIMED_COLUMNS} FROM c {_CLAIMED_JOINS}", params)
        return None
    cursor.execute(_lease_sql(), params)
    ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return []
    cursor.execute(
        f"SELECT {_CLAIMED_COLUMNS} FROM {DELIVERIES} c {_CLAIMED_JOINS} WHERE c.id IN ({placeholders(ids)})", ids
    )
    rows: list[tuple] = cursor.fetchall()
    return rows


def claimed_of(rows: list[tuple], now: dt.datetime) -> list[Claimed]:
    """The leased rows (_CLAIMED_COLUMNS) as deliveries to send, in id order."""
    subscriptions: dict[Any, Subscription] = {}
    claimed = []
    for delivery_id, attempts, event_key, type_, occurred_at, data, subscription_id, *subscription_row in sorted(
        rows, key=lambda row: row[0]
    ):
        subscription = subscriptions.get(subscription_id)
        if subscription is None:
            url, secret, previous, previous_until, failing_since = subscription_row
            previous_until = aware(previous_until)
            keys = (secret, previous) if previous and previous_until and previous_until > now else (secret,)
            subscription = Subscription(id=subscription_id, url=url, keys=keys, failing_since=aware(failing_since))
            subscriptions[subscription_id] = subscription
        claimed.append(
            Claimed(
                id=delivery_id,
                attempts=attempts,
                subscription=subscription,
                event_id=uuid_text(event_key),
                event_key=event_key,
                type=type_,
                occurred_at=aware(occurred_at),  # type: ignore[arg-type]
                data=data,
            )
        )
    return claimed


def request_of(delivery: Claimed, *, now: dt.datetime) -> tuple[bytes, dict[str, str]]:
    """The Standard Webhooks request: body {"type", "timestamp", "data"} and the three headers."""
    body = dumps(
        {"type": delivery.type, "timestamp": delivery.occurred_at.isoformat(), "data": orjson.loads(delivery.data)}
    )
    timestamp = int(now.timestamp())
    headers = {
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(delivery.subscription.keys, delivery.event_id, timestamp, body),
    }
    return body, headers
