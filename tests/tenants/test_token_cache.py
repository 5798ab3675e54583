"""The process-local token cache: fewer queries, and revocation within the documented bound."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import AccessToken, Application
from rest_framework.test import APIClient

from tenants.token_cache import TokenCache, token_cache
from tests.conftest import api_client, fetch_token, post_form


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(token_cache, "clock", fake)
    return fake


@pytest.fixture
def token_a(creds_a):
    return fetch_token(creds_a.client_id, creds_a.client_secret)


def queries_of(client, path):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    return response, [q["sql"] for q in queries.captured_queries]


def revoke(creds, token):
    response = post_form(
        APIClient(),
        "/o/revoke_token/",
        {"token": token, "client_id": creds.client_id, "client_secret": creds.client_secret},
    )
    assert response.status_code == 200


def delete_tokens_behind_the_cache():
    """What another server process revoking a token looks like from here: no signal in this process."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM oauth2_provider_accesstoken")


@pytest.fixture(autouse=True)
def _no_rate_limit_statements(settings):
    # Counted here: the token's queries only; the limiter's are tests/api/test_ratelimit.py's.
    settings.RATE_LIMIT_ENABLED = False


def test_second_request_needs_no_token_query(token_a):
    client = api_client(token_a)
    first, first_sql = queries_of(client, "/api/customers/nope")
    second, second_sql = queries_of(client, "/api/customers/nope")
    assert first.status_code == second.status_code == 404
    assert len(first_sql) == 2
    assert "oauth2_provider_accesstoken" in first_sql[0]
    assert len(second_sql) == 1
    assert "oauth2_provider_accesstoken" not in second_sql[0]


def test_cache_off_checks_the_database_every_request(settings, token_a):
    settings.TOKEN_CACHE_SECONDS = 0
    client = api_client(token_a)
    client.get("/api/customers/nope")
    _, sql = queries_of(client, "/api/customers/nope")
    assert len(sql) == 2
    assert len(token_cache) == 0


def test_revoked_token_is_refused_at_once_in_the_revoking_process(creds_a, token_a):
    client = api_client(token_a)
    assert client.get("/api/customers/nope").status_code == 404
    revoke(creds_a, token_a)
    response = client.get("/api/customers/nope")
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "InvalidToken"


def test_token_revoked_elsewhere_is_refused_within_the_bound(settings, clock, token_a):
    settings.TOKEN_CACHE_SECONDS = 30
    client = api_client(token_a)
    assert client.get("/api/customers/nope").status_code == 404
    delete_tokens_behind_the_cache()
    clock.now += 29.9
    assert client.get("/api/customers/nope").status_code == 404  # still cached: within the bound
    clock.now += 0.1
    assert client.get("/api/customers/nope").status_code == 401  # the bound has passed


def test_cached_token_still_expires(monkeypatch, token_a):
    client = api_client(token_a)
    assert client.get("/api/customers/nope").status_code == 404
    expires = AccessToken.objects.get().expires
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: expires + dt.timedelta(seconds=1))
    assert len(token_cache) == 1
    response = client.get("/api/customers/nope")
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "InvalidToken"


def test_deleting_the_application_revokes_its_cached_tokens(creds_a, token_a):
    client = api_client(token_a)
    assert client.get("/api/customers/nope").status_code == 404
    Application.objects.filter(client_id=creds_a.client_id).delete()
    assert client.get("/api/customers/nope").status_code == 401


def test_a_change_to_a_store_empties_the_cache(store_a, token_a):
    api_client(token_a).get("/api/customers/nope")
    assert len(token_cache) == 1
    store_a.country = "US"
    store_a.save()
    assert len(token_cache) == 0


def test_unknown_tokens_are_not_cached(db):
    assert api_client("not-a-token").get("/api/customers/nope").status_code == 401
    assert len(token_cache) == 0


def test_cache_entry_lives_exactly_the_ttl(settings):
    settings.TOKEN_CACHE_SECONDS = 30
    cache = TokenCache()
    cache.clock = FakeClock()
    cache.put("k", "token")
    cache.clock.now += 29.999
    assert cache.get("k") == "token"
    cache.clock.now += 0.001
    assert cache.get("k") is None
    assert len(cache) == 0


def test_cache_starts_over_when_full(settings):
    settings.TOKEN_CACHE_SECONDS = 30
    cache = TokenCache(max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, None, 3)
