"""Webhook subscriptions of a store: create, change, delete, rotate the secret, redeliver; and their
reads (the subscriptions, the attempts of their deliveries).

The signing secret (`whsec_` and 24 random bytes in base64, as Standard Webhooks' libraries expect)
is shown once, at creation and at rotation. It is stored as it is: the worker signs every delivery
with it (docs/events.md, "Secrets"). After a rotation the previous secret signs too, for 24 hours.
"""

import base64
import datetime as dt
import secrets
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from events import feed
from events.models import DeliveryState, Event, WebhookAttempt, WebhookDelivery, WebhookSubscription
from events.ssrf import UnsafeDestination, check_url
from events.types import ALL_TOPICS, EVENT_TYPES
from tenants.models import Store
from twc.api.errors import (
    ValidationFailed,
    invalid_field,
    invalid_json_input,
    invalid_operation,
    not_found,
    required_field,
    unknown_field_entry,
)

MAX_SUBSCRIPTIONS_PER_STORE = 50
MAX_REDELIVER = 100
ROTATION_OVERLAP = dt.timedelta(hours=24)
WRITABLE = {"url", "topics", "enabled"}


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def webhook_to_dict(subscription: WebhookSubscription) -> dict:
    return {
        "id": str(subscription.id),
        "url": subscription.url,
        "topics": list(subscription.topics),
        "enabled": subscription.enabled,
        "created_at": subscription.created_at.isoformat(),
    }


