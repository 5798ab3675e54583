"""Rate limits: per OAuth application on /api/ (store override, headers, 429), and the token endpoint."""

import pytest
from rest_framework.test import APIClient

from tenants.services import store_application_create
from tests.conftest import api_client, fetch_token, post_form
from twc.api import ratelimit

pytestmark = pytest.mark.usefixtures("shared_state")


def budget(response):
    return response["X-RateLimit-Limit"], response["X-RateLimit-Remaining"]


def test_every_api_response_carries_the_budget(api_a, store_a):
    store_a.rate_limit_per_second = 0.001  # no refill within the test
    store_a.rate_limit_burst = 3
    store_a.save()
    assert budget(api_a.get("/api/customers")) == ("3", "2")
    assert budget(api_a.get("/api/customers/nobody")) == ("3", "1")  # a 404 counts too
    assert budget(api_a.post("/api/customers", {"email": "a@x.com"})) == ("3", "0")
    response = api_a.get("/api/customers")
    assert response.status_code == 429
    assert response.json() == {
        "statusCode": 429,
        "message": response.json()["message"],
        "errors": [{"code": "TooManyRequests", "message": response.json()["message"]}],
    }
    assert response.json()["message"].startswith("Too many requests; retry in ")
    assert int(response["Retry-After"]) >= 1
    assert budget(response) == ("3", "0")
    assert response["Content-Type"] == "application/json"


def test_limits_are_per_application_and_never_shared_between_stores(api_a, api_b, store_a, settings):
    settings.RATE_LIMIT_PER_SECOND = 0.001
    settings.RATE_LIMIT_BURST = 2
    assert [api_a.get("/api/customers").status_code for _ in range(3)] == [200, 200, 429]
    assert api_b.get("/api/customers").status_code == 200
    creds = store_application_create(store=store_a)
    second_app_of_a = api_client(fetch_token(creds.client_id, creds.client_secret))
    assert second_app_of_a.get("/api/customers").status_code == 200
    # a new token of the same application shares its bucket
    assert api_a.get("/api/customers").status_code == 429


def test_bucket_refills_at_the_steady_rate(api_a, store_a, monkeypatch, shared_state):
    if shared_state == "redis":
        pytest.skip("Redis keeps its own clock")
    clock = [1000.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: clock[0])
    store_a.rate_limit_per_second = 2
    store_a.rate_limit_burst = 4
    store_a.save()
    assert [api_a.get("/api/customers").status_code for _ in range(5)] == [200, 200, 200, 200, 429]
    clock[0] += 0.25  # half a token
    limited = api_a.get("/api/customers")
    assert (limited.status_code, limited["Retry-After"]) == (429, "1")
    clock[0] += 1.0  # 2.5 tokens by now
    assert [api_a.get("/api/customers").status_code for _ in range(3)] == [200, 200, 429]
    clock[0] += 3600  # never more than the burst
    assert budget(api_a.get("/api/customers")) == ("4", "3")


def test_unauthenticated_requests_are_not_counted(client, api_a, store_a):
    store_a.rate_limit_per_second = 0.001
    store_a.rate_limit_burst = 1
    store_a.save()
    for _ in range(3):
        response = client.get("/api/customers", HTTP_AUTHORIZATION="Bearer nope")
        assert response.status_code == 401 and not response.has_header("X-RateLimit-Limit")
    assert api_a.get("/api/customers").status_code == 200


