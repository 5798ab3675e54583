"""/admin/login/, ahead of the admin's own route: the same view, answered 429 while throttled."""

from django.urls import path

from tenants.admin_login import admin_login

urlpatterns = [path("login/", admin_login, name="admin-login")]
