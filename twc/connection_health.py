"""The health check of a persistent connection, skipped when the connection served a request moments ago.

With CONN_HEALTH_CHECKS on, Django checks a reused connection (`SELECT 1`, one round trip) before
the first query of every request, so that a connection the database dropped (a restart, an idle
timeout in a proxy) is replaced instead of failing the request. A connection that finished a
request without error less than CONN_HEALTH_CHECK_SKIP_SECONDS ago is taken as alive: under load
that is every request, which then makes one round trip fewer. A connection broken within that
window fails its next request, which answers 503 as any outage does (twc.api.exceptions); Django
then closes it at the end of that request and the next one connects afresh. A connection idle for
longer is checked as Django does. 0 checks every request.
"""

import time
from typing import Any

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connections

FINISHED_AT = "twc_request_finished_at"


def note_request_finished(**kwargs: Any) -> None:
    """After Django's own end-of-request handling (which closes a connection that failed)."""
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and not connection.errors_occurred:
            setattr(connection, FINISHED_AT, now)


def skip_check_of_recent_connections(**kwargs: Any) -> None:
    """After Django's own start-of-request handling (which asks for a health check)."""
    window = settings.CONN_HEALTH_CHECK_SKIP_SECONDS
    if window <= 0:
        return
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        # health_check_enabled/_done: Django's (5.1+) attributes, which its stubs do not declare.
        if (
            connection.connection is not None
            and connection.health_check_enabled  # type: ignore[attr-defined]
            and not connection.health_check_done  # type: ignore[attr-defined]
            and now - getattr(connection, FINISHED_AT, float("-inf")) < window
        ):
            connection.health_check_done = True  # type: ignore[attr-defined]


def connect_signals() -> None:
    # Connected after django.db's close_old_connections (at django.db's import), so they run after it.
    request_finished.connect(note_request_finished, dispatch_uid="twc.connection_health.finished")
    request_started.connect(skip_check_of_recent_connections, dispatch_uid="twc.connection_health.started")
