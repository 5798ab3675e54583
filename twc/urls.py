from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from twc import health
from twc.api.views import UnknownApiPathView

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("o/", include("tenants.oauth_urls", namespace="oauth2_provider")),
    path("api/", include("accounts.urls")),
    path("api/", include("customers.urls")),
    path("api/", include("events.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # [\s\S]: a path with an encoded line break (%0A) is under /api/ too, not Django's HTML 404.
    re_path(r"^api(/[\s\S]*)?$", UnknownApiPathView.as_view()),
    # The admin's login view with its throttle's 429 (tenants.admin_login), ahead of the admin's own.
    path("admin/", include("tenants.admin_urls")),
    path("admin/", admin.site.urls),
    path("account/", include("customers.account_urls")),
]
