from django.urls import re_path

from events import api

urlpatterns = [
    re_path(r"^events/?$", api.EventListView.as_view(), name="events"),
    re_path(r"^events/(?P<event_id>[^/]+)/?$", api.EventDetailView.as_view(), name="event-detail"),
]
