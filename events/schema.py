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
