"""The delivery worker's steps: queue each subscription's new events, claim due deliveries, POST
them, record what happened.

Several workers may run at once, on one machine or many. The queue is a table
(WebhookDelivery): a worker claims due deliveries with `FOR UPDATE SKIP LOCKED` on PostgreSQL (two
workers never claim the same row; on SQLite writers are serialised anyway) and stamps a lease on
them, then commits before it sends: no transaction stays open during a POST (it would hold back the
feed, events.feed). A worker killed mid-delivery leaves its lease to lapse, and the delivery is
claimed again (so a delivery may come twice: receivers deduplicate on `webhook-id`).

Order per customer: a delivery is claimed only when no earlier pending delivery of the same
customer to the same subscription exists (one in flight is still pending); other customers never
wait.

The worker (`Worker`) keeps its sending threads busy: while they POST, its own thread records the
answers that came back and claims the next deliveries, in one short transaction per step (one
round trip on PostgreSQL, _step_transaction), so the database's work overlaps the POSTs instead of
alternating with them; it wakes once per batch of answers, not for each. Its transactions commit with
`synchronous_commit` off on PostgreSQL: they only move the queue's bookkeeping (the events
themselves were committed durably by the writes that recorded them), and a server crash that lost
the last of them would only repeat a delivery (at least once), never lose one.
"""

import collections
import contextlib
import datetime as dt
import logging
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
import psycopg
from django.db import connection, transaction
from django.utils import timezone

from events import feed, sender, signing
from events.models import Event, WebhookAttempt, WebhookDelivery, WebhookSubscription
from events.types import ALL_TOPICS
from twc.api.renderers import dumps

logger = logging.getLogger(__name__)

# After the first attempt: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h (with jitter).
RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
JITTER = 0.1
MAX_RETRY_AFTER = 86400
FAILING_DISABLES_AFTER = dt.timedelta(days=3)
LEASE = dt.timedelta(seconds=120)
DISPATCH_BATCH = 1000
# A worker holds at most this many rounds of `concurrency` POSTs claimed, and claims again once
# half are back: 32 rounds (256 at concurrency 8) spread a step's fixed cost (its round trip, the
# planning of its statements, its commit) over about 128 deliveries, and still feed the threads
# for some 40 ms at 3,000 a second while the next step runs (bench/events.py, with the step as it
# was then: 8 rounds 0.44-0.46 of the floor, 32 rounds 0.50-0.53). When receivers hang (10 s
# each), what the threads cannot start within SEND_WITHIN goes back to the queue unsent.
CLAIM_ROUNDS = 32
# A claimed delivery not started within this long of its claim is not sent (its lease would lapse
# during the POST, and another worker could send it too): it goes back to the queue.
SEND_WITHIN = LEASE.total_seconds() - sender.TIMEOUT_SECONDS - 5

# The settings of each of the worker's PostgreSQL transactions (_set_step_settings).
STEP_SETTINGS_SQL = "SELECT set_config('synchronous_commit', 'off', true), set_config('enable_sort', 'off', true)"

Send = Callable[[str, bytes, dict[str, str]], sender.Outcome]

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


