"""The customer's own pages (not the API): the account activation link of an invite."""

from django.urls import path

from customers import account_views

urlpatterns = [
    path("activate/<str:token>/", account_views.activate, name="account-activate"),
]
