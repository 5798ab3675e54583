"""Idempotency-Key on every POST under /api/: replay, reuse, in progress, per store."""

import datetime as dt
from unittest import mock

import pytest
import redis
from django.utils import timezone

from customers.models import Customer, Order, Wishlist
from tests.api.conftest import TEST_REDIS_URL
from twc.api.models import IdempotencyRecord, IdempotencySubject

pytestmark = pytest.mark.usefixtures("shared_state")


def post_with_key(client, path, body, key, **headers):
    return client.post(path, body, HTTP_IDEMPOTENCY_KEY=key, **headers)


@pytest.mark.parametrize(
    "path, body, model",
    [
        ("/api/customers", {"id": "c-1", "email": "a@x.com"}, Customer),
        ("/api/upload-customers", [{"id": "u-1", "email": "u@x.com"}, {"email": "bad"}], Customer),
        ("/api/orders", {"name": "#1001", "email": "a@x.com", "total_price": 10}, Order),
        ("/api/wishlists", {"email": "a@x.com", "name": "w", "items": ["p-1"]}, Wishlist),
    ],
)
def test_retry_with_the_same_body_replays_the_first_response(api_a, path, body, model):
    first = post_with_key(api_a, path, body, "key-1")
    assert first.status_code in (200, 201), first.content
    assert "Idempotent-Replayed" not in first
    retry = post_with_key(api_a, path, body, "key-1")
    assert retry.status_code == first.status_code
    assert retry.content == first.content
    assert retry["Content-Type"] == first["Content-Type"] == "application/json"
    assert retry["Idempotent-Replayed"] == "true"
    assert model.objects.count() == 1
    if first.has_header("ETag"):
        assert retry["ETag"] == first["ETag"]
    # the replay is still an API response with the current budget
    assert retry["X-RateLimit-Limit"] == "1000"


def test_same_key_with_another_body_is_422(api_a):
    assert post_with_key(api_a, "/api/customers", {"id": "c-1", "email": "a@x.com"}, "k").status_code == 201
    response = post_with_key(api_a, "/api/customers", {"id": "c-2", "email": "b@x.com"}, "k")
    assert response.status_code == 422
    assert response.json() == {
        "statusCode": 422,
        "message": "This Idempotency-Key was already used with a different request.",
        "errors": [
            {
                "code": "IdempotencyKeyReused",
                "message": "This Idempotency-Key was already used with a different request.",
            }
        ],
    }
    # another endpoint with the same body is another request too
    assert post_with_key(api_a, "/api/wishlists", {"id": "c-1", "email": "a@x.com"}, "k").status_code == 422
    assert Customer.objects.count() == 1


def test_same_key_with_another_query_string_is_422(api_a):
    items = [{"id": "c-1", "email": "a@x.com"}]
    assert post_with_key(api_a, "/api/upload-customers?on_conflict=skip", items, "k").status_code == 200
    response = post_with_key(api_a, "/api/upload-customers?on_conflict=update", items, "k")
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "IdempotencyKeyReused"


def test_retry_while_the_first_runs_is_409(api_a, store_a):
    body = {"id": "c-1", "email": "a@x.com"}
    seen = {}
    from customers import services

    real_create = services.customer_create

    def create_with_a_retry_inside(**kwargs):
        seen["retry"] = post_with_key(api_a, "/api/customers", body, "slow")
        return real_create(**kwargs)

    with mock.patch.object(services, "customer_create", create_with_a_retry_inside):
        first = post_with_key(api_a, "/api/customers", body, "slow")
    assert first.status_code == 201
    retry = seen["retry"]
    assert retry.status_code == 409
    assert retry["Retry-After"] == "1"
    assert retry.json()["errors"][0]["code"] == "IdempotencyKeyInProgress"
    # once the first has answered, the retry gets its response
    assert post_with_key(api_a, "/api/customers", body, "slow").content == first.content


def test_keys_of_one_store_never_affect_another(api_a, api_b):
    body = {"id": "c-1", "email": "a@x.com"}
    a = post_with_key(api_a, "/api/customers", body, "shared-key")
    b = post_with_key(api_b, "/api/customers", body, "shared-key")
    assert (a.status_code, b.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in b
    assert a.json()["twc_customer_id"] != b.json()["twc_customer_id"]
    assert post_with_key(api_b, "/api/customers", {"id": "other", "email": "o@x.com"}, "a-only").status_code == 201
    assert post_with_key(api_a, "/api/customers", {"id": "c-9", "email": "z@x.com"}, "a-only").status_code == 201


def test_client_errors_are_kept_but_not_auth_or_scope_errors(api_a, scoped_client):
    bad = post_with_key(api_a, "/api/customers", {"email": "not-an-email"}, "k-400")
    assert bad.status_code == 400
    assert post_with_key(api_a, "/api/customers", {"email": "not-an-email"}, "k-400")["Idempotent-Replayed"] == "true"
    reader = scoped_client("customers:read")
    assert post_with_key(reader, "/api/customers", {"id": "c-1", "email": "a@x.com"}, "k-403").status_code == 403
    created = post_with_key(api_a, "/api/customers", {"id": "c-1", "email": "a@x.com"}, "k-403")
    assert created.status_code == 201 and "Idempotent-Replayed" not in created


def test_server_errors_are_not_kept(api_a):
    from customers import services

    with mock.patch.object(services, "customer_create", side_effect=RuntimeError("boom")):
        assert post_with_key(api_a, "/api/customers", {"id": "c-1", "email": "a@x.com"}, "k-500").status_code == 500
    retry = post_with_key(api_a, "/api/customers", {"id": "c-1", "email": "a@x.com"}, "k-500")
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry


@pytest.mark.parametrize("key", ["", "x" * 256, "spaces are not allowed", "é"])
def test_malformed_keys_are_400(api_a, key):
    response = api_a.post("/api/customers", {"email": "a@x.com"}, HTTP_IDEMPOTENCY_KEY=key.encode().decode("latin-1"))
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "code": "InvalidField",
        "field": "Idempotency-Key",
        "message": "'Idempotency-Key' must be 1 to 255 printable ASCII characters.",
    }
    assert Customer.objects.count() == 0


