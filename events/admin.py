"""The admin of webhooks for the store's staff: subscriptions with their recent attempts, the
deliveries with a redeliver action; and the customer's events, shown on the customer's page."""

from collections import defaultdict

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from customers.models import Customer
from events.models import Event, WebhookAttempt, WebhookDelivery, WebhookSubscription
from events.webhooks import webhook_redeliver
from tenants.admin_mixins import StoreListFilter, StoreScopedAdminMixin
from twc.api.errors import ApiError

ROWS_SHOWN = 20


def table(rows: list[tuple], headers: tuple[str, ...]) -> str:
    if not rows:
        return "-"
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows)
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


def customer_events_summary(customer: Customer) -> str:
    """The customer's latest events, as the outside world saw them (the feed and webhooks)."""
    events = Event.objects.filter(store_id=customer.store_id, customer_key=customer.twc_customer_id).order_by("-seq")
    rows = [
        (
            event.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
            event.type,
            (event.data.get("customer") or {}).get("version", ""),
            str(event.event_id),
        )
        for event in events[:ROWS_SHOWN]
    ]
    return table(rows, ("occurred (UTC)", "type", "version", "event id"))


class ReadOnlyStoreAdmin(StoreScopedAdminMixin, admin.ModelAdmin):
    """Shown to the store's staff, written only by the API and the worker."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ReadOnlyStoreAdmin):
    list_display = ("url", "store", "enabled", "topics", "created_at", "disabled_reason")
    list_filter = (StoreListFilter, "enabled")
    fields = ("id", "store", "url", "topics", "enabled", "disabled_reason", "failing_since", "created_at", "attempts")
    readonly_fields = fields

    @admin.display(description="recent attempts")
    def attempts(self, obj):
        attempts = WebhookAttempt.objects.filter(subscription=obj).order_by("-id")[:ROWS_SHOWN]
        rows = [
            (
                a.attempted_at.strftime("%Y-%m-%d %H:%M:%S"),
                str(a.event_id),
                a.attempt,
                a.status_code if a.status_code is not None else a.error,
                f"{a.duration_ms} ms",
            )
            for a in attempts
        ]
        return table(rows, ("attempted (UTC)", "event", "attempt", "answer", "took"))


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyStoreAdmin):
    store_path = "subscription__store"
    list_display = ("id", "subscription", "event_type", "state", "attempts", "next_attempt_at", "created_at")
    list_filter = ("state",)
    list_select_related = ("subscription", "event")
    fields = ("subscription", "event_type", "event_id", "state", "attempts", "next_attempt_at", "finished_at")
    readonly_fields = fields
    actions = ["redeliver"]

    @admin.display(description="event")
    def event_type(self, obj):
        return obj.event.type

    @admin.display(description="event id")
    def event_id(self, obj):
        return str(obj.event.event_id)

    @admin.action(description="Deliver the selected events again")
    def redeliver(self, request, queryset):
        by_subscription = defaultdict(list)
        for delivery in queryset.select_related("subscription__store", "event"):
            by_subscription[delivery.subscription].append(str(delivery.event.event_id))
        queued = 0
        for subscription, event_ids in by_subscription.items():
            try:
                queued += webhook_redeliver(
                    store=subscription.store,
                    webhook_id=str(subscription.id),
                    data={"event_ids": list(dict.fromkeys(event_ids))},
                )
            except ApiError as exc:
                self.message_user(request, exc.message, messages.ERROR)
        self.message_user(request, f"{queued} deliveries queued again.", messages.SUCCESS)