def _db_time(value: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """A datetime read with a raw cursor: SQLite gives it naive (in UTC)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _uuid_text(value: Any) -> str:
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(value))


def _in(values: list) -> str:
    return ", ".join(["%s"] * len(values))


@contextlib.contextmanager
def _step_transaction() -> Iterator[None]:
    """The transaction of a worker's step. On PostgreSQL, outside any caller's transaction (the
    worker's case), in psycopg's pipeline mode: BEGIN, the step's statements and COMMIT go to the
    server together and their answers come back together at the end of the block, one round trip
    instead of five. Each round trip cost the worker's thread a wait for the GIL behind its sending
    threads (a third of a step's time in a profile). BEGIN and COMMIT are sent as statements: both
    Django's atomic (it switches autocommit) and psycopg's transaction() sync with the server at
    their edges in a pipeline (four round trips a step when tried; tests/events/test_worker.py
    asserts the one).

    A statement that fails aborts the rest (COMMIT included): its error is raised when the block
    ends, as Django's DatabaseError, and the transaction is rolled back. Elsewhere (SQLite, or
    within a caller's transaction, as in most tests) Django's atomic."""
    if connection.vendor != "postgresql" or not connection.get_autocommit():
        with transaction.atomic():
            yield
        return
    connection.ensure_connection()
    raw = connection.connection
    try:
        with connection.wrap_database_errors, raw.pipeline():
            raw.execute("BEGIN")
            try:
                yield
            except BaseException:
                raw.execute("ROLLBACK")
                raise
            raw.execute("COMMIT")
    except BaseException:
        if not raw.closed and raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            with connection.wrap_database_errors:
                raw.rollback()
        raise


# --- queueing ----------------------------------------------------------------------------------


def _set_step_settings(cursor: Any) -> None:
    """For this transaction only (SET LOCAL): a commit that does not wait for the WAL flush (see the
    module's docstring), and no sorts where an index gives the order (a deliveries table analysed
    while nearly empty made the planner sort the whole queue for every claim: 40 ms a claim with
    16,000 pending, instead of reading the due index from its start).

    Never for the session: behind PgBouncer's transaction pooling a session setting stays on the
    server connection for whoever gets it next. An app server's create then committed without
    waiting for the flush, its answer left before its WAL reached the standby, and the cluster drill
    lost acknowledged writes and read stale lists."""
    if connection.vendor == "postgresql":
        cursor.execute(STEP_SETTINGS_SQL)


def dispatch(*, now: dt.datetime | None = None) -> int:
    """Queue, for every enabled subscription, the events after its position that match its topics.

    One transaction; subscriptions another worker is dispatching are skipped.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        return _dispatch(cursor, now or timezone.now())


def _dispatch(cursor: Any, now: dt.datetime) -> int:
    """Each subscription's next events (up to DISPATCH_BATCH) become deliveries in one INSERT ... SELECT."""
    queued = 0
    # In SQL, not the ORM's select_for_update: the worker's pipelined step is psycopg's transaction,
    # which Django does not see (_step_transaction).
    lock = "FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    cursor.execute(
        f"SELECT id, store_id, topics, cursor_xid, cursor_seq FROM {SUBSCRIPTIONS} WHERE enabled ORDER BY id {lock}"
    )
    subscriptions = cursor.fetchall()
    pk = WebhookSubscription._meta.pk
    assert pk is not None
    at = _db_time(now)
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
        by_type = f"AND type IN ({_in(wanted)})" if wanted else ""
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

    The worker's transactions have sorts off (_set_step_settings), and both parts are written so
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
        rows = _lease(cursor, limit, now)
        return _claimed(cursor.fetchall() if rows is None else rows, now)


def _lease(cursor: Any, limit: int, now: dt.datetime) -> list[tuple] | None:
    """Lease due deliveries. On PostgreSQL one statement (the lease in a CTE, joined to the events
    and subscriptions) whose rows the caller reads from `cursor` (returns None: in the worker's
    pipelined step they arrive with the commit); on SQLite the lease, then the join (returns the rows)."""
    params = [_db_time(now + LEASE), _db_time(now), _db_time(now), limit]
    if connection.vendor == "postgresql":
        cursor.execute(f"WITH c AS ({_lease_sql()}) SELECT {_CLAIMED_COLUMNS} FROM c {_CLAIMED_JOINS}", params)
        return None
    cursor.execute(_lease_sql(), params)
    ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return []
    cursor.execute(f"SELECT {_CLAIMED_COLUMNS} FROM {DELIVERIES} c {_CLAIMED_JOINS} WHERE c.id IN ({_in(ids)})", ids)
    rows: list[tuple] = cursor.fetchall()
    return rows


def _claimed(rows: list[tuple], now: dt.datetime) -> list[Claimed]:
    """The leased rows (_CLAIMED_COLUMNS) as deliveries to send, in id order."""
    subscriptions: dict[Any, Subscription] = {}
    claimed = []
    for delivery_id, attempts, event_key, type_, occurred_at, data, subscription_id, *subscription_row in sorted(
        rows, key=lambda row: row[0]
    ):
        subscription = subscriptions.get(subscription_id)
        if subscription is None:
            url, secret, previous, previous_until, failing_since = subscription_row
            previous_until = _aware(previous_until)
            keys = (secret, previous) if previous and previous_until and previous_until > now else (secret,)
            subscription = Subscription(id=subscription_id, url=url, keys=keys, failing_since=_aware(failing_since))
            subscriptions[subscription_id] = subscription
        claimed.append(
            Claimed(
                id=delivery_id,
                attempts=attempts,
                subscription=subscription,
                event_id=_uuid_text(event_key),
                event_key=event_key,
                type=type_,
                occurred_at=_aware(occurred_at),  # type: ignore[arg-type]
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


# --- recording ---------------------------------------------------------------------------------


def next_delay(attempts: int, retry_after: float | None) -> float | None:
    """Seconds before the next attempt after `attempts` failed ones; None: give up."""
    if attempts > len(RETRY_SCHEDULE):
        return None
    if retry_after is not None:
        return min(max(retry_after, 1.0), MAX_RETRY_AFTER)
    return RETRY_SCHEDULE[attempts - 1] * random.uniform(1 - JITTER, 1 + JITTER)


_ATTEMPT_COLUMNS = "delivery_id, subscription_id, event_id, attempt, status_code, error, duration_ms, attempted_at"
# The outcomes come as one JSON array of rows (_outcome_rows): psycopg writing seven arrays out
# element by element cost 6.6 us a delivery in the worker's thread, orjson 0.1. A delivery deleted
# meanwhile (its subscription was) is neither updated nor given an attempt: the attempts are those
# of the deliveries the UPDATE locked and changed.
_PG_RECORD = f"""
    WITH a AS (
        SELECT (r->>0)::bigint AS delivery_id, (r->>1)::uuid AS subscription_id, (r->>2)::uuid AS event_id,
               (r->>3)::int AS attempt, (r->>4)::int AS status_code, r->>5 AS error, (r->>6)::int AS duration_ms,
               r->>7 AS state, (r->>8)::timestamptz AS next_attempt_at
        FROM jsonb_array_elements(%s::jsonb) AS r
    ), recorded AS (
        UPDATE {DELIVERIES} d
        SET state = a.state, attempts = a.attempt, leased_until = NULL,
            next_attempt_at = coalesce(a.next_attempt_at, d.next_attempt_at),
            finished_at = CASE WHEN a.state = 'pending' THEN NULL ELSE %s::timestamptz END
        FROM a WHERE d.id = a.delivery_id
        RETURNING d.id
    )
    INSERT INTO {ATTEMPTS} ({_ATTEMPT_COLUMNS})
    SELECT a.delivery_id, a.subscription_id, a.event_id, a.attempt, a.status_code, a.error, a.duration_ms,
           %s::timestamptz
    FROM a JOIN recorded ON recorded.id = a.delivery_id
"""
# SQLite (no writing CTEs): the same rows, in two statements; its writers are serialised, so no
# delivery can go between them.
_SQLITE_RECORD_DELIVERIES = f"""
    UPDATE {DELIVERIES}
    SET state = a.state, attempts = a.attempt, leased_until = NULL,
        next_attempt_at = coalesce(a.next_attempt_at, {DELIVERIES}.next_attempt_at),
        finished_at = CASE WHEN a.state = 'pending' THEN NULL ELSE %s END
    FROM (SELECT value->>0 AS delivery_id, value->>3 AS attempt, value->>7 AS state, value->>8 AS next_attempt_at
          FROM json_each(%s)) AS a
    WHERE {DELIVERIES}.id = a.delivery_id
"""
_SQLITE_RECORD_ATTEMPTS = f"""
    INSERT INTO {ATTEMPTS} ({_ATTEMPT_COLUMNS})
    SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, %s FROM json_each(%s)
    WHERE value->>0 IN (SELECT id FROM {DELIVERIES})
"""


def _outcome_rows(results: list[tuple[Claimed, sender.Outcome]], now: dt.datetime) -> list[list]:
    """Per attempt: delivery, subscription, event, attempt number, status, error, duration, and the
    delivery's next state: delivered, pending again (with its next attempt's time) or failed."""
    rows = []
    for d, o in results:
        attempt = d.attempts + 1
        state, next_attempt_at = "delivered", None
        if not o.delivered:
            delay = next_delay(attempt, o.retry_after)
            if delay is None:
                state = "failed"
            else:
                state, next_attempt_at = "pending", _db_time(now + dt.timedelta(seconds=delay))
        rows.append(
            [d.id, d.subscription.id, d.event_key, attempt, o.status, o.error, o.duration_ms, state, next_attempt_at]
        )
    return rows


def _record(cursor: Any, results: list[tuple[Claimed, sender.Outcome]], now: dt.datetime) -> None:
    """What came back, in one statement on PostgreSQL: each attempt's row, and its delivery
    delivered, due again later, or given up; then the subscriptions' failing streaks."""
    if not results:
        return
    at = _db_time(now)
    rows = orjson.dumps(_outcome_rows(results, now)).decode()
    if connection.vendor == "postgresql":
        cursor.execute(_PG_RECORD, [rows, at, at])
    else:
        cursor.execute(_SQLITE_RECORD_ATTEMPTS, [at, rows])
        cursor.execute(_SQLITE_RECORD_DELIVERIES, [at, rows])
    _record_subscriptions(cursor, results, now)


def _record_subscriptions(cursor: Any, results: list[tuple[Claimed, sender.Outcome]], now: dt.datetime) -> None:
    """A success ends a subscription's failing streak; a failure starts one; a 410, or a streak of 3
    days, disables the subscription."""
    outcomes: dict[Any, tuple[Subscription, list[sender.Outcome]]] = {}
    for d, o in results:
        outcomes.setdefault(d.subscription.id, (d.subscription, []))[1].append(o)
    for subscription, answers in outcomes.values():
        failing_since = subscription.failing_since
        gone = False
        for outcome in answers:
            if outcome.delivered:
                failing_since = None
            else:
                failing_since = failing_since or now
                gone = gone or outcome.status == 410
        reason = ""
        if gone:
            reason = "The receiver answered 410 Gone."
        elif failing_since is not None and now - failing_since >= FAILING_DISABLES_AFTER:
            reason = "Every delivery failed for 3 days."
        if reason:
            logger.warning("webhook %s disabled: %s", _uuid_text(subscription.id), reason)
            cursor.execute(
                f"UPDATE {SUBSCRIPTIONS} SET failing_since = %s, enabled = %s, disabled_reason = %s, updated_at = %s "
                "WHERE id = %s",
                [_db_time(failing_since) if failing_since else None, False, reason, _db_time(now), subscription.id],
            )
        elif failing_since != subscription.failing_since:
            cursor.execute(
                f"UPDATE {SUBSCRIPTIONS} SET failing_since = %s WHERE id = %s",
                [_db_time(failing_since) if failing_since else None, subscription.id],
            )


def _release(cursor: Any, ids: list[int]) -> None:
    """Claimed deliveries this worker will not send (stopping, or too late): back to the queue now."""
    if ids:
        cursor.execute(f"UPDATE {DELIVERIES} SET leased_until = NULL WHERE id IN ({_in(ids)})", ids)  # rare


# --- the worker --------------------------------------------------------------------------------


class _Job(NamedTuple):
    delivery: Claimed
    send_by: float  # time.monotonic(): not started after it


class Worker:
    """`concurrency` sending threads fed from a queue, and the loop (`run`) that claims for them and
    records what they did. One per process or thread that delivers; `close()` ends its threads."""

    def __init__(self, *, concurrency: int = 8, send: Send = sender.post):
        self.concurrency = concurrency
        self.send = send
        self.capacity = concurrency * CLAIM_ROUNDS
        self.refill_at = self.capacity // 2  # claimed and not yet back: at or below it, claim again
        self.recorded = 0  # attempts recorded since the start (the benchmark reads it)
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        # What the sending threads finished: appended by them, taken by the loop (_collect).
        self._results: collections.deque[tuple[_Job, sender.Outcome | None]] = collections.deque()
        self._back = threading.Event()  # set by a sending thread once `_wake_when` results wait
        self._wake_when = 1
        self._dropping = False
        # What a run stopped by an error could not record (answers, and claims given back), and when:
        # the next run records it first, while the leases are still this worker's, so a database
        # outage repeats no delivery. Later, another worker may have sent and recorded them since.
        self._unrecorded: tuple[list[tuple[Claimed, sender.Outcome]], list[int]] = ([], [])
        self._unrecorded_at = 0.0
        self._threads = [
            threading.Thread(target=self._send_loop, name=f"webhook-{i}", daemon=True) for i in range(concurrency)
        ]
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()

    def _send_loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            outcome = None
            if not self._dropping and time.monotonic() <= job.send_by:
                try:
                    body, headers = request_of(job.delivery, now=timezone.now())
                    outcome = self.send(job.delivery.subscription.url, body, headers)
                except Exception:  # a bug must not kill the thread; the lease lapses, it is sent again
                    logger.exception("webhook delivery %s: sending failed", job.delivery.id)
            self._results.append((job, outcome))
            if len(self._results) >= self._wake_when:
                self._back.set()

    def run(
        self,
        *,
        stopping: Callable[[], bool] | None = None,
        until_idle: bool = False,
        poll: float = 0.5,
        timeout: float | None = None,
    ) -> int:
        """Deliver until `stopping()` turns true (or `timeout` seconds pass, or, with `until_idle`,
        nothing is due). Returns the attempts recorded.

        On a stop, the POSTs in flight finish (at most 10 s) and are recorded; the claimed ones not
        yet started go back to the queue. A database error stops the run the same way and is raised;
        what it could not record is recorded by the next run (deliver_webhooks starts one once the
        database answers again), or, if none comes, sent again once its lease lapses."""
        deadline = None if timeout is None else time.monotonic() + timeout
        finished, dropped = self._unrecorded
        self._unrecorded = ([], [])
        if time.monotonic() - self._unrecorded_at > SEND_WITHIN:
            finished, dropped = [], []  # their leases have lapsed: they go again, as after a crash
        outstanding = len(finished) + len(dropped)  # claimed and not yet recorded
        recorded = 0
        more_due = False  # the last claim filled what it asked for: more may be due without queueing
        claimed_at = -float("inf")
        short_without_queueing = False  # the last claim came back short, and no events were queued before it
        try:
            while True:
                stop = (stopping is not None and stopping()) or (deadline is not None and time.monotonic() > deadline)
                if stop:
                    self._dropping = True
                    if outstanding == 0:
                        break
                unfinished = outstanding - len(finished) - len(dropped)
                now_mono = time.monotonic()
                want_claim = (
                    not stop
                    and unfinished <= self.refill_at
                    and (
                        more_due
                        or short_without_queueing
                        or now_mono - claimed_at >= poll
                        or (until_idle and (finished or dropped))
                    )
                )
                want_record = bool(finished or dropped) and (
                    want_claim or unfinished == 0 or len(finished) >= self.refill_at
                )
                if want_claim or want_record:
                    # New events are queued when the due deliveries ran short, so the queue table holds
                    # about what is to be sent next (up to DISPATCH_BATCH a subscription), not the whole
                    # backlog: queueing 1,000 events every 0.5 s while busy grew it to 200,000 rows
                    # and took the worker's thread from claiming.
                    dispatch_now = bool(want_claim and not more_due)
                    jobs = self._step(
                        finished, dropped, claim=self.capacity - unfinished if want_claim else 0, dispatch=dispatch_now
                    )
                    recorded += len(finished)
                    self.recorded += len(finished)
                    outstanding -= len(finished) + len(dropped)
                    finished, dropped = [], []
                    if want_claim:
                        claimed_at = now_mono
                        more_due = len(jobs) == self.capacity - unfinished
                        short_without_queueing = not more_due and not dispatch_now
                        for job in jobs:
                            self._jobs.put(job)
                        outstanding += len(jobs)
                        if not jobs and outstanding == 0 and dispatch_now:
                            if until_idle:
                                break
                            self._sleep(poll, stopping, deadline)
                            continue
                unfinished = outstanding - len(finished) - len(dropped)
                if unfinished > 0:
                    # Back to the claim when enough are back to claim again (or all are), not per POST.
                    refill = self.refill_at
                    self._collect(finished, dropped, wanted=unfinished - refill if unfinished > refill else unfinished)
                elif not want_claim:
                    self._sleep(max(0.0, claimed_at + poll - time.monotonic()), stopping, deadline)
        except BaseException:
            self._dropping = True
            self._wait_for(outstanding - len(finished) - len(dropped))
            self._collect(finished, dropped, wanted=0)
            self._unrecorded, self._unrecorded_at = (finished, dropped), time.monotonic()
            raise
        finally:
            self._dropping = False
        return recorded

    def _step(
        self, finished: list[tuple[Claimed, sender.Outcome]], dropped: list[int], *, claim: int, dispatch: bool
    ) -> list[_Job]:
        """One transaction: record what came back, queue new events, claim the next deliveries."""
        now = timezone.now()
        with connection.cursor() as cursor:
            with _step_transaction():
                _set_step_settings(cursor)
                _record(cursor, finished, now)
                _release(cursor, dropped)
                if dispatch:
                    _dispatch(cursor, now)
                rows = _lease(cursor, claim, now) if claim else []
            claimed = _claimed(cursor.fetchall() if rows is None else rows, now)
        send_by = time.monotonic() + SEND_WITHIN
        return [_Job(delivery, send_by) for delivery in claimed]

    def _collect(self, finished: list[tuple[Claimed, sender.Outcome]], dropped: list[int], *, wanted: int) -> None:
        """Take what the sending threads have finished, once `wanted` are back (or after 0.1 s).

        The loop wakes once a batch: woken for each POST that came back, its thread took the GIL
        from the sending threads thousands of times a second for a result or two each time."""
        self._await(wanted, 0.1)
        while self._results:
            job, outcome = self._results.popleft()
            if outcome is None:
                dropped.append(job.delivery.id)
            else:
                finished.append((job.delivery, outcome))

    def _await(self, count: int, seconds: float) -> None:
        """Until `count` results wait, or `seconds` pass (an append and its check by a sending
        thread are each atomic: a result appended after the length is read sets the event)."""
        self._wake_when = count
        self._back.clear()
        if len(self._results) < count:
            self._back.wait(seconds)

    def _wait_for(self, count: int) -> None:
        while len(self._results) < count:
            self._await(count, 0.1)

    @staticmethod
    def _sleep(seconds: float, stopping: Callable[[], bool] | None, deadline: float | None) -> None:
        end = time.monotonic() + seconds
        if deadline is not None:
            end = min(end, deadline)
        while time.monotonic() < end and not (stopping is not None and stopping()):
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))


def drain(*, concurrency: int = 8, send: Send = sender.post, timeout: float = 60) -> int:
    """Deliver until nothing is due (tests, and `deliver_webhooks --until-idle`). Returns the attempts."""
    worker = Worker(concurrency=concurrency, send=send)
    try:
        return worker.run(until_idle=True, timeout=timeout)
    finally:
        worker.close()
