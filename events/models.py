"""The outbox (Event), webhook subscriptions, their deliveries and each delivery's attempts.

An event is written in the same transaction as the change it records (events.recording). Its feed
position is (xid, seq): `xid` is the writing transaction's id on PostgreSQL (a column default, so the
binary COPY of a bulk write gets it too) and 0 on SQLite, where writers are serialised and `seq`
alone is commit order. See events.feed for why the feed needs the transaction id.
"""

import uuid
from typing import Any

from django.db import models
from django.db.models import Q

from tenants.models import Store


class CurrentTransactionId(models.Func):
    """The writing transaction's id: pg_current_xact_id() on PostgreSQL, 0 elsewhere."""

    output_field = models.BigIntegerField()

    def as_sql(self, *args: Any, **kwargs: Any) -> tuple[str, tuple[str | int, ...]]:
        return "0", ()

    def as_postgresql(self, *args: Any, **kwargs: Any) -> tuple[str, tuple[str | int, ...]]:
        return "(pg_current_xact_id()::text::bigint)", ()


class Event(models.Model):
    seq = models.BigAutoField(primary_key=True)
    # Unique per store, as every lookup is (docs/scaling.md, "Citus").
    event_id = models.UUIDField("id", default=uuid.uuid4, editable=False)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+", db_index=False)
    type = models.CharField(max_length=32)
    occurred_at = models.DateTimeField()
    data = models.JSONField()
    # The customer's twc_customer_id: per-customer order of deliveries, erasure, the admin's history.
    customer_key = models.UUIDField(null=True, blank=True)
    xid = models.BigIntegerField(db_default=CurrentTransactionId(), editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "event_id"], name="events_event_id_per_store_uniq")]
        indexes = [
            # The feed and the webhook dispatch: a store's events in (xid, seq) order, keyset-paged.
            models.Index(fields=["store", "xid", "seq"], name="events_event_feed"),
            models.Index(
                fields=["customer_key", "seq"], condition=Q(customer_key__isnull=False), name="events_event_customer"
            ),
            # The retention job.
            models.Index(fields=["occurred_at"], name="events_event_occurred"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class WebhookSubscription(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+")
    url = models.CharField(max_length=2048)
    topics = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    # Stored as it is: the worker needs it to sign (docs/events.md, "Secrets").
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, default="", editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    # The dispatch's position in the store's feed: events after it are still to be queued.
    cursor_xid = models.BigIntegerField(default=0, editable=False)
    cursor_seq = models.BigIntegerField(default=0, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=200, blank=True, default="", editable=False)
    created_at = models.DateTimeField(editable=False)
    updated_at = models.DateTimeField(editable=False)

    class Meta:
        indexes = [models.Index(fields=["store", "created_at"], name="events_webhook_store")]

    def __str__(self) -> str:
        return f"Webhook {self.url}"


class DeliveryState(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # given up after the last retry, or the subscription was deleted


PENDING = Q(state=DeliveryState.PENDING)


class WebhookDelivery(models.Model):
    """One event to one subscription, until delivered or given up."""

    id = models.BigAutoField(primary_key=True)
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    customer_key = models.UUIDField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # A worker's claim: another worker takes the delivery over once it lapses (its worker died).
    leased_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["next_attempt_at", "id"], condition=PENDING, name="events_delivery_due"),
            # "No earlier pending delivery of this customer to this subscription": the order rule.
            models.Index(
                fields=["subscription", "customer_key", "id"], condition=PENDING, name="events_delivery_order"
            ),
            models.Index(fields=["event"], name="events_delivery_event"),
        ]

    def __str__(self) -> str:
        return f"Delivery {self.pk}"


class WebhookAttempt(models.Model):
    """One POST of a delivery: what the receiver answered, or why there was no answer."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="+", db_index=False)
    event_id = models.UUIDField()
    attempt = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True, default="")
    duration_ms = models.PositiveIntegerField()
    attempted_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["subscription", "-id"], name="events_attempt_subscription")]

    def __str__(self) -> str:
        return f"Attempt {self.pk}"
