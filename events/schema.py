"""OpenAPI of the events and webhooks endpoints (drf-spectacular)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers

from events.feed import DEFAULT_LIMIT, MAX_LIMIT
from events.types import EVENT_TYPES
from twc.api.schema import error_responses


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


EVENT_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The event's id.")

list_events = extend_schema(
    operation_id="events_list",
    summary="Follow the store's events",
    description="The store's events in commit order, every one exactly once when a client follows `next`. "
    "Events are kept 30 days.",
    parameters=[
        OpenApiParameter("after", OpenApiTypes.STR, description="A cursor from a page's `next`."),
        OpenApiParameter("types", OpenApiTypes.STR, description="Comma-separated event types."),
        OpenApiParameter(
            "limit", OpenApiTypes.INT, description=f"Page size, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."
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


class WebhookInputSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="https only; never a private, loopback, link-local or reserved address.")
    topics = serializers.ListField(child=serializers.CharField(), help_text='Event types, or ["*"] for all.')
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
    event_ids = serializers.ListField(child=serializers.UUIDField())

    class Meta:
        ref_name = "RedeliverInput"


class RedeliverSerializer(serializers.Serializer):
    queued = serializers.IntegerField()

    class Meta:
        ref_name = "Redelivered"


WEBHOOK_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The subscription's id.")

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
    parameters=[
        WEBHOOK_ID,
        OpenApiParameter("after", OpenApiTypes.STR, description="The `next` of the previous page."),
        OpenApiParameter("limit", OpenApiTypes.INT, description="Page size, 1 to 1000 (default 50)."),
    ],
    responses={200: AttemptPageSerializer, **error_responses(400, 404)},
)
redeliver = extend_schema(
    operation_id="webhooks_redeliver",
    summary="Deliver events again",
    parameters=[WEBHOOK_ID],
    request=RedeliverInputSerializer,
    responses={202: RedeliverSerializer, **error_responses(400, 404)},
)