def _clean_url(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise invalid_field("url", "'url' must be an https URL.")
    try:
        check_url(value)
    except UnsafeDestination as exc:
        raise invalid_field("url", str(exc)) from None
    return value


def _clean_topics(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or len(value) > len(EVENT_TYPES) + 1:
        raise invalid_field("topics", f"'topics' must be a list of 1 to {len(EVENT_TYPES)} event types, or [\"*\"].")
    unknown = [topic for topic in value if not isinstance(topic, str) or topic not in (*EVENT_TYPES, ALL_TOPICS)]
    if unknown:
        raise invalid_field("topics", f"'topics' names an unknown event type: {str(unknown[0])[:100]}.")
    topics = list(dict.fromkeys(value))
    return [ALL_TOPICS] if ALL_TOPICS in topics else topics


def _check_body(data: Any) -> dict:
    if not isinstance(data, dict):
        raise invalid_json_input("The body must be a JSON object.")
    unknown = [key for key in data if key not in WRITABLE]
    if unknown:
        raise ValidationFailed(unknown_field_entry(unknown[0]))
    return data


def webhook_create(*, store: Store, data: Any) -> tuple[WebhookSubscription, str]:
    """POST /api/webhooks: the subscription and its secret (shown only now)."""
    data = _check_body(data)
    if "url" not in data:
        raise required_field("url")
    if "topics" not in data:
        raise required_field("topics")
    url, topics = _clean_url(data["url"]), _clean_topics(data["topics"])
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise invalid_field("enabled", "'enabled' must be true or false.")
    if WebhookSubscription.objects.filter(store=store).count() >= MAX_SUBSCRIPTIONS_PER_STORE:
        raise invalid_operation(f"A store has at most {MAX_SUBSCRIPTIONS_PER_STORE} webhook subscriptions.")
    now = timezone.now()
    secret = new_secret()
    # It receives the events that commit from now on: its dispatch starts at the feed's head.
    head_xid, head_seq = feed.feed_head(store_id=store.pk)
    subscription = WebhookSubscription.objects.create(
        store=store,
        url=url,
        topics=topics,
        enabled=enabled,
        secret=secret,
        cursor_xid=head_xid,
        cursor_seq=head_seq,
        created_at=now,
        updated_at=now,
    )
    return subscription, secret


def webhook_get(*, store: Store, webhook_id: str) -> WebhookSubscription:
    try:
        key = uuid.UUID(webhook_id)
    except ValueError:
        raise not_found("No webhook subscription with this id in this store.") from None
    subscription = WebhookSubscription.objects.filter(store=store, id=key).first()
    if subscription is None:
        raise not_found("No webhook subscription with this id in this store.")
    return subscription


def webhooks_list(*, store: Store) -> list[WebhookSubscription]:
    return list(WebhookSubscription.objects.filter(store=store).order_by("created_at", "id"))


def webhook_update(*, store: Store, webhook_id: str, data: Any) -> WebhookSubscription:
    """PATCH /api/webhooks/{id}: url, topics, enabled. Enabling again resumes where it stopped."""
    data = _check_body(data)
    subscription = webhook_get(store=store, webhook_id=webhook_id)
    changes: dict[str, Any] = {}
    if "url" in data:
        changes["url"] = _clean_url(data["url"])
    if "topics" in data:
        changes["topics"] = _clean_topics(data["topics"])
    if "enabled" in data:
        if not isinstance(data["enabled"], bool):
            raise invalid_field("enabled", "'enabled' must be true or false.")
        changes["enabled"] = data["enabled"]
        if data["enabled"]:
            changes.update(failing_since=None, disabled_reason="")
    if changes:
        changes["updated_at"] = timezone.now()
        WebhookSubscription.objects.filter(pk=subscription.pk).update(**changes)
        for name, value in changes.items():
            setattr(subscription, name, value)
    return subscription


def webhook_delete(*, store: Store, webhook_id: str) -> None:
    """DELETE /api/webhooks/{id}: the subscription, its pending deliveries and their attempts."""
    webhook_get(store=store, webhook_id=webhook_id).delete()


def webhook_rotate_secret(*, store: Store, webhook_id: str) -> str:
    """A new secret; the current one keeps signing beside it for 24 hours."""
    with transaction.atomic():
        subscription = webhook_get(store=store, webhook_id=webhook_id)
        subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        secret = new_secret()
        now = timezone.now()
        WebhookSubscription.objects.filter(pk=subscription.pk).update(
            secret=secret,
            previous_secret=subscription.secret,
            previous_secret_until=now + ROTATION_OVERLAP,
            updated_at=now,
        )
    return secret


def webhook_redeliver(*, store: Store, webhook_id: str, data: Any) -> int:
    """POST /api/webhooks/{id}/redeliver {"event_ids": [...]}: queue these events again, in order."""
    if not isinstance(data, dict):
        raise invalid_json_input("The body must be a JSON object.")
    unknown = [key for key in data if key != "event_ids"]
    if unknown:
        raise ValidationFailed(unknown_field_entry(unknown[0]))
    raw = data.get("event_ids")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_REDELIVER:
        raise invalid_field("event_ids", f"'event_ids' must be a list of 1 to {MAX_REDELIVER} event ids.")
    try:
        keys = list(dict.fromkeys(uuid.UUID(value) for value in raw if isinstance(value, str)))
    except ValueError:
        keys = []
    subscription = webhook_get(store=store, webhook_id=webhook_id)
    events = list(Event.objects.filter(store=store, event_id__in=keys).order_by("xid", "seq"))
    if len(keys) != len(raw) or len(events) != len(keys):
        raise invalid_field("event_ids", "'event_ids' must name events of this store (kept 30 days).")
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                subscription=subscription,
                event=event,
                customer_key=event.customer_key,
                next_attempt_at=now,
                created_at=now,
                state=DeliveryState.PENDING,
            )
            for event in events
        ]
    )
    return len(events)


def attempt_to_dict(attempt: WebhookAttempt) -> dict:
    return {
        "event_id": str(attempt.event_id),
        "attempt": attempt.attempt,
        "status_code": attempt.status_code,
        "error": attempt.error or None,
        "duration_ms": attempt.duration_ms,
        "attempted_at": attempt.attempted_at.isoformat(),
    }


def webhook_attempts(
    *, store: Store, webhook_id: str, after: str | None, limit: str | None
) -> tuple[list[WebhookAttempt], str | None]:
    """GET /api/webhooks/{id}/deliveries: the attempts, newest first, a page at a time."""
    subscription = webhook_get(store=store, webhook_id=webhook_id)
    size = feed.parse_limit(limit) if limit else 50
    attempts = WebhookAttempt.objects.filter(subscription=subscription)
    if after:
        attempts = attempts.filter(id__lt=feed.decode_cursor(after)[1])
    page = list(attempts.order_by("-id")[: size + 1])
    more = len(page) > size
    page = page[:size]
    return page, feed.encode_cursor((0, page[-1].id)) if more else None
