"""The delivery worker (`Worker`, run by `manage.py deliver_webhooks`): sending threads POST the
claimed deliveries while its own thread records the answers that came back and claims the next
ones, in one short transaction per step (one round trip on PostgreSQL, _step_transaction), so the
database's work overlaps the POSTs instead of alternating with them; it wakes once per batch of
answers, not for each. The statements are events.delivery's and events.outcomes'.

Its transactions commit with `synchronous_commit` off on PostgreSQL: they only move the queue's
bookkeeping (the events themselves were committed durably by the writes that recorded them), and a
server crash that lost the last of them would only repeat a delivery (at least once), never lose one.
"""

import collections
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import psycopg
from django.db import connection, transaction
from django.utils import timezone

from events import outcomes, sender
from events.delivery import LEASE, Claimed, claimed_of, lease, queue_events, request_of

logger = logging.getLogger(__name__)

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
                outcomes.record(cursor, finished, now)
                outcomes.release(cursor, dropped)
                if dispatch:
                    queue_events(cursor, now)
                rows = lease(cursor, claim, now) if claim else []
            claimed = claimed_of(cursor.fetchall() if rows is None else rows, now)
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
