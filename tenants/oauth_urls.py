"""The OAuth endpoints under /o/: only the token, revoke and introspect views. DOT's default include
also mounts application management and authorization pages this service does not offer."""

from django.urls import path

from tenants import oauth_views

app_name = "oauth2_provider"

urlpatterns = [
    path("token/", oauth_views.TokenView.as_view(), name="token"),
    path("revoke_token/", oauth_views.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", oauth_views.IntrospectTokenView.as_view(), name="introspect"),
]
