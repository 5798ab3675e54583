"""The webhook admin for the store's staff (store-scoped), the redeliver action, and the customer's
events on its page."""

from django.urls import reverse
from django.utils import timezone

from events.models import Event, WebhookDelivery, WebhookSubscription
from tests.factories import customer_make


def subscription_of(store, url):
    now = timezone.now()
    return WebhookSubscription.objects.create(
        store=store, url=url, topics=["*"], secret="whsec_x", created_at=now, updated_at=now
    )


def delivery_of(subscription, event):
    now = timezone.now()
    return WebhookDelivery.objects.create(
        subscription=subscription, event=event, customer_key=event.customer_key, next_attempt_at=now, created_at=now
    )


def test_staff_see_their_stores_subscriptions_only(admin_a, store_a, store_b):
    mine = subscription_of(store_a, "https://a.example/hook")
    theirs = subscription_of(store_b, "https://b-secret.example/hook")
    page = admin_a.get(reverse("admin:events_webhooksubscription_changelist"))
    assert page.status_code == 200
    assert b"https://a.example/hook" in page.content and b"b-secret" not in page.content
    assert admin_a.get(reverse("admin:events_webhooksubscription_change", args=[mine.pk])).status_code == 200
    assert admin_a.get(reverse("admin:events_webhooksubscription_change", args=[theirs.pk])).status_code == 404


def test_redeliver_action(admin_a, store_a, store_b):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    customer_make(store=store_b, id="b-1", email="b@x.com")
    mine = delivery_of(subscription_of(store_a, "https://a.example/hook"), Event.objects.get(store=store_a))
    theirs = delivery_of(subscription_of(store_b, "https://b.example/hook"), Event.objects.get(store=store_b))
    response = admin_a.post(
        reverse("admin:events_webhookdelivery_changelist"),
        {"action": "redeliver", "_selected_action": [mine.pk, theirs.pk]},
    )
    assert response.status_code == 302
    assert WebhookDelivery.objects.filter(subscription__store=store_a).count() == 2
    assert WebhookDelivery.objects.filter(subscription__store=store_b).count() == 1


def test_the_customers_page_shows_its_events(admin_a, store_a):
    customer = customer_make(store=store_a, id="c-1", email="a@x.com")
    page = admin_a.get(reverse("admin:customers_customer_change", args=[customer.pk]))
    assert page.status_code == 200
    assert b"customers/create" in page.content
    assert str(Event.objects.get().event_id).encode() in page.content
