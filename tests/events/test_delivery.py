"""Deliveries to a real receiver on loopback, verified with the reference `standardwebhooks`
library: signatures (both secrets after a rotation), retries, Retry-After, 410, redirects, slow and
misbehaving receivers, SSRF at connection time, order per customer, leases, racing workers."""

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.db import connection, connections
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from customers.services import customer_soft_delete, customer_update
from events import delivery, outcomes, sender
from events.models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookSubscription
from events.webhooks import webhook_create, webhook_rotate_secret
from events.worker import drain as worker_drain
from tests.events.receiver import hang, reset, trickle
from tests.events.test_feed import wait_settled
from tests.factories import customer_make

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("loopback_allowed")]


def subscribe(store, receiver, topics=("*",)):
    subscription, secret = webhook_create(store=store, data={"url": receiver.url, "topics": list(topics)})
    return subscription, secret


def drain():
    wait_settled()
    worker_drain(concurrency=4)


def make_due():
    WebhookDelivery.objects.filter(state=DeliveryState.PENDING).update(next_attempt_at=timezone.now())


def test_a_delivery_follows_standard_webhooks(store_a, receiver):
    subscription, secret = subscribe(store_a, receiver)
    customer = customer_make(store=store_a, id="c-1", email="a@x.com")
    drain()
    [got] = receiver.received
    payload = Webhook(secret).verify(got.body, got.headers)
    assert payload["type"] == "customers/create"
    assert payload["data"]["customer"]["id"] == "c-1"
    assert payload["data"]["customer"]["twc_customer_id"] == str(customer.twc_customer_id)
    assert set(payload) == {"type", "timestamp", "data"}
    assert got.headers["content-type"] == "application/json"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 30
    record = WebhookDelivery.objects.get()
    assert (record.state, record.attempts) == ("delivered", 1)
    assert got.headers["webhook-id"] == str(record.event.event_id)


def test_only_the_subscribed_topics_and_only_new_events(store_a, store_b, receiver):
    customer_make(store=store_a, id="before", email="before@x.com")
    wait_settled()
    subscribe(store_a, receiver, topics=["customers/delete"])
    customer_make(store=store_a, id="c-1", email="a@x.com")
    customer_make(store=store_b, id="b-1", email="b@x.com")
    customer_soft_delete(store=store_a, ref="c-1")
    drain()
    assert len(receiver.received) == 1
    assert b'"customers/delete"' in receiver.received[0].body


