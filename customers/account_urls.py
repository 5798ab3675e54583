"""The customer's own pages (not the API): an invite's activation link, a password reset's link."""

from django.urls import path

from customers import account_views

urlpatterns = [
    path("activate/<str:token>/", account_views.activate, name="account-activate"),
    path("reset/<str:token>/", account_views.reset_password, name="account-reset"),
]
