"""The pipelined worker (events.delivery.Worker): a claimed delivery started too late is given back,
not sent; the worker's settings never outlive its transactions (a PgBouncer server connection serves
other clients next)."""

import pytest
from django.db import connection

from events import delivery, sender
from events.models import WebhookAttempt, WebhookDelivery
from events.webhooks import webhook_create
from tests.events.receiver import Receiver, start
from tests.events.test_feed import wait_settled
from tests.factories import customer_make

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    sender.close_idle()
    yield
    sender.close_idle()


@pytest.fixture
def receiver():
    receiver = Receiver()
    server = start(receiver)
    yield receiver
    server.shutdown()
    server.server_close()


def test_a_delivery_claimed_too_long_ago_is_given_back_not_sent(store_a, receiver, monkeypatch):
    webhook_create(store=store_a, data={"url": receiver.url, "topics": ["*"]})
    customer_make(store=store_a, id="c-1", email="a@x.com")
    wait_settled()
    monkeypatch.setattr(delivery, "SEND_WITHIN", -1.0)  # every claim is already too old to send
    worker = delivery.Worker(concurrency=2)
    try:
        assert worker.run(until_idle=True, timeout=1.0) == 0
    finally:
        worker.close()
    assert receiver.received == []
    record = WebhookDelivery.objects.get()
    assert (record.state, record.attempts, record.leased_until) == ("pending", 0, None)  # back in the queue
    assert not WebhookAttempt.objects.exists()
    monkeypatch.undo()
    delivery.drain(concurrency=2)
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
        delivery.drain(concurrency=2)
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
    worker = delivery.Worker(concurrency=1)
    try:
        worker._step([], [], claim=1, dispatch=True)
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == before
            cursor.execute("SHOW enable_sort")
            assert cursor.fetchone()[0] == "on"
    finally:
        worker.close()
