"""Views every part of the API shares."""

from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from twc.api.errors import not_found


@extend_schema(exclude=True)
class UnknownApiPathView(APIView):
    """Any path under /api/ that no route claims: 404 in the contract's shape, never an HTML page."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.args, self.kwargs = args, kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        response = self.handle_exception(not_found(f"No API endpoint at '{request.path[:200]}'."))
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response
