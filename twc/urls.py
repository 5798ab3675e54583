from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from oauth2_provider import views as oauth2_views

from twc import health
from twc.api.views import UnknownApiPathView

# Only the token, revoke and introspect views of django-oauth-toolkit: the default include also
# mounts application management and authorization pages this service does not offer.
oauth_urlpatterns = [
    path("token/", oauth2_views.TokenView.as_view(), name="token"),
    path("revoke_token/", oauth2_views.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", oauth2_views.IntrospectTokenView.as_view(), name="introspect"),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("o/", include((oauth_urlpatterns, "oauth2_provider"), namespace="oauth2_provider")),
    path("api/", include("customers.urls")),
    path("api/", include("events.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # [\s\S]: a path with an encoded line break (%0A) is under /api/ too, not Django's HTML 404.
    re_path(r"^api(/[\s\S]*)?$", UnknownApiPathView.as_view()),
    path("admin/", admin.site.urls),
    path("account/", include("customers.account_urls")),
]
