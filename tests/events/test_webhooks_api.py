"""POST/GET/PATCH/DELETE /api/webhooks, rotate_secret, deliveries, redeliver; the URL rules (SSRF)."""

import pytest

from events import ssrf
from events.models import Event, WebhookAttempt, WebhookDelivery, WebhookSubscription
from tests.factories import customer_make

PUBLIC = "https://hooks.example.com/twc"


@pytest.fixture(autouse=True)
def _public_dns(monkeypatch):
    """Names resolve as a public DNS would (the tests run offline)."""
    table = {
        "hooks.example.com": ["93.184.216.34"],
        "rebind.example.com": ["93.184.216.34", "10.0.0.7"],
        "inside.example.com": ["192.168.1.10"],
    }

    def resolve(host, port):
        if host in table:
            return table[host]
        if host.replace(".", "").isdigit() or ":" in host:
            return [host]
        raise ssrf.UnsafeDestination("The url's host does not resolve.")

    monkeypatch.setattr(ssrf, "resolve", resolve)


def create(client, **body):
    body = {"url": PUBLIC, "topics": ["customers/create"]} | body
    return client.post("/api/webhooks", body)


def test_create_shows_the_secret_once(api_a):
    response = create(api_a, topics=["customers/create", "customers/update"])
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "url", "topics", "enabled", "secret", "created_at"}
    assert body["secret"].startswith("whsec_") and body["enabled"] is True
    assert body["topics"] == ["customers/create", "customers/update"]
    listed = api_a.get("/api/webhooks").json()["webhooks"]
    assert [w["id"] for w in listed] == [body["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in api_a.get(f"/api/webhooks/{body['id']}").json()


def test_all_topics(api_a):
    assert create(api_a, topics=["*", "customers/create"]).json()["topics"] == ["*"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "http://hooks.example.com/x"}, "url"),
        ({"url": "https://127.0.0.1/x"}, "url"),
        ({"url": "https://10.1.2.3/x"}, "url"),
        ({"url": "https://169.254.169.254/latest"}, "url"),
        ({"url": "https://[::1]/x"}, "url"),
        ({"url": "https://224.0.0.1/x"}, "url"),
        ({"url": "https://240.0.0.1/x"}, "url"),
        ({"url": "https://0.0.0.0/x"}, "url"),
        ({"url": "https://[::ffff:127.0.0.1]/x"}, "url"),
        ({"url": "https://inside.example.com/x"}, "url"),
        ({"url": "https://rebind.example.com/x"}, "url"),
        ({"url": "https://nowhere.invalid/x"}, "url"),
        ({"url": "https://user:pw@hooks.example.com/x"}, "url"),
        ({"url": "ftp://hooks.example.com/x"}, "url"),
        ({"url": 5}, "url"),
        ({"topics": ["customers/nope"]}, "topics"),
        ({"topics": []}, "topics"),
        ({"topics": "customers/create"}, "topics"),
        ({"topics": ["customers/create"] * 1000}, "topics"),
        ({"enabled": "yes"}, "enabled"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_subscriptions_are_400_invalid_field(api_a, body, field):
    response = create(api_a, **body)
    assert response.status_code == 400, response.content
    error = response.json()["errors"][0]
    assert (error["code"], error["field"]) == ("InvalidField", field)
    assert WebhookSubscription.objects.count() == 0


def test_http_and_private_addresses_for_development(api_a, settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    assert create(api_a, url="http://127.0.0.1:8631/hook").status_code == 201


def test_patch_and_delete(api_a):
    webhook = create(api_a).json()
    path = f"/api/webhooks/{webhook['id']}"
    response = api_a.patch(path, {"topics": ["orders/create"], "enabled": False})
    assert response.status_code == 200
    assert (response.json()["topics"], response.json()["enabled"]) == (["orders/create"], False)
    assert api_a.patch(path, {"url": "https://10.0.0.1/"}).status_code == 400
    assert api_a.put(path, {"enabled": True}).status_code == 405
    assert api_a.delete(path).status_code == 204
    assert api_a.get(path).status_code == 404


def test_rotate_secret_keeps_the_old_one_for_a_day(api_a):
    webhook = create(api_a).json()
    response = api_a.post(f"/api/webhooks/{webhook['id']}/rotate_secret")
    assert response.status_code == 200
    secret = response.json()["secret"]
    stored = WebhookSubscription.objects.get()
    assert (stored.secret, stored.previous_secret) == (secret, webhook["secret"])
    assert stored.previous_secret_until is not None


def test_redeliver_queues_the_events_again(api_a, store_a, store_b):
    webhook = create(api_a).json()
    customer_make(store=store_a, id="c-1", email="a@x.com")
    customer_make(store=store_b, id="b-1", email="b@x.com")
    event = Event.objects.get(store=store_a)
    path = f"/api/webhooks/{webhook['id']}/redeliver"
    response = api_a.post(path, {"event_ids": [str(event.event_id)]})
    assert (response.status_code, response.json()) == (202, {"queued": 1})
    assert WebhookDelivery.objects.get().event == event
    other = Event.objects.get(store=store_b)
    for bad in ([str(other.event_id)], [], ["x"], "x", [str(event.event_id)] * 101):
        assert api_a.post(path, {"event_ids": bad}).status_code == 400


def test_deliveries_lists_the_attempts_newest_first(api_a, store_a):
    from django.utils import timezone

    webhook = create(api_a).json()
    customer_make(store=store_a, id="c-1", email="a@x.com")
    event = Event.objects.get()
    subscription = WebhookSubscription.objects.get()
    delivery = WebhookDelivery.objects.create(
        subscription=subscription, event=event, next_attempt_at=timezone.now(), created_at=timezone.now()
    )
    for number, code in enumerate((500, 200), start=1):
        WebhookAttempt.objects.create(
            delivery=delivery,
            subscription=subscription,
            event_id=event.event_id,
            attempt=number,
            status_code=code,
            duration_ms=12,
            attempted_at=timezone.now(),
        )
    path = f"/api/webhooks/{webhook['id']}/deliveries"
    body = api_a.get(path, {"limit": 1}).json()
    assert [(d["attempt"], d["status_code"]) for d in body["deliveries"]] == [(2, 200)]
    assert body["deliveries"][0]["event_id"] == str(event.event_id)
    older = api_a.get(path, {"limit": 1, "after": body["next"]}).json()
    assert [(d["attempt"], d["status_code"]) for d in older["deliveries"]] == [(1, 500)]
    assert older["next"] is None


def test_scopes(scoped_client):
    reader, writer = scoped_client("customers:read"), scoped_client("customers:write")
    assert reader.get("/api/webhooks").status_code == 200
    assert create(reader).status_code == 403
    assert writer.get("/api/webhooks").status_code == 403
    assert create(writer).status_code == 201


def test_another_store_sees_nothing(api_a, api_b):
    webhook = create(api_a).json()
    path = f"/api/webhooks/{webhook['id']}"
    for response in (
        api_b.get(path),
        api_b.patch(path, {"enabled": False}),
        api_b.delete(path),
        api_b.post(path + "/rotate_secret"),
        api_b.get(path + "/deliveries"),
    ):
        assert response.status_code == 404
    assert api_b.get("/api/webhooks").json() == {"webhooks": []}
    assert WebhookSubscription.objects.get().enabled is True
