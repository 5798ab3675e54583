"""Probes for a load balancer or an orchestrator; no authentication, no sessions.

GET /healthz: the process answers (no database). GET /readyz: the database answers too; otherwise
503 ServiceUnavailable in the contract's shape, so that traffic goes elsewhere until it recovers.
"""

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from twc.api.errors import service_unavailable
from twc.api.exceptions import is_database_unavailable
from twc.api.middleware import json_error_response


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        if not is_database_unavailable(exc):
            raise
        return json_error_response(service_unavailable())
    return JsonResponse({"status": "ready", "database": "ok"})
