"""The pipelined worker (events.worker.Worker): a claimed delivery started too late is given back,
not sent; the worker's settings never outlive its transactions (a PgBouncer server connection serves
other clients next)."""

import io
import logging
import threading
import time

import pytest
from django.core.management import call_command
from django.db import DatabaseError, InterfaceError, connection, connections

from events import outcomes, sender
from events import worker as delivery_worker
from events.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from events.webhooks import webhook_create
from events.worker import Worker, drain
from tests.events.test_feed import wait_settled
from tests.factories import customer_make

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("loopback_allowed")]


def test_a_delivery_claimed_too_long_ago_is_given_back_not_sent(store_a, receiver, monkeypatch):
    webhook_create(store=store_a, data={"url": receiver.url, "topics": ["*"]})
    customer_make(store=store_a, id="c-1", email="a@x.com")
    wait_settled()
    monkeypatch.setattr(delivery_worker, "SEND_WITHIN", -1.0)  # every claim is already too old to send
    worker = Worker(concurrency=2)
    try:
        assert worker.run(until_idle=True, timeout=1.0) == 0
    finally:
        worker.close()
    assert receiver.received == []
    record = WebhookDelivery.objects.get()
    assert (record.state, record.attempts, record.leased_until) == ("pending", 0, None)  # back in the queue
    assert not WebhookAttempt.objects.exists()
    monkeypatch.undo()
    drain(concurrency=2)
    assert len(receiver.received) == 1


def test_the_workers_settings_never_outlive_its_transactions(store_a, receiver):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's session settings")
    webhook_create(store=store_a, data={"url": receiver.url, "topics": ["*"]})
    customer_make(store=store_a, id="c-1", email="a@x.com")
    wait_settled()
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        before = cursor.fetchone()[0]
        drain(concurrency=2)
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == before
        cursor.execute("SHOW enable_sort")
        assert cursor.fetchone()[0] == "on"
    assert len(receiver.received) == 1