def test_limits_can_be_switched_off(api_a, settings):
    settings.RATE_LIMIT_ENABLED = False
    settings.RATE_LIMIT_BURST = 1
    settings.RATE_LIMIT_PER_SECOND = 0.001
    responses = [api_a.get("/api/customers") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert not responses[0].has_header("X-RateLimit-Remaining")


def token_request(creds, secret: str | None = None, **extra):
    secret = creds.client_secret if secret is None else secret
    return post_form(
        APIClient(),
        "/o/token/",
        {"grant_type": "client_credentials", "client_id": creds.client_id, "client_secret": secret},
        **extra,
    )


def test_token_endpoint_limits_failures_per_client(creds_a, creds_b, settings):
    settings.TOKEN_CLIENT_RATE_LIMIT_PER_SECOND = 0.001
    settings.TOKEN_CLIENT_RATE_LIMIT_BURST = 2
    assert [token_request(creds_a).status_code for _ in range(3)] == [200, 200, 200]  # successes do not count
    assert [token_request(creds_a, "wrong").status_code for _ in range(2)] == [401, 401]
    limited = token_request(creds_a, "wrong")
    assert limited.status_code == 429
    assert limited.json() == {
        "error": "too_many_requests",
        "error_description": "Too many failed client authentications; retry later.",
    }
    assert int(limited["Retry-After"]) >= 1
    # the same client through HTTP Basic is the same client; another client is not limited
    basic = APIClient()
    basic.credentials(HTTP_AUTHORIZATION=f"Basic {basic_credentials(creds_a, 'wrong')}")
    assert post_form(basic, "/o/token/", {"grant_type": "client_credentials"}).status_code == 429
    assert token_request(creds_b, "wrong").status_code == 401
    # and the store's own secret is never refused by them
    assert token_request(creds_a).status_code == 200


def test_token_endpoint_limits_failures_per_ip(creds_a, creds_b, settings):
    settings.TOKEN_RATE_LIMIT_PER_SECOND = 0.001
    settings.TOKEN_RATE_LIMIT_BURST = 2
    assert token_request(creds_a, "wrong").status_code == 401
    assert token_request(creds_b, "wrong").status_code == 401
    assert token_request(creds_b, "wrong").status_code == 429
    assert token_request(creds_a, "wrong", REMOTE_ADDR="10.0.0.9").status_code == 401
    assert token_request(creds_a).status_code == 200


def basic_credentials(creds, secret: str | None = None) -> str:
    """The client id and secret as HTTP Basic credentials (RFC 6749 section 2.3.1)."""
    import base64

    secret = creds.client_secret if secret is None else secret
    return base64.b64encode(f"{creds.client_id}:{secret}".encode()).decode()


def test_the_limiter_adds_a_constant_number_of_statements(api_a, settings, shared_state):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def statements_of_a_get() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api_a.get("/api/customers/nobody").status_code == 404
        return len(queries)

    statements_of_a_get()  # the bucket exists from here on
    limited = [statements_of_a_get() for _ in range(3)]
    settings.RATE_LIMIT_ENABLED = False
    unlimited = statements_of_a_get()
    extra = {count - unlimited for count in limited}
    print(f"\nrate limiter on the {shared_state}: {extra.pop()} extra SQL statements per request")
    # Redis keeps the buckets: no SQL. The database: savepoint, SELECT ... FOR UPDATE, UPDATE, release.
    assert {count - unlimited for count in limited} == ({0} if shared_state == "redis" else {4})


def test_a_token_given_back_refills_the_bucket_never_above_its_burst(db):
    limit = ratelimit.Limit("test:give-back", 0.001, 2)
    assert ratelimit.take_each([limit]) == (None, [limit])
    assert ratelimit.take_each([limit]) == (None, [limit])
    refusal, taken = ratelimit.take_each([limit])
    assert (refusal.allowed, taken) == (False, [])
    ratelimit.give_back_each([limit])
    assert ratelimit.take_each([limit])[0] is None
    for _ in range(5):
        ratelimit.give_back_each([limit])
    assert [ratelimit.take(limit.key, rate=limit.rate, burst=limit.burst).allowed for _ in range(3)] == [
        True,
        True,
        False,
    ]
    ratelimit.give_back("test:never-taken", rate=1, burst=1)  # a bucket that does not exist stays so


def test_take_each_stops_at_the_first_refusal(db):
    first, second = ratelimit.Limit("test:first", 0.001, 1), ratelimit.Limit("test:second", 0.001, 5)
    ratelimit.take_each([first])
    refusal, taken = ratelimit.take_each([first, second])
    assert refusal is not None and taken == []
    assert ratelimit.take(second.key, rate=second.rate, burst=second.burst).remaining == 4  # untouched before
