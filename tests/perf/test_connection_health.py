"""The health check (`SELECT 1`) of a persistent connection is skipped when it served a request moments
ago, and made as Django makes it otherwise (twc.connection_health)."""

import os
import subprocess
import sys

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from twc import connection_health


@pytest.fixture
def checked_connection(db):
    """The test's connection with health checks on, as a production connection has them."""
    connection.ensure_connection()
    enabled = connection.health_check_enabled
    connection.health_check_enabled = True
    yield connection
    connection.health_check_enabled = enabled
    connection.health_check_done = True


def statements_of_a_request(monkeypatch, *, since_last: float) -> list[str]:
    """One query of a request `since_last` seconds after the previous request ended.

    The receivers are called as the request signals call them: sending the signals themselves would
    run Django's close_old_connections, which closes the test's connection (it is in a transaction).
    That one's part, asking for a check at the start of every request, is played here by hand."""
    clock = [1000.0]
    monkeypatch.setattr(connection_health.time, "monotonic", lambda: clock[0])
    connection_health.note_request_finished()  # the previous request
    clock[0] += since_last
    connection.health_check_done = False
    connection_health.skip_check_of_recent_connections()
    with CaptureQueriesContext(connection) as queries:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 42")
    return [query["sql"] for query in queries.captured_queries]


def test_a_connection_used_moments_ago_is_not_checked(checked_connection, monkeypatch, settings):
    settings.CONN_HEALTH_CHECK_SKIP_SECONDS = 1
    checks = []
    monkeypatch.setattr(type(connections["default"]), "is_usable", lambda self: checks.append(1) or True)
    assert statements_of_a_request(monkeypatch, since_last=0.5) == ["SELECT 42"]
    assert checks == []


def test_an_idle_connection_is_checked(checked_connection, monkeypatch, settings):
    settings.CONN_HEALTH_CHECK_SKIP_SECONDS = 1
    checks = []
    monkeypatch.setattr(type(connections["default"]), "is_usable", lambda self: checks.append(1) or True)
    assert statements_of_a_request(monkeypatch, since_last=1.5) == ["SELECT 42"]
    assert checks == [1]


def test_no_window_checks_every_request(checked_connection, monkeypatch, settings):
    settings.CONN_HEALTH_CHECK_SKIP_SECONDS = 0
    checks = []
    monkeypatch.setattr(type(connections["default"]), "is_usable", lambda self: checks.append(1) or True)
    statements_of_a_request(monkeypatch, since_last=0.01)
    assert checks == [1]


def test_a_connection_whose_request_failed_is_checked(checked_connection, monkeypatch, settings):
    settings.CONN_HEALTH_CHECK_SKIP_SECONDS = 1
    checks = []
    monkeypatch.setattr(type(connections["default"]), "is_usable", lambda self: checks.append(1) or True)
    connection.errors_occurred = True
    try:
        clock = [1000.0]
        monkeypatch.setattr(connection_health.time, "monotonic", lambda: clock[0])
        setattr(connection, connection_health.FINISHED_AT, 0.0)  # long ago
        connection_health.note_request_finished()  # finished with an error: not noted
    finally:
        connection.errors_occurred = False
    connection.health_check_done = False
    connection_health.skip_check_of_recent_connections()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 42")
    assert checks == [1]


ORDER_SCRIPT = """
import django
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

django.setup()
from twc import connection_health

for signal, receiver in (
    (request_started, connection_health.skip_check_of_recent_connections),
    (request_finished, connection_health.note_request_finished),
):
    receivers = [ref() for _, ref, *_ in signal.receivers]
    print(receivers.index(close_old_connections) < receivers.index(receiver))
"""


def test_the_receivers_run_after_djangos_own_in_a_server_process():
    """As a server process loads them (Django's test client disconnects and reconnects its own
    receiver around each request, so the order inside this process says nothing)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "twc.settings"}
    result = subprocess.run([sys.executable, "-c", ORDER_SCRIPT], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.split() == ["True", "True"]