def test_a_workers_step_leaves_the_session_as_it_found_it(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's settings")
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        before = cursor.fetchone()[0]
    worker = Worker(concurrency=1)
    try:
        worker._step([], [], claim=1, dispatch=True)
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == before
            cursor.execute("SHOW enable_sort")
            assert cursor.fetchone()[0] == "on"
    finally:
        worker.close()


def _claim_two(store, receiver):
    """A worker that has queued and claimed two customers' first events (one step)."""
    webhook_create(store=store, data={"url": receiver.url, "topics": ["*"]})
    customer_make(store=store, id="c-1", email="a@x.com")
    customer_make(store=store, id="c-2", email="b@x.com")
    wait_settled()
    worker = Worker(concurrency=1)
    jobs = worker._step([], [], claim=10, dispatch=True)
    assert len(jobs) == 2
    return worker, [(job.delivery, sender.Outcome(200, "", 3)) for job in jobs]


def test_a_steady_step_reaches_postgresql_in_one_round_trip(store_a, receiver, monkeypatch):
    """Record and claim in one pipeline: a single Sync, and no result waited for before it."""
    if connection.vendor != "postgresql":
        pytest.skip("psycopg's pipeline mode")
    from psycopg._pipeline_base import BasePipeline

    worker, results = _claim_two(store_a, receiver)
    syncs, flushes = [], []
    enqueue_sync, fetch_gen = BasePipeline._enqueue_sync, BasePipeline._fetch_gen
    monkeypatch.setattr(BasePipeline, "_enqueue_sync", lambda self: syncs.append(1) or enqueue_sync(self))
    monkeypatch.setattr(
        BasePipeline, "_fetch_gen", lambda self, *, flush: (flush and flushes.append(1)) or fetch_gen(self, flush=flush)
    )
    try:
        assert worker._step(results, [], claim=10, dispatch=False) == []
    finally:
        monkeypatch.undo()
        worker.close()
    assert (len(syncs), len(flushes)) == (1, 1)  # the pipeline's end: one Sync, its answers read once
    assert sorted(WebhookDelivery.objects.values_list("state", "attempts")) == [("delivered", 1)] * 2
    assert WebhookAttempt.objects.filter(status_code=200).count() == 2


def test_a_failed_statement_rolls_the_whole_step_back(store_a, receiver, monkeypatch):
    """On PostgreSQL the error arrives with the pipeline's end, after COMMIT was queued: nothing of
    the step is kept, the error is Django's, and the connection is usable (no transaction left open)."""
    worker, results = _claim_two(store_a, receiver)
    real_release = outcomes.release

    def release_failing(cursor, ids):
        real_release(cursor, ids)
        cursor.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(outcomes, "release", release_failing)
    try:
        with pytest.raises(DatabaseError):
            worker._step(results, [], claim=10, dispatch=False)
    finally:
        worker.close()
    assert sorted(WebhookDelivery.objects.values_list("state", "attempts")) == [("pending", 0)] * 2
    assert not WebhookAttempt.objects.exists()
    if connection.vendor == "postgresql":
        from psycopg.pq import TransactionStatus

        assert connection.connection.info.transaction_status == TransactionStatus.IDLE


def test_a_delivery_whose_subscription_was_deleted_meanwhile_is_skipped(store_a, receiver):
    """Deleted mid-POST with its subscription: the others of the step are recorded, and no attempt
    refers to a delivery that is gone."""
    from events.webhooks import webhook_delete

    worker, results = _claim_two(store_a, receiver)
    other, _ = webhook_create(store=store_a, data={"url": receiver.url, "topics": ["*"]})
    gone = results[0][0].subscription.id
    webhook_delete(store=store_a, webhook_id=str(gone))
    try:
        worker._step(results, [], claim=0, dispatch=False)
    finally:
        worker.close()
    assert not WebhookDelivery.objects.filter(subscription_id=gone).exists()
    assert not WebhookAttempt.objects.exists()
    assert WebhookSubscription.objects.filter(pk=other.pk).exists()


def _terminate_other_backends():
    """From a connection of its own: end every other session of the test database (the worker's)."""

    def terminate():
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
        finally:
            connection.close()

    thread = threading.Thread(target=terminate)
    thread.start()
    thread.join(10)


def _run_into_an_outage(store, receiver, customers: int):
    """A worker whose run was stopped by the database going away after its first POST."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL sessions to end")
    webhook_create(store=store, data={"url": receiver.url, "topics": ["*"]})
    for number in range(customers):
        customer_make(store=store, id=f"c-{number}", email=f"c{number}@x.com")
    wait_settled()
    outage = threading.Event()

    def send(url, body, headers):
        outcome = sender.post(url, body, headers)
        if not outage.is_set():
            outage.set()
            _terminate_other_backends()  # the worker's connection is gone before it records this
        return outcome

    worker = Worker(concurrency=2, send=send)
    with pytest.raises((DatabaseError, InterfaceError)):
        worker.run(until_idle=True, timeout=30)
    connections.close_all()  # as deliver_webhooks does before it starts again
    return worker


@pytest.mark.postgres
def test_after_a_database_outage_the_next_run_records_what_was_sent(store_a, receiver):
    """The answers a run could not record are recorded by the next one: none is sent twice."""
    worker = _run_into_an_outage(store_a, receiver, customers=6)
    try:
        worker.run(until_idle=True, timeout=30)
    finally:
        worker.close()
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 6 and len(set(ids)) == 6
    assert list(WebhookDelivery.objects.values_list("state", flat=True).distinct()) == ["delivered"]
    assert WebhookAttempt.objects.count() == 6


@pytest.mark.postgres
def test_answers_older_than_their_leases_are_not_recorded_but_sent_again(store_a, receiver):
    """Past SEND_WITHIN another worker may have sent and recorded them since: they go again."""
    worker = _run_into_an_outage(store_a, receiver, customers=6)
    sent_before = len(receiver.received)
    worker._unrecorded_at -= delivery_worker.SEND_WITHIN + 1  # the database came back too late
    try:
        worker.run(until_idle=True, timeout=30)
        assert WebhookAttempt.objects.count() == 6 - sent_before  # those sent before it: not recorded
        WebhookDelivery.objects.filter(state="pending").update(leased_until=None)  # their leases lapse
        worker.run(until_idle=True, timeout=30)
    finally:
        worker.close()
    assert {r.headers["webhook-id"] for r in receiver.received} == set(
        str(key) for key in WebhookDelivery.objects.values_list("event__event_id", flat=True)
    )
    assert list(WebhookDelivery.objects.values_list("state", flat=True).distinct()) == ["delivered"]


@pytest.mark.postgres
def test_deliver_webhooks_pauses_through_a_database_outage_and_loses_nothing(store_a, receiver, caplog):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL sessions to end")
    webhook_create(store=store_a, data={"url": receiver.url, "topics": ["*"]})
    for number in range(20):
        customer_make(store=store_a, id=f"c-{number}", email=f"c{number}@x.com")
    wait_settled()

    def answer(received):
        if len(receiver.received) == 5:
            _terminate_other_backends()
        time.sleep(0.01)
        return 200, {}, b"ok"

    receiver.answer = answer
    with caplog.at_level(logging.WARNING, logger="events.management.commands.deliver_webhooks"):
        call_command("deliver_webhooks", "--until-idle", "--concurrency", "2", stdout=io.StringIO())
    assert "database unavailable" in caplog.text
    # An outage that struck while a commit was on its way may leave a lease the worker never saw:
    # that delivery waits for the lease to lapse (made to lapse here), then goes.
    WebhookDelivery.objects.filter(state="pending").update(leased_until=None)
    drain(concurrency=2)
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(ids) == 20
    assert list(WebhookDelivery.objects.values_list("state", flat=True).distinct()) == ["delivered"]
