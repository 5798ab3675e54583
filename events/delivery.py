"""The delivery worker's steps: queue each subscription's new events, claim due deliveries, POST
them, record what happened.

Several workers may run at once, on one machine or many. The queue is a table
(WebhookDelivery): a worker claims due deliveries with `FOR UPDATE SKIP LOCKED` on PostgreSQL (two
workers never claim the same row; on SQLite writers are serialised anyway) and stamps a lease on
them, then commits before it sends: no transaction stays open during a POST (it would hold back the
feed, events.feed). A worker killed mid-delivery leaves its lease to lapse, and the delivery is
claimed again (so a delivery may come twice: receivers deduplicate on `webhook-id`).

Order per customer: a delivery is claimed only when no earlier pending delivery of the same
customer to the same subscription exists; other customers never wait.
"""

import datetime as dt
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.db import connection, transaction
from django.utils import timezone

from events import feed, sender, signing
from events.models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookSubscription
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

Send = Callable[[str, bytes, dict[str, str]], sender.Outcome]


def dispatch(*, now: dt.datetime | None = None) -> int:
    """Queue, for every enabled subscription, the events after its position that match its topics.

    One transaction per call; subscriptions another worker is dispatching are skipped.
    """
    now = now or timezone.now()
    queued = 0
    with transaction.atomic():
        subscriptions = list(
            WebhookSubscription.objects.select_for_update(skip_locked=True).filter(enabled=True).order_by("id")
        )
        for subscription in subscriptions:
            events = feed.events_after(
                store_id=subscription.store_id,
                position=(subscription.cursor_xid, subscription.cursor_seq),
                limit=DISPATCH_BATCH,
            )
            if not events:
                continue
            wanted = set(subscription.topics)
            matching = [e for e in events if ALL_TOPICS in wanted or e.type in wanted]
            WebhookDelivery.objects.bulk_create(
                [
                    WebhookDelivery(
                        subscription=subscription,
                        event=event,
                        customer_key=event.customer_key,
                        next_attempt_at=now,
                        created_at=now,
                    )
                    for event in matching
                ]
            )
            WebhookSubscription.objects.filter(pk=subscription.pk).update(
                cursor_xid=events[-1].xid, cursor_seq=events[-1].seq
            )
            queued += len(matching)
    return queued


def _claim_sql() -> str:
    deliveries = WebhookDelivery._meta.db_table
    subscriptions = WebhookSubscription._meta.db_table
    lock = "FOR UPDATE OF d SKIP LOCKED" if connection.vendor == "postgresql" else ""
    return f"""
        UPDATE {deliveries} SET leased_until = %s
        WHERE id IN (
            SELECT d.id FROM {deliveries} d JOIN {subscriptions} s ON s.id = d.subscription_id
            WHERE d.state = 'pending' AND d.next_attempt_at <= %s
              AND (d.leased_until IS NULL OR d.leased_until < %s) AND s.enabled
              AND (d.customer_key IS NULL OR NOT EXISTS (
                  SELECT 1 FROM {deliveries} e
                  WHERE e.state = 'pending' AND e.subscription_id = d.subscription_id
                    AND e.customer_key = d.customer_key AND e.id < d.id))
            ORDER BY d.next_attempt_at, d.id
            LIMIT %s
            {lock}
        )
        RETURNING id
    """


def claim(*, limit: int, now: dt.datetime | None = None) -> list[WebhookDelivery]:
    """Lease up to `limit` due deliveries to this worker (committed before anything is sent)."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_claim_sql(), [now + LEASE, now, now, limit])
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return []
    return list(WebhookDelivery.objects.filter(id__in=ids).select_related("event", "subscription").order_by("id"))


def request_of(delivery: WebhookDelivery, *, now: dt.datetime) -> tuple[bytes, dict[str, str]]:
    """The Standard Webhooks request: body {"type", "timestamp", "data"} and the three headers."""
    event, subscription = delivery.event, delivery.subscription
    body = dumps({"type": event.type, "timestamp": event.occurred_at.isoformat(), "data": event.data})
    message_id = str(event.event_id)
    timestamp = int(now.timestamp())
    keys = [subscription.secret]
    if subscription.previous_secret and subscription.previous_secret_until and subscription.previous_secret_until > now:
        keys.append(subscription.previous_secret)
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(keys, message_id, timestamp, body),
    }
    return body, headers


def next_delay(attempts: int, retry_after: float | None) -> float | None:
    """Seconds before the next attempt after `attempts` failed ones; None: give up."""
    if attempts > len(RETRY_SCHEDULE):
        return None
    if retry_after is not None:
        return min(max(retry_after, 1.0), MAX_RETRY_AFTER)
    return RETRY_SCHEDULE[attempts - 1] * random.uniform(1 - JITTER, 1 + JITTER)


def record(delivery: WebhookDelivery, outcome: sender.Outcome, *, now: dt.datetime) -> None:
    """Write the attempt and the delivery's next step; a 410 or 3 days of failures disable the subscription."""
    attempt = delivery.attempts + 1
    subscription = delivery.subscription
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            subscription=subscription,
            event_id=delivery.event.event_id,
            attempt=attempt,
            status_code=outcome.status,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
            attempted_at=now,
        )
        changes: dict = {"attempts": attempt, "leased_until": None}
        if outcome.delivered:
            changes.update(state=DeliveryState.DELIVERED, finished_at=now)
            if subscription.failing_since is not None:
                WebhookSubscription.objects.filter(pk=subscription.pk).update(failing_since=None)
        else:
            delay = next_delay(attempt, outcome.retry_after)
            if delay is None:
                changes.update(state=DeliveryState.FAILED, finished_at=now)
            else:
                changes["next_attempt_at"] = now + dt.timedelta(seconds=delay)
            failing_since = subscription.failing_since or now
            reason = ""
            if outcome.status == 410:
                reason = "The receiver answered 410 Gone."
            elif now - failing_since >= FAILING_DISABLES_AFTER:
                reason = "Every delivery failed for 3 days."
            update: dict = {"failing_since": failing_since}
            if reason:
                update.update(enabled=False, disabled_reason=reason, updated_at=now)
                logger.warning("webhook %s disabled: %s", subscription.pk, reason)
            WebhookSubscription.objects.filter(pk=subscription.pk).update(**update)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**changes)


def deliver_due(*, concurrency: int = 8, send: Send = sender.post) -> int:
    """Claim up to `concurrency` due deliveries, POST them at once, record each. Returns how many."""
    deliveries = claim(limit=concurrency)
    if not deliveries:
        return 0
    now = timezone.now()
    requests = [request_of(delivery, now=now) for delivery in deliveries]
    urls = [delivery.subscription.url for delivery in deliveries]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        outcomes = list(pool.map(send, urls, [body for body, _ in requests], [headers for _, headers in requests]))
    finished = timezone.now()
    for delivery, outcome in zip(deliveries, outcomes, strict=True):
        record(delivery, outcome, now=finished)
    return len(deliveries)


def work_once(*, concurrency: int = 8, send: Send = sender.post) -> int:
    """One round: queue new events, then deliver what is due. Returns the deliveries attempted."""
    dispatch()
    return deliver_due(concurrency=concurrency, send=send)


def drain(*, concurrency: int = 8, send: Send = sender.post, timeout: float = 60) -> None:
    """Rounds until nothing is due (tests, and `deliver_webhooks --until-idle`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not work_once(concurrency=concurrency, send=send):
            return