def test_both_secrets_sign_for_a_day_after_rotation(store_a, receiver):
    subscription, old = subscribe(store_a, receiver)
    new = webhook_rotate_secret(store=store_a, webhook_id=str(subscription.id))
    customer_make(store=store_a, id="c-1", email="a@x.com")
    drain()
    [got] = receiver.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(got.body, got.headers)
    Webhook(new).verify(got.body, got.headers)
    WebhookSubscription.objects.update(previous_secret_until=timezone.now() - dt.timedelta(seconds=1))
    customer_make(store=store_a, id="c-2", email="b@x.com")
    drain()
    assert len(receiver.received[1].headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(receiver.received[1].body, receiver.received[1].headers)


def test_a_failure_is_retried_on_the_schedule(store_a, receiver):
    answers = iter([(500, {}, b"no"), (200, {}, b"ok")])
    receiver.answer = lambda got: next(answers)
    subscribe(store_a, receiver)
    customer_make(store=store_a, id="c-1", email="a@x.com")
    drain()
    record = WebhookDelivery.objects.get()
    assert (record.state, record.attempts) == ("pending", 1)
    wait = (record.next_attempt_at - timezone.now()).total_seconds()
    assert 3 < wait < 6  # about 5 s, with jitter
    make_due()
    drain()
    assert WebhookDelivery.objects.get().state == "delivered"
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
    attempts = list(WebhookAttempt.objects.order_by("id").values_list("attempt", "status_code"))
    assert attempts == [(1, 500), (2, 200)]


def test_retry_after_is_honoured(store_a, receiver):
    receiver.answer = lambda got: (503, {"Retry-After": "120"}, b"")
    subscribe(store_a, receiver)
    customer_make(store=store_a, id="c-1", email="a@x.com")
    drain()
    wait = (WebhookDelivery.objects.get().next_attempt_at - timezone.now()).total_seconds()
    assert 110 < wait <= 120


def test_the_schedule():
    for attempts, seconds in enumerate(outcomes.RETRY_SCHEDULE, start=1):
        assert 0.9 * seconds <= outcomes.next_delay(attempts, None) <= 1.1 * seconds
    assert outcomes.next_delay(10, None) is None  # the tenth attempt was the last
    assert outcomes.next_delay(1, 7.0) == 7.0


def test_410_disables_the_subscription(store_a, receiver):
    receiver.answer = lambda got: (410, {}, b"gone")
    subscription, _ = subscribe(store_a, receiver)
    customer_make(store=store_a, id="c-1", email="a@x.com")
    drain()
    subscription.refresh_from_db()
    assert subscription.enabled is False and "410" in subscription.disabled_reason


def test_three_days_of_failures_disable_the_subscription(store_a, receiver):
    receiver.answer = lambda got: (500, {}, b"")
    subscription, _ = subscribe(store_a, receiver)
    WebhookSubscription.objects.update(failing_since=timezone.now() - dt.timedelta(days=3, seconds=1))
    customer_make(store=store_a, id="c-1", email="a@x.com")
    drain()
    subscription.refresh_from_db()
    assert subscription.enabled is False


def test_giving_up_after_the_last_attempt(store_a, receiver):
    receiver.answer = lambda got: (500, {}, b"")
    subscribe(store_a, receiver)
    customer_make(store=store_a, id="c-1", email="a@x.com")
    wait_settled()
    delivery.dispatch()
    WebhookDelivery.objects.update(attempts=len(outcomes.RETRY_SCHEDULE))
    drain()
    assert WebhookDelivery.objects.get().state == "failed"


def test_redirects_are_not_followed(store_a, receiver):
    receiver.answer = lambda got: (
        (302, {"Location": "http://127.0.0.1:1/elsewhere"}, b"") if got.path == "/hook" else (200, {}, b"")
    )
    subscribe(store_a, receiver)
    customer_make(store=store_a, id="c-1", email="a@x.com")
    drain()
    assert [r.path for r in receiver.received] == ["/hook"]
    assert WebhookAttempt.objects.get().status_code == 302
    assert WebhookDelivery.objects.get().state == "pending"


@pytest.mark.parametrize("behaviour", ["hang", "trickle", "reset", "huge"])
def test_misbehaving_receivers_cost_one_attempt(receiver, behaviour):
    answers = {
        "hang": lambda got: hang(3),
        "trickle": lambda got: trickle,
        "reset": lambda got: reset,
        "huge": lambda got: (200, {}, b"x" * 10_000_000),
    }
    receiver.answer = answers[behaviour]
    started = time.monotonic()
    outcome = sender.post(receiver.url, b"{}", {}, timeout=1.0)
    took = time.monotonic() - started
    assert took < 2.5
    if behaviour == "huge":
        assert outcome.delivered
    else:
        assert not outcome.delivered and outcome.status is None and outcome.error


def test_the_address_is_checked_again_at_connection_time(store_a, receiver, settings):
    subscribe(store_a, receiver)
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False  # loopback is refused from now on
    customer_make(store=store_a, id="c-1", email="a@x.com")
    drain()
    assert receiver.received == []
    assert WebhookAttempt.objects.get().error.startswith("refused")


def test_a_customers_later_event_waits_for_its_earlier_one(store_a, receiver):
    failing = {"c-1"}

    def answer(got):
        return (
            (500, {}, b"") if b'"version":1' in got.body and b'"id":"c-1"' in got.body and failing else (200, {}, b"")
        )

    receiver.answer = answer
    subscribe(store_a, receiver)
    customer_make(store=store_a, id="c-1", email="a@x.com")
    customer_make(store=store_a, id="c-2", email="b@x.com")
    customer_update(store=store_a, data={"id": "c-1", "note": "second"})
    drain()
    # Sent at once, in any order: c-1's first event (refused) and c-2's; c-1's second one waits.
    sent = sorted((b'"id":"c-1"' in r.body, b'"version":2' in r.body) for r in receiver.received)
    assert sent == [(False, False), (True, False)]
    failing.clear()
    make_due()
    drain()
    later = [r.body for r in receiver.received[2:]]
    assert b'"version":1' in later[0] and b'"version":2' in later[1]


def test_a_worker_killed_mid_delivery_loses_nothing(store_a, receiver):
    subscribe(store_a, receiver)
    customer_make(store=store_a, id="c-1", email="a@x.com")
    wait_settled()
    delivery.dispatch()
    assert len(delivery.claim(limit=10)) == 1  # ... and the worker dies before it sends or records
    assert delivery.claim(limit=10) == []  # leased: nobody else takes it
    WebhookDelivery.objects.update(leased_until=timezone.now() - dt.timedelta(seconds=1))  # the lease lapses
    drain()
    assert len(receiver.received) == 1
    assert WebhookDelivery.objects.get().state == "delivered"


@pytest.mark.postgres
def test_two_workers_racing_deliver_each_event_once(store_a, receiver):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's SKIP LOCKED")
    subscribe(store_a, receiver)
    for number in range(40):
        customer_make(store=store_a, id=f"c-{number}", email=f"c{number}@x.com")
    wait_settled()

    def worker():
        try:
            worker_drain(concurrency=4)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 40 and len(set(ids)) == 40


def test_deliver_webhooks_stops_gracefully_on_sigterm(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "deliver_webhooks", "--poll", "0.2"],
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert "started" in process.stdout.readline()
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0
    assert "stopped" in process.stdout.read()
