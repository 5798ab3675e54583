"""Rate limits: per OAuth application on /api/ (store override, headers, 429), and the token endpoint."""

import pytest
import redis
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

    settings.RATE_LIMIT_LOCAL_BATCH = 1  # every request reaches the shared store
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


class SentCommands:
    """The commands this process sends to Redis, counted where redis-py sends each one."""

    def __init__(self, monkeypatch):
        self.names: list[str] = []
        send = redis.Redis.execute_command

        def counted(client, *args, **options):
            self.names.append(str(args[0]).upper())
            return send(client, *args, **options)

        monkeypatch.setattr(redis.Redis, "execute_command", counted)


def round_trips_of(api, requests: int, shared_state: str, sent: SentCommands | None) -> int:
    """Round trips to the shared store of `requests` GETs: Redis commands, or SQL statements of
    the limiter (savepoint, SELECT ... FOR UPDATE, UPDATE, release: four per take)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if shared_state == "redis":
        assert sent is not None
        before = len(sent.names)
        for _ in range(requests):
            assert api.get("/api/customers/nobody").status_code == 404
        assert set(sent.names[before:]) <= {"EVALSHA"}
        return len(sent.names) - before
    with CaptureQueriesContext(connection) as queries:
        for _ in range(requests):
            assert api.get("/api/customers/nobody").status_code == 404
    return sum("ratelimit" in query["sql"] for query in queries.captured_queries)


def test_round_trips_to_the_shared_store_per_request(api_a, store_a, settings, shared_state, monkeypatch):
    sent = SentCommands(monkeypatch) if shared_state == "redis" else None
    per_take = 1 if shared_state == "redis" else 2  # the database's SELECT ... FOR UPDATE and UPDATE
    settings.RATE_LIMIT_LOCAL_BATCH = 1
    round_trips_of(api_a, 1, shared_state, sent)  # the bucket (and the loaded script) exist from here on
    assert round_trips_of(api_a, 5, shared_state, sent) == 5 * per_take

    # A batch of 16 while the bucket (1,000) holds at least 8 batches: one take per 16 requests.
    settings.RATE_LIMIT_LOCAL_BATCH = 16
    ratelimit.local_allotments.clear()
    assert round_trips_of(api_a, 32, shared_state, sent) == 2 * per_take
    assert round_trips_of(api_a, 1, shared_state, sent) == per_take  # the 33rd starts a new batch

    # A bucket holding fewer than 8 batches is counted one request at a time.
    store_a.rate_limit_per_second, store_a.rate_limit_burst = 0.001, 100
    store_a.save()
    ratelimit.local_allotments.clear()
    assert round_trips_of(api_a, 5, shared_state, sent) == 5 * per_take


def test_spare_tokens_are_budget_already_taken_from_the_shared_bucket(api_a, store_a, settings, monkeypatch):
    settings.RATE_LIMIT_LOCAL_BATCH = 16
    store_a.rate_limit_per_second, store_a.rate_limit_burst = 0.001, 130  # no refill within the test
    store_a.save()
    remaining = [int(api_a.get("/api/customers").headers["X-RateLimit-Remaining"]) for _ in range(3)]
    # The first request took 16 (130 >= 8 x 16): 114 in the bucket and 15 in hand, one spent each time.
    assert remaining == [129, 128, 127]
    # Another process sees the bucket without this process's spare tokens, and takes one at a time
    # below 8 batches: this process's spare ones are never granted twice.
    ratelimit.local_allotments.clear()
    assert api_a.get("/api/customers").headers["X-RateLimit-Remaining"] == "113"
    responses = [api_a.get("/api/customers") for _ in range(114)]
    assert [r.status_code for r in responses].count(200) == 113
    assert responses[-1].status_code == 429


def test_spare_tokens_are_dropped_when_their_lease_ends_or_the_limits_change(db):
    allotments = ratelimit.LocalAllotments()
    clock = [100.0]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ratelimit.time, "monotonic", lambda: clock[0])
        allotments.keep("k", ratelimit.Allotment(rate=10, burst=200, spare=2, remaining=150, until=101.0))
        assert allotments.spend("k", 10, 200) == ratelimit.Decision(True, 200, 149, 0)
        assert allotments.spend("k", 10, 300) is None  # limits changed: dropped
        assert allotments.spend("k", 10, 200) is None
        allotments.keep("k", ratelimit.Allotment(rate=10, burst=200, spare=2, remaining=150, until=101.0))
        clock[0] = 101.0
        assert allotments.spend("k", 10, 200) is None  # the lease ended
