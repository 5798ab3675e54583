"""OpenAPI of the events and webhooks endpoints (drf-spectacular)."""

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers

from events.feed import DEFAULT_LIMIT, MAX_LIMIT
from events.ssrf import MAX_URL_LENGTH
from events.types import ALL_TOPICS, EVENT_TYPES
from events.webhooks import MAX_REDELIVER
from twc.api.schema import EMPTY_MEANS_ABSENT, error_responses

# What the server reads, stated for clients and fuzzers (an empty `after` or `limit` is none).
CURSOR = {"type": "string", "pattern": r"^[0-9]+\.[0-9]+:[A-Za-z0-9_-]+$"}
_TYPE = "|".join(re.escape(name) for name in EVENT_TYPES)
TYPES_PATTERN = rf"^[ ,]*(?:{_TYPE})(?: *,[ ,]*(?:{_TYPE}))*[ ,]*$"
_PORT = r"(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
_H = "[0-9A-Fa-f]{1,4}"
# RFC 4291's text forms (without an embedded IPv4 address), as urlsplit checks a bracketed host.
_IPV6 = "|".join(
    [
        f"(?:{_H}:){{7}}{_H}",
        f"(?:{_H}:){{1,7}}:",
        *[f"(?:{_H}:){{1,{6 - n}}}(?::{_H}){{1,{n + 1}}}" for n in range(6)],
        f":(?:(?::{_H}){{1,7}}|:)",
    ]
)
_HOST = rf"(?:\[(?:{_IPV6})\]|[^\x00-\x20\x7f/?#@:\[\]\\]+)"
# https (in any case), a host, no credentials, no space or control character anywhere.
URL_PATTERN = rf"^[Hh][Tt][Tt][Pp][Ss]://{_HOST}{_PORT}(?:[/?#][^\x00-\x20\x7f]*)?$"


def page_parameters(limit_max: int, limit_default: int, after: str) -> list[OpenApiParameter]:
    return [
        OpenApiParameter("after", CURSOR, description=after, extensions={EMPTY_MEANS_ABSENT: True}),
        OpenApiParameter(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": limit_max},
            description=f"Page size, 1 to {limit_max} (default {limit_default}).",
            extensions={EMPTY_MEANS_ABSENT: True},
        ),
    ]


class EventSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=EVENT_TYPES)
    occurred_at = serializers.DateTimeField()
    data = serializers.JSONField(help_text="`customer` (the customer as of the change), `order` or `wishlist`.")

    class Meta:
        ref_name = "Event"


class EventPageSerializer(serializers.Serializer):
    events = EventSerializer(many=True)
    next = serializers.CharField(help_text="Never null: ask again with `after` set to it, now or later.")

    class Meta:
        ref_name = "EventPage"


EVENT_ID = OpenApiParameter("event_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The event's id.")

list_events = extend_schema(
    operation_id="events_list",
    summary="Follow the store's events",
    description="The store's events in commit order, every one exactly once when a client follows `next`. "
    "Events are kept 30 days.",
    parameters=[
        *page_parameters(MAX_LIMIT, DEFAULT_LIMIT, "A cursor from a page's `next` (any other value is 400)."),
        OpenApiParameter(
            "types",
            {"type": "string", "minLength": 1, "pattern": TYPES_PATTERN},
            description="Comma-separated event types.",
        ),
    ],
    responses={200: EventPageSerializer, **error_responses(400)},
)
get_event = extend_schema(
    operation_id="events_get",
    summary="Read an event",
    parameters=[EVENT_ID],
    responses={200: EventSerializer, **error_responses(404)},
)


class WebhookSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.CharField()
    topics = serializers.ListField(child=serializers.CharField())
    enabled = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Webhook"


class WebhookWithSecretSerializer(WebhookSerializer):
    secret = serializers.CharField(help_text="`whsec_...`: shown only here and at rotation.")

    class Meta:
        ref_name = "WebhookWithSecret"


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": MAX_URL_LENGTH, "pattern": URL_PATTERN})
class WebhookUrlField(serializers.Field):
    """An https URL."""


