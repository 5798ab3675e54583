"""The WAL position of an application's last write (twc/replica.py) only moves forward, in Redis
and in the database alike: a request that finishes late with an older position cannot make the
application's next reads trust a standby that lacks its newer write."""

import pytest
from django.db import connection

from twc import replica

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_the_highest_position_is_kept_when_writes_finish_out_of_order(shared_state, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("WAL positions are PostgreSQL's")
    application_id = 4242
    assert replica.last_write(application_id) == 0
    for position, expected in [(500, 500), (300, 500), (900, 900)]:
        monkeypatch.setattr(replica, "primary_position", lambda position=position: position)
        replica.remember_write(application_id)
        assert replica.last_write(application_id) == expected
    assert replica.last_write(application_id + 1) == 0  # per application


def test_the_primary_position_is_read_from_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("WAL positions are PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        before = replica.lsn_to_int(cursor.fetchone()[0])
    assert replica.primary_position() >= before > 0


def test_a_primary_lost_before_the_position_is_read_is_a_503(api_a, monkeypatch):
    from django.db import OperationalError

    def primary_gone(application_id):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(replica, "replica_configured", lambda: True)
    monkeypatch.setattr(replica, "remember_write", primary_gone)
    response = api_a.post("/api/customers", {"id": "c-1", "email": "a@example.com"})
    assert response.status_code == 503, response.content
    assert response.json()["errors"][0]["code"] == "ServiceUnavailable"
    assert int(response["Retry-After"]) >= 1
