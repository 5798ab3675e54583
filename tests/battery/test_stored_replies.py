"""Stored replies (`Idempotency-Key`), on both backends (the database and Redis): a replay goes only
to a token with the scope the request needs; erasing a customer deletes the replies that hold it
(the service, the admin's action, `erase_deleted_customers --older-than 0`); an answer carrying a
link (send_invite) is never stored; a 5xx, an exception or an outage that outlasts the request
releases its key rather than holding it until its lock runs out."""

import base64
import io
import json
import time
import urllib.parse
from unittest import mock

import pytest
import redis
from django.core.management import CommandError, call_command
from django.db import OperationalError

from customers import api as customers_api
from customers import services
from customers.models import AccountInvite, Customer
from customers.services.erasure import customer_erase
from tenants.models import Store, StoreApplication
from tests.admin.conftest import admin_a, staff_a  # noqa: F401 - fixtures
from tests.api.conftest import TEST_REDIS_URL, shared_state  # noqa: F401 - the fixture: both backends
from twc.api import idempotency
from twc.api.errors import ApiError
from twc.api.idempotency_store import _redis_name
from twc.api.models import IdempotencyRecord, IdempotencySubject

SECRET_NOTE = "prefers the back door"


def post(client, path, body, key, **headers):
    return client.post(path, body, HTTP_IDEMPOTENCY_KEY=key, **headers)


def stored_bodies(settings, backend: str) -> dict[str, bytes]:
    """Every stored reply's body, by key (database) or Redis name."""
    if backend == "database":
        return {record.key: bytes(record.body) for record in IdempotencyRecord.objects.exclude(status=None)}
    client = redis.Redis.from_url(TEST_REDIS_URL)
    bodies = {}
    for name in client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}idem:*"):
        value = json.loads(client.get(name))
        if value["state"] == "done":
            bodies[name.decode()] = base64.b64decode(value["body"])
    return bodies


def is_claimed(settings, backend: str, key: str) -> bool:
    if backend == "database":
        return IdempotencyRecord.objects.filter(key=key).exists()
    client = redis.Redis.from_url(TEST_REDIS_URL)
    return any(client.exists(_redis_name(pk, key)) for pk in Store.objects.values_list("pk", flat=True))


# --- (a) a replay needs the request's scope ----------------------------------------------------
def test_a_read_only_token_gets_no_replay_and_claims_nothing(api_a, scoped_client, shared_state, settings):  # noqa: F811
    body = {"id": "c-1", "email": "ann@example.com", "note": SECRET_NOTE}
    first = post(api_a, "/api/customers", body, "k")
    assert first.status_code == 201
    reader = scoped_client("customers:read")
    answers = {
        "replay": post(reader, "/api/customers", body, "k"),
        "another body": post(reader, "/api/customers", {"id": "c-2", "email": "b@example.com"}, "k"),
        "a fresh key": post(reader, "/api/customers", body, "fresh"),
        "send_invite": post(reader, "/api/customers/c-1/send_invite", {"send_email": False}, "inv"),
    }
    print(f"\nread-only token ({shared_state}): " + ", ".join(f"{k} {r.status_code}" for k, r in answers.items()))
    for response in answers.values():
        assert response.status_code == 403, response.content
        assert response.json()["errors"][0]["code"] == "InsufficientScope"
        assert "Idempotent-Replayed" not in response
        assert SECRET_NOTE.encode() not in response.content
    assert not is_claimed(settings, shared_state, "fresh") and not is_claimed(settings, shared_state, "inv")
    assert AccountInvite.objects.count() == 0
    replay = post(api_a, "/api/customers", body, "k")
    assert replay["Idempotent-Replayed"] == "true" and replay.content == first.content


def test_a_token_whose_application_lost_the_write_scope_gets_no_replay(api_a, store_a, shared_state):  # noqa: F811
    body = {"id": "c-1", "email": "ann@example.com", "note": SECRET_NOTE}
    assert post(api_a, "/api/customers", body, "k").status_code == 201
    link = StoreApplication.objects.get(store=store_a)
    link.scopes = "customers:read"
    link.save()  # as in the admin: the token cache is emptied
    response = post(api_a, "/api/customers", body, "k")
    assert response.status_code == 403 and "Idempotent-Replayed" not in response


# --- (b) erasure deletes the replies that hold the customer ---------------------------------------
def erase_by(via: str, *, store, customer, admin_client) -> None:
    if via == "service":
        customer_erase(store=store, customer=customer)
    elif via == "admin":
        response = admin_client.post(
            "/admin/customers/customer/?deleted=all",
            {"action": "erase_customers", "_selected_action": [customer.pk], "post": "yes"},
            follow=True,
        )
        assert response.status_code == 200
    else:
        out = io.StringIO()
        call_command("erase_deleted_customers", "--older-than", "0", stdout=out)
        assert out.getvalue().startswith("Erased 1 customers deleted before ")
    assert Customer.objects.get(pk=customer.pk).erased_at is not None