class WebhookInputSerializer(serializers.Serializer):
    url = WebhookUrlField(
        help_text="https only, without credentials; its host must resolve, and never to a private, loopback, "
        "link-local or reserved address (400 otherwise)."
    )
    topics = serializers.ListField(
        child=serializers.ChoiceField(choices=[*EVENT_TYPES, ALL_TOPICS]),
        min_length=1,
        max_length=len(EVENT_TYPES) + 1,
        help_text='Event types, or ["*"] for all.',
    )
    enabled = serializers.BooleanField(required=False)

    class Meta:
        ref_name = "WebhookInput"


class WebhookListSerializer(serializers.Serializer):
    webhooks = WebhookSerializer(many=True)

    class Meta:
        ref_name = "WebhookList"


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField()

    class Meta:
        ref_name = "WebhookSecret"


class AttemptSerializer(serializers.Serializer):
    event_id = serializers.UUIDField()
    attempt = serializers.IntegerField()
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    duration_ms = serializers.IntegerField()
    attempted_at = serializers.DateTimeField()

    class Meta:
        ref_name = "WebhookAttempt"


class AttemptPageSerializer(serializers.Serializer):
    deliveries = AttemptSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="`after` for the next (older) page; null at the end.")

    class Meta:
        ref_name = "WebhookAttemptPage"


class RedeliverInputSerializer(serializers.Serializer):
    event_ids = serializers.ListField(
        child=serializers.UUIDField(),
        min_length=1,
        max_length=MAX_REDELIVER,
        help_text="Events of this store, still kept (30 days); 400 otherwise.",
    )

    class Meta:
        ref_name = "RedeliverInput"


class RedeliverSerializer(serializers.Serializer):
    queued = serializers.IntegerField()

    class Meta:
        ref_name = "Redelivered"


WEBHOOK_ID = OpenApiParameter(
    "webhook_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The subscription's id."
)

create_webhook = extend_schema(
    operation_id="webhooks_create",
    summary="Subscribe to events",
    request=WebhookInputSerializer,
    responses={201: WebhookWithSecretSerializer, **error_responses(400, 409)},
)
list_webhooks = extend_schema(
    operation_id="webhooks_list", summary="List the subscriptions", responses={200: WebhookListSerializer}
)
get_webhook = extend_schema(
    operation_id="webhooks_get",
    summary="Read a subscription",
    parameters=[WEBHOOK_ID],
    responses={200: WebhookSerializer, **error_responses(404)},
)
update_webhook = extend_schema(
    operation_id="webhooks_update",
    summary="Change a subscription",
    parameters=[WEBHOOK_ID],
    request=WebhookInputSerializer(partial=True),
    responses={200: WebhookSerializer, **error_responses(400, 404)},
)
delete_webhook = extend_schema(
    operation_id="webhooks_delete",
    summary="Delete a subscription",
    parameters=[WEBHOOK_ID],
    responses={204: None, **error_responses(404)},
)
rotate_secret = extend_schema(
    operation_id="webhooks_rotate_secret",
    summary="Rotate the signing secret",
    description="Deliveries carry signatures of both secrets for 24 hours.",
    parameters=[WEBHOOK_ID],
    request=None,
    # The body is ignored, but the body limit and the media-type check still answer these.
    responses={200: SecretSerializer, **error_responses(400, 404, 413, 415)},
)
list_attempts = extend_schema(
    operation_id="webhooks_deliveries",
    summary="The delivery attempts, newest first",
    parameters=[WEBHOOK_ID, *page_parameters(MAX_LIMIT, 50, "The `next` of the previous page.")],
    responses={200: AttemptPageSerializer, **error_responses(400, 404)},
)
redeliver = extend_schema(
    operation_id="webhooks_redeliver",
    summary="Deliver events again",
    parameters=[WEBHOOK_ID],
    request=RedeliverInputSerializer,
    responses={202: RedeliverSerializer, **error_responses(400, 404)},
)
