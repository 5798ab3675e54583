from django.urls import path

from bench.floor import views

urlpatterns = [
    path("floor/<int:store_id>/customers", views.customers),
    path("floor/<int:store_id>/customers/<path:ref>", views.customer_get),
    path("floor/me", views.me),
]
