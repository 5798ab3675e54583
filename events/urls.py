from django.urls import re_path

from events import api

# Trailing slashes are optional, as for the customer endpoints.
ID = r"(?P<webhook_id>[^/]+)"
urlpatterns = [
    re_path(r"^events/?$", api.EventListView.as_view(), name="events"),
    re_path(r"^events/(?P<event_id>[^/]+)/?$", api.EventDetailView.as_view(), name="event-detail"),
    re_path(r"^webhooks/?$", api.WebhookCollectionView.as_view(), name="webhooks"),
    re_path(rf"^webhooks/{ID}/rotate_secret/?$", api.WebhookRotateSecretView.as_view(), name="webhook-rotate-secret"),
    re_path(rf"^webhooks/{ID}/deliveries/?$", api.WebhookDeliveriesView.as_view(), name="webhook-deliveries"),
    re_path(rf"^webhooks/{ID}/redeliver/?$", api.WebhookRedeliverView.as_view(), name="webhook-redeliver"),
    re_path(rf"^webhooks/{ID}/?$", api.WebhookDetailView.as_view(), name="webhook-detail"),
]