@pytest.mark.parametrize("via", ["service", "admin", "command"])
def test_erasing_a_customer_deletes_every_stored_reply_that_holds_it(
    api_a,
    api_b,
    store_a,
    admin_a,  # noqa: F811
    shared_state,  # noqa: F811
    settings,
    via,
):
    ann = {"id": "ann", "email": "ann@example.com", "note": SECRET_NOTE}
    holding = {
        "create": ("/api/customers", ann),
        "order": ("/api/orders", {"name": "#1", "email": "ann@example.com", "total_price": 5}),
        "wishlist": ("/api/wishlists", {"email": "ann@example.com", "items": ["p-1"]}),
        "upload": (
            "/api/upload-customers?on_conflict=skip",
            [{"id": "ann", "email": "x@example.com"}, {"id": "bo", "email": "bo@example.com"}],
        ),
    }
    for key, (path, body) in holding.items():
        assert post(api_a, path, body, key).status_code in (200, 201)
    other = post(api_a, "/api/customers", {"id": "cy", "email": "cy@example.com"}, "other")
    neighbour = post(api_b, "/api/customers", ann, "create")  # store B's own Ann, same key
    assert {other.status_code, neighbour.status_code} == {201}
    assert api_a.delete("/api/customers/ann").status_code == 200
    erase_by(via, store=store_a, customer=Customer.objects.get(store=store_a, ref="ann"), admin_client=admin_a)

    bodies = stored_bodies(settings, shared_state)
    leaked = [name for name, body in bodies.items() if b"ann@example.com" in body and SECRET_NOTE.encode() in body]
    print(
        f"\nerasure by {via} ({shared_state}): {len(holding)} replies holding the customer deleted, "
        f"{len(bodies)} left (another customer's, and store B's)"
    )
    assert len(leaked) == 1  # store B's Ann, another customer
    assert len(bodies) == 2
    for key, (path, body) in holding.items():
        retry = post(api_a, path, body, key)
        assert "Idempotent-Replayed" not in retry, key  # runs again
    assert (
        post(api_a, "/api/customers", {"id": "cy", "email": "cy@example.com"}, "other")["Idempotent-Replayed"] == "true"
    )
    assert post(api_b, "/api/customers", ann, "create")["Idempotent-Replayed"] == "true"


