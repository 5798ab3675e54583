"""The events and webhooks endpoints: thin views over events.feed and events.webhooks."""

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from events import schema, webhooks
from events.feed import event_feed, event_get, event_to_dict
from events.webhooks import attempt_to_dict, webhook_to_dict
from tenants.middleware import request_reads
from twc.api.errors import ValidationFailed, unknown_field_entry

FEED_PARAMS = {"after", "types", "limit"}


class EventListView(APIView):
    @schema.list_events
    def get(self, request: Request) -> Response:
        params = request.query_params
        unknown = [name for name in params if name not in FEED_PARAMS]
        if unknown:
            raise ValidationFailed(unknown_field_entry(unknown[0]))
        with request_reads(request) as using:
            page = event_feed(
                store=request.store,
                after=params.get("after"),
                types=params.get("types"),
                limit=params.get("limit"),
                using=using,
            )
            events = [event_to_dict(event) for event in page.events]
        return Response({"events": events, "next": page.next})


class EventDetailView(APIView):
    @schema.get_event
    def get(self, request: Request, event_id: str) -> Response:
        return Response(event_to_dict(event_get(store=request.store, event_id=event_id)))


class WebhookCollectionView(APIView):
    @schema.list_webhooks
    def get(self, request: Request) -> Response:
        return Response({"webhooks": [webhook_to_dict(s) for s in webhooks.webhooks_list(store=request.store)]})

    @schema.create_webhook
    def post(self, request: Request) -> Response:
        subscription, secret = webhooks.webhook_create(store=request.store, data=request.data)
        return Response({**webhook_to_dict(subscription), "secret": secret}, status=201)


class WebhookDetailView(APIView):
    @schema.get_webhook
    def get(self, request: Request, webhook_id: str) -> Response:
        return Response(webhook_to_dict(webhooks.webhook_get(store=request.store, webhook_id=webhook_id)))

    @schema.update_webhook
    def patch(self, request: Request, webhook_id: str) -> Response:
        subscription = webhooks.webhook_update(store=request.store, webhook_id=webhook_id, data=request.data)
        return Response(webhook_to_dict(subscription))

    @schema.delete_webhook
    def delete(self, request: Request, webhook_id: str) -> Response:
        webhooks.webhook_delete(store=request.store, webhook_id=webhook_id)
        return Response(status=204)


class WebhookRotateSecretView(APIView):
    @schema.rotate_secret
    def post(self, request: Request, webhook_id: str) -> Response:
        return Response({"secret": webhooks.webhook_rotate_secret(store=request.store, webhook_id=webhook_id)})


class WebhookDeliveriesView(APIView):
    @schema.list_attempts
    def get(self, request: Request, webhook_id: str) -> Response:
        params = request.query_params
        unknown = [name for name in params if name not in {"after", "limit"}]
        if unknown:
            raise ValidationFailed(unknown_field_entry(unknown[0]))
        page, cursor = webhooks.webhook_attempts(
            store=request.store, webhook_id=webhook_id, after=params.get("after"), limit=params.get("limit")
        )
        return Response({"deliveries": [attempt_to_dict(a) for a in page], "next": cursor})


class WebhookRedeliverView(APIView):
    @schema.redeliver
    def post(self, request: Request, webhook_id: str) -> Response:
        queued = webhooks.webhook_redeliver(store=request.store, webhook_id=webhook_id, data=request.data)
        return Response({"queued": queued}, status=202)
