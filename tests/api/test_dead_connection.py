"""A database connection that dies between two requests or in the middle of one (a failover, a
pooler restart) is a 503 with Retry-After, never a 500, and is discarded, so the next request of
that thread opens a new one and succeeds."""

import psycopg
import pytest
from django.db import close_old_connections, connection

from tests.conftest import api_client, fetch_token

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("kills a PostgreSQL backend")


def kill_this_connection() -> None:
    """Terminate the backend of Django's connection from another session, as a crash would."""
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)


@pytest.mark.parametrize("token_cached", [False, True], ids=["in-the-token-lookup", "in-the-view"])
def test_a_connection_killed_under_a_request_is_a_503_and_is_replaced(creds_a, settings, token_cached):
    # The token cache decides where the request's first query is: the token lookup in the
    # middleware, or (cached) the view's own query, after DRF has taken over.
    settings.TOKEN_CACHE_SECONDS = 30 if token_cached else 0
    client = api_client(fetch_token(creds_a.client_id, creds_a.client_secret))
    assert client.get("/api/customers/count").status_code == 200
    kill_this_connection()

    reply = client.get("/api/customers/count")

    assert reply.status_code == 503
    assert reply["Retry-After"]
    assert reply.json()["errors"][0]["code"] == "ServiceUnavailable"
    close_old_connections()  # what Django does when a request finishes
    # The dead connection is gone: closed, or already replaced by a live one within the request.
    assert connection.connection is None or connection.is_usable()
    assert client.get("/api/customers/count").json() == {"count": 0}
