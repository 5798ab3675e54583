"""The store of an /api/ request is resolved once, by the store middleware, before the rate limiter,
the idempotency keys and the view, which all read it."""

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from tenants.authentication import resolve_store
from tests.conftest import api_client


@pytest.fixture(autouse=True)
def _every_guard_on_and_no_token_cache(settings):
    settings.TOKEN_CACHE_SECONDS = 0
    settings.RATE_LIMIT_ENABLED = True
    settings.REDIS_URL = ""


def token_lookups(request) -> tuple:
    with CaptureQueriesContext(connection) as queries:
        response = request()
    return response, sum('"oauth2_provider_accesstoken"' in query["sql"] for query in queries.captured_queries)


def test_a_post_with_an_idempotency_key_looks_its_token_up_once(api_a, store_a):
    response, lookups = token_lookups(
        lambda: api_a.post("/api/customers", {"email": "a@x.com"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    )
    assert response.status_code == 201
    assert response.has_header("X-RateLimit-Remaining")
    assert lookups == 1
    assert Customer.objects.get().store == store_a


@pytest.mark.parametrize("header", ["Bearer unknown", "Bearer a b", "Basic abc"])
def test_a_refused_token_is_looked_up_at_most_once_and_answered_401(db, header):
    response, lookups = token_lookups(
        lambda: api_client(None).post(
            "/api/customers", {"email": "a@x.com"}, format="json", HTTP_AUTHORIZATION=header, HTTP_IDEMPOTENCY_KEY="k"
        )
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "InvalidToken"
    assert not response.has_header("X-RateLimit-Limit")
    assert lookups == (1 if header == "Bearer unknown" else 0)


def test_the_request_carries_the_store_and_the_token(creds_a, api_a):
    token = api_a._credentials["HTTP_AUTHORIZATION"]
    request = RequestFactory().get("/api/customers", HTTP_AUTHORIZATION=token)
    resolve_store(request)
    assert request.store == creds_a.store
    assert request.store_token.application.client_id == creds_a.client_id
    assert request.store_token_refusal is None


def test_a_refusal_is_kept_for_the_401(db):
    request = RequestFactory().get("/api/customers?access_token=abc")
    resolve_store(request)
    assert (request.store, request.store_token) == (None, None)
    assert request.store_token_refusal == "Send the token in the Authorization header, not the query string."


def test_outside_the_api_no_token_is_looked_up(db):
    response, lookups = token_lookups(lambda: api_client("unknown").get("/healthz"))
    assert response.status_code == 200
    assert lookups == 0