def test_an_upload_reply_is_indexed_by_every_customer_it_holds(api_a, shared_state, settings):  # noqa: F811
    items = [{"id": f"c-{i}", "email": f"c{i}@example.com"} for i in range(50)] + [{"email": "bad"}]
    assert post(api_a, "/api/upload-customers", items, "up").status_code == 200
    ids = set(Customer.objects.values_list("twc_customer_id", flat=True))
    if shared_state == "database":
        assert {s.subject for s in IdempotencySubject.objects.all()} == {str(i) for i in ids}
    else:
        client = redis.Redis.from_url(TEST_REDIS_URL)
        assert len(list(client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}idem-subject:*"))) == 50


def test_erasure_fails_whole_when_redis_cannot_be_reached(store_a, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    customer = services.customer_create(store=store_a, data={"id": "ann", "email": "ann@example.com"})[0]
    services.customer_soft_delete(store=store_a, ref="ann")
    with pytest.raises(ApiError) as caught:
        customer_erase(store=store_a, customer=Customer.objects.get(pk=customer.pk))
    assert caught.value.status == 503
    with pytest.raises(CommandError, match="stopped after erasing 0 customers: Stored API replies cannot"):
        call_command("erase_deleted_customers", "--older-than", "0", stdout=io.StringIO())
    assert Customer.objects.get(pk=customer.pk).email == "ann@example.com"  # run it again later


def test_the_retention_command_with_0_days_erases_every_deleted_customer(store_a, store_b):
    for store, ref in ((store_a, "a"), (store_a, "b"), (store_b, "c")):
        services.customer_create(store=store, data={"id": ref, "email": f"{ref}@example.com"})
        services.customer_soft_delete(store=store, ref=ref)
    services.customer_create(store=store_a, data={"id": "live", "email": "live@example.com"})
    out = io.StringIO()
    call_command("erase_deleted_customers", "--older-than", "0", stdout=out)
    assert out.getvalue().startswith("Erased 3 customers deleted before ")
    assert Customer.objects.filter(erased_at__isnull=False).count() == 3
    assert Customer.objects.get(ref="live").email == "live@example.com"


# --- (c) an answer carrying a link is never stored --------------------------------------------
def test_send_invite_is_never_stored_and_a_retry_voids_the_first_link(api_a, store_a, shared_state, settings):  # noqa: F811
    services.customer_create(store=store_a, data={"id": "c-1", "email": "ann@example.com"})
    first = post(api_a, "/api/customers/c-1/send_invite", {"send_email": False}, "inv")
    retry = post(api_a, "/api/customers/c-1/send_invite", {"send_email": False}, "inv")
    assert (first.status_code, retry.status_code) == (200, 200)
    assert "Idempotent-Replayed" not in retry
    assert first.json()["invite"]["url"] != retry.json()["invite"]["url"]
    invites = list(AccountInvite.objects.order_by("created_at", "id"))
    assert len(invites) == 2 and invites[0].voided_at is not None and invites[1].voided_at is None
    assert not is_claimed(settings, shared_state, "inv") and stored_bodies(settings, shared_state) == {}
    old_link = api_a.get(urllib.parse.urlsplit(first.json()["invite"]["url"]).path)
    assert old_link.status_code == 410 and b"no longer valid" in old_link.content
    assert api_a.get(urllib.parse.urlsplit(retry.json()["invite"]["url"]).path).status_code == 200
    # its refusals are not stored either: the state may change before the retry
    services.customer_create(store=store_a, data={"id": "c-2", "email": "bo@example.com", "state": "enabled"})
    refused = post(api_a, "/api/customers/c-2/send_invite", {"send_email": False}, "inv-2")
    assert refused.status_code == 409 and not is_claimed(settings, shared_state, "inv-2")


def test_send_invite_still_refuses_a_concurrent_retry(api_a, store_a, shared_state):  # noqa: F811
    services.customer_create(store=store_a, data={"id": "c-1", "email": "ann@example.com"})
    seen = {}
    real_invite = customers_api.customer_invite

    def invite_with_a_retry_inside(**kwargs):
        seen["retry"] = post(api_a, "/api/customers/c-1/send_invite", {"send_email": False}, "inv")
        return real_invite(**kwargs)

    with mock.patch.object(customers_api, "customer_invite", invite_with_a_retry_inside):
        first = post(api_a, "/api/customers/c-1/send_invite", {"send_email": False}, "inv")
    assert first.status_code == 200
    assert seen["retry"].status_code == 409
    assert seen["retry"].json()["errors"][0]["code"] == "IdempotencyKeyInProgress"


# --- (d) a 5xx, an exception, an outage release the key ---------------------------------------
def test_a_503_from_the_view_releases_the_key(api_a, shared_state, settings):  # noqa: F811
    body = {"id": "c-1", "email": "ann@example.com"}
    with mock.patch.object(services, "customer_create", side_effect=OperationalError("connection refused")):
        outage = post(api_a, "/api/customers", body, "k")
    assert outage.status_code == 503 and not is_claimed(settings, shared_state, "k")
    retry = post(api_a, "/api/customers", body, "k")
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry


def test_an_exception_in_the_middleware_releases_the_key(api_a, shared_state, settings):  # noqa: F811
    body = {"id": "c-1", "email": "ann@example.com"}
    api_a.raise_request_exception = False
    with mock.patch.object(idempotency, "reply_to_store", side_effect=RuntimeError("boom")):
        assert post(api_a, "/api/customers", body, "k").status_code == 500
    assert not is_claimed(settings, shared_state, "k")
    retry = post(api_a, "/api/customers", body, "k")
    assert retry.status_code == 409 and retry.json()["errors"][0]["code"] == "DuplicateField"  # ran again


def failing_first(real, error):
    """`real`, except that its first call raises `error` (the database or Redis still down)."""
    calls = []

    def finish(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise error
        return real(*args, **kwargs)

    return finish


def wait_for_the_finisher(timeout: float = 10) -> float:
    started = time.monotonic()
    while idempotency.deferred_finishes.pending():
        assert time.monotonic() - started < timeout, "the deferred finish never ran"
        time.sleep(0.05)
    return time.monotonic() - started


def outage_error(backend: str) -> Exception:
    return OperationalError("server closed the connection") if backend == "database" else redis.ConnectionError()


@pytest.mark.django_db(transaction=True)
def test_an_outage_that_outlasts_the_request_still_releases_its_key(api_a, shared_state, settings):  # noqa: F811
    body = {"id": "c-1", "email": "ann@example.com"}
    finish = failing_first(idempotency.finish, outage_error(shared_state))
    with (
        mock.patch.object(services, "customer_create", side_effect=OperationalError("connection refused")),
        mock.patch.object(idempotency, "finish", finish),
    ):
        outage = post(api_a, "/api/customers", body, "k")
        assert outage.status_code == 503
        assert outage.json()["errors"][0]["code"] == "ServiceUnavailable"
        assert is_claimed(settings, shared_state, "k")  # the release could not reach the store
        seconds = wait_for_the_finisher()
    print(f"\nkey of a 503 released {seconds:.2f} s after the request ({shared_state}; was held 300 s)")
    assert not is_claimed(settings, shared_state, "k")
    retry = post(api_a, "/api/customers", body, "k")
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry


@pytest.mark.django_db(transaction=True)
def test_a_201_whose_reply_cannot_be_stored_yet_is_answered_and_stored_later(api_a, shared_state):  # noqa: F811
    body = {"id": "c-1", "email": "ann@example.com"}
    with mock.patch.object(idempotency, "finish", failing_first(idempotency.finish, outage_error(shared_state))):
        first = post(api_a, "/api/customers", body, "k")
        assert first.status_code == 201  # not turned into a 503: the customer was created
        wait_for_the_finisher()
    replay = post(api_a, "/api/customers", body, "k")
    assert replay["Idempotent-Replayed"] == "true" and replay.content == first.content
