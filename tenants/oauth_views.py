"""The OAuth endpoints: django-oauth-toolkit's token, revoke and introspect views, hardened.

Every request goes through `CredentialEndpoint.dispatch`, in this order, each step before any
credential is looked at unless it says otherwise:
1. credentials or tokens in the query string are refused (`invalid_request`), whatever the method;
   a method other than POST is DOT's 405;
2. a body over `OAUTH_MAX_BODY_BYTES` is refused (413);
3. the token endpoint refuses every grant but `client_credentials` (`unsupported_grant_type`);
4. the limits on credentials (tenants.oauth_limits) admit the request or answer 429;
5. DOT's view answers, through the validator (tenants.oauth_validator); a 503 when no hash slot
   became free; a failed client authentication is 401 `invalid_client` with a Basic challenge
   (RFC 6749 section 5.2);
6. the limits are settled: failures count, successes are given back.
"""

import calendar
import hashlib
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import View
from oauth2_provider import views as dot_views
from oauth2_provider.models import Application, get_access_token_model
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.common import Request as OauthlibRequest

from tenants import oauth_limits
from tenants.oauth_credentials import CredentialCheck, credentials_of, current_check
from tenants.oauth_validator import HashCapacityExceeded

GRANT_TYPE = "client_credentials"
# Parameters that carry a credential, a token or a grant: never read from the query string (RFC 6749
# section 2.3.1, RFC 6750 section 2.3, RFC 9700), where access logs and proxies would keep them.
QUERY_REFUSED = frozenset(
    {
        "access_token",
        "client_id",
        "client_secret",
        "code",
        "grant_type",
        "password",
        "refresh_token",
        "scope",
        "token",
        "token_type_hint",
        "username",
    }
)
BASIC_CHALLENGE = 'Basic realm="oauth"'


def oauth_error(status: int, error: str, description: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def refuse_query_credentials(request: HttpRequest) -> JsonResponse | None:
    in_query = sorted(QUERY_REFUSED.intersection(request.GET.keys()))
    if not in_query:
        return None
    return oauth_error(
        400,
        "invalid_request",
        f"'{in_query[0]}' must be sent in the form body or the Authorization header, not the query string.",
    )


def invalid_client() -> JsonResponse:
    return oauth_error(401, "invalid_client", "Client authentication failed.", WWW_Authenticate=BASIC_CHALLENGE)


class CredentialEndpoint(View):
    """The steps every OAuth endpoint shares (the module's docstring lists them). A mixin ahead of
    a View (DOT's or Django's), which it subclasses so that `super().dispatch` is known: View stays
    last in every endpoint's MRO either way."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        refused: HttpResponse | None = refuse_query_credentials(request)
        if refused is not None or request.method != "POST":
            return refused or super().dispatch(request, *args, **kwargs)
        refused = self.refuse_before_credentials(request)
        if refused is not None:
            return refused
        credentials = credentials_of(request)
        admission = oauth_limits.admit(request, credentials)
        if admission.refusal is not None:
            return oauth_error(
                429,
                "too_many_requests",
                "Too many failed client authentications; retry later.",
                Retry_After=str(admission.refusal.retry_after),
            )
        check = CredentialCheck()
        reset = current_check.set(check)
        try:
            response = self.respond(request, *args, **kwargs)
        except HashCapacityExceeded:
            response = oauth_error(
                503, "temporarily_unavailable", "Too many credential checks at once; retry.", Retry_After="1"
            )
        finally:
            current_check.reset(reset)
        oauth_limits.settle(admission, check, credentials)
        if response.status_code == 401:
            response["WWW-Authenticate"] = BASIC_CHALLENGE
        return response

    def refuse_before_credentials(self, request: HttpRequest) -> HttpResponse | None:
        length = request.META.get("CONTENT_LENGTH") or ""
        if length.isdigit() and int(length) > settings.OAUTH_MAX_BODY_BYTES:
            return oauth_error(413, "invalid_request", "The request body is too large.")
        return None

    def respond(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return super().dispatch(request, *args, **kwargs)


# DOT's views are CSRF-exempt through their own dispatch, which CredentialEndpoint.dispatch overrides.
@method_decorator(csrf_exempt, name="dispatch")
class TokenView(CredentialEndpoint, dot_views.TokenView):
    """Grants client_credentials only. Any other grant, a missing or repeated grant_type, is refused
    before any client lookup or hash: oauthlib checks a password grant's password before it checks
    that the client may use that grant, which let any client test a staff user's password."""

    def refuse_before_credentials(self, request: HttpRequest) -> HttpResponse | None:
        refused = super().refuse_before_credentials(request)
        if refused is None and request.POST.getlist("grant_type") != [GRANT_TYPE]:
            return oauth_error(400, "unsupported_grant_type", f"Only grant_type={GRANT_TYPE} is supported.")
        return refused


@method_decorator(csrf_exempt, name="dispatch")
class RevokeTokenView(CredentialEndpoint, dot_views.RevokeTokenView):
    """RFC 7009. DOT's validator revokes only a token of the authenticated client."""


@method_decorator(csrf_exempt, name="dispatch")
class IntrospectTokenView(CredentialEndpoint, OAuthLibMixin, View):
    """RFC 7662, by client authentication only (POST). A client learns about its own tokens; any
    other token, valid or not, is `{"active": false}`, as RFC 7662 section 2.2 allows."""

    http_method_names = ["post", "options"]
    client: Application  # the authenticated client, set by `respond` before `post` runs

    def respond(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        core = self.get_oauthlib_core()
        uri, http_method, body, headers = core._extract_params(request)
        oauth_request = OauthlibRequest(uri, http_method, body, headers)
        # An authenticated request has its client loaded (tenants.oauth_validator).
        if not core.server.request_validator.authenticate_client(oauth_request) or oauth_request.client is None:
            return invalid_client()
        self.client = oauth_request.client
        return super().respond(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        value = request.POST.get("token")
        if not value:
            return oauth_error(400, "invalid_request", "Token parameter is missing.")
        token = (
            get_access_token_model()
            .objects.filter(token_checksum=hashlib.sha256(value.encode("utf-8")).hexdigest(), application=self.client)
            .first()
        )
        if token is None or not token.is_valid():
            return JsonResponse({"active": False})
        return JsonResponse(
            {
                "active": True,
                "scope": token.scope,
                "exp": int(calendar.timegm(token.expires.timetuple())),
                "client_id": self.client.client_id,
            }
        )