def test_without_a_key_or_a_valid_token_nothing_changes(api_a, client):
    assert api_a.post("/api/customers", {"email": "a@x.com"}).status_code == 201
    assert api_a.post("/api/customers", {"email": "a@x.com"}).status_code == 409
    anonymous = client.post("/api/customers", {}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    assert anonymous.status_code == 401
    # GET, PUT and DELETE ignore the header
    assert api_a.get("/api/customers", HTTP_IDEMPOTENCY_KEY="k").status_code == 200


def test_database_records_expire_and_abandoned_runs_are_taken_over(api_a, shared_state):
    if shared_state != "database":
        pytest.skip("Redis expires keys by itself")
    body = {"id": "c-1", "email": "a@x.com"}
    first = post_with_key(api_a, "/api/customers", body, "old")
    IdempotencyRecord.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert api_a.delete("/api/customers/c-1").status_code == 200
    again = post_with_key(api_a, "/api/customers", body, "old")
    assert again.status_code == 201 and again.json()["twc_customer_id"] != first.json()["twc_customer_id"]

    other = {"id": "c-2", "email": "b@x.com"}
    # a run whose process died holds the key only until its lock runs out
    assert post_with_key(api_a, "/api/customers", other, "crashed").status_code == 201
    IdempotencyRecord.objects.filter(key="crashed").update(
        status=None, owner="dead", locked_until=timezone.now() + dt.timedelta(seconds=60)
    )
    assert (
        post_with_key(api_a, "/api/customers", other, "crashed").json()["errors"][0]["code"]
        == "IdempotencyKeyInProgress"
    )
    IdempotencyRecord.objects.filter(key="crashed").update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    taken_over = post_with_key(api_a, "/api/customers", other, "crashed")
    assert taken_over.status_code == 409 and "Idempotent-Replayed" not in taken_over
    assert taken_over.json()["errors"][0]["code"] == "DuplicateField"


def test_a_stored_reply_names_its_customers_and_they_go_with_it(api_a, store_a, shared_state, settings):
    from twc.api.idempotency_store import _redis_subject_set, expired_records_delete, stored_replies_forget

    first = post_with_key(api_a, "/api/customers", {"id": "c-1", "email": "a@x.com"}, "k")
    subject = first.json()["twc_customer_id"]
    if shared_state == "database":
        assert list(IdempotencySubject.objects.values_list("subject", flat=True)) == [subject]
        IdempotencyRecord.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
        assert expired_records_delete() == 1  # records, not their subject rows
        assert not IdempotencySubject.objects.exists()
        return
    client = redis.Redis.from_url(TEST_REDIS_URL)
    name = _redis_subject_set(store_a.pk, subject)
    assert 0 < client.ttl(name) <= settings.IDEMPOTENCY_TTL_SECONDS
    # the key expires and is claimed again by another request: forgetting the old subject leaves it
    client.delete(*client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}idem:*"))
    other = post_with_key(api_a, "/api/customers", {"id": "c-2", "email": "b@x.com"}, "k")
    assert other.status_code == 201
    assert stored_replies_forget(store=store_a, subjects=[subject]) == 0
    assert post_with_key(api_a, "/api/customers", {"id": "c-2", "email": "b@x.com"}, "k")["Idempotent-Replayed"]
    assert not client.exists(name)


def test_forgetting_touches_only_the_stores_own_replies(api_a, api_b, store_a, store_b, shared_state):
    from twc.api.idempotency_store import stored_replies_forget

    a = post_with_key(api_a, "/api/customers", {"id": "c-1", "email": "a@x.com"}, "k")
    post_with_key(api_b, "/api/customers", {"id": "c-1", "email": "a@x.com"}, "k")
    assert stored_replies_forget(store=store_b, subjects=[a.json()["twc_customer_id"]]) == 0
    assert stored_replies_forget(store=store_a, subjects=[a.json()["twc_customer_id"]]) == 1
    assert "Idempotent-Replayed" not in post_with_key(api_a, "/api/customers", {"id": "c-1", "email": "a@x.com"}, "k")
    assert post_with_key(api_b, "/api/customers", {"id": "c-1", "email": "a@x.com"}, "k")["Idempotent-Replayed"]
