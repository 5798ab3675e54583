"""The service's URLs plus the floor: a bare Django view doing one indexed SELECT, returning JSON."""

from django.http import JsonResponse
from django.urls import path

from customers.models import Customer
from twc.urls import urlpatterns as service_urlpatterns


def floor_customer(request, store_id: int, ref: str):
    """No DRF, no token, no representation: one SELECT on the (store, ref) index, four columns."""
    row = (
        Customer.objects.filter(store_id=store_id, ref=ref, deleted_at__isnull=True)
        .values("ref", "email", "first_name", "last_name")
        .first()
    )
    return JsonResponse(row or {}, status=200 if row else 404)


urlpatterns = [path("bench/floor/<int:store_id>/<path:ref>", floor_customer), *service_urlpatterns]
