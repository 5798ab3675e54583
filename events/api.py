"""The events and webhooks endpoints: thin views over events.feed and events.webhooks."""

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from events import schema
from events.feed import event_feed, event_get, event_to_dict
from twc.api.errors import ValidationFailed, unknown_field_entry

FEED_PARAMS = {"after", "types", "limit"}


class EventListView(APIView):
    @schema.list_events
    def get(self, request: Request) -> Response:
        params = request.query_params
        unknown = [name for name in params if name not in FEED_PARAMS]
        if unknown:
            raise ValidationFailed(unknown_field_entry(unknown[0]))
        page = event_feed(
            store=request.store, after=params.get("after"), types=params.get("types"), limit=params.get("limit")
        )
        return Response({"events": [event_to_dict(event) for event in page.events], "next": page.next})


class EventDetailView(APIView):
    @schema.get_event
    def get(self, request: Request, event_id: str) -> Response:
        return Response(event_to_dict(event_get(store=request.store, event_id=event_id)))
