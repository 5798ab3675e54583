"""Merging two customers in the admin: the preview, the choices, the confirmation, the trail."""

from django.contrib.admin.models import LogEntry

from customers.models import Customer, Order
from events.models import Event
from tests.admin.test_customer_admin_actions import CHANGELIST, fresh, run_action

PREVIEW = "admin/customers/customer/merge_preview.html"


def preview(client, customers, **extra):
    body = {"action": "merge_customers", "_selected_action": [c.pk for c in customers], **extra}
    return client.post(CHANGELIST, body)


def test_the_preview_shows_the_result_and_changes_nothing(admin_a, shop):
    first, second = shop["a"]["first"], shop["a"]["second"]
    page = preview(admin_a, [first, second])
    assert page.status_code == 200
    assert page.templates[0].name == PREVIEW
    html = page.content.decode()
    # the older customer survives by default; the merged one's email is not taken (the survivor has one)
    assert "Customer <strong>a-2</strong> will be merged into customer <strong>a-1</strong>" in html
    rows = {label: (own, other, result) for label, own, other, result in page.context["rows"]}
    assert rows["email"] == ("a1@example.com", "a2@example.com", "a1@example.com")
    assert rows["account state"] == ("disabled", "enabled", "disabled")
    assert rows["orders"] == ("1", "0", "1")
    assert 'name="post" value="yes"' in html
    assert fresh(second).deleted_at is None and fresh(first).version == first.version
    assert not Event.objects.filter(type="customers/merge").exists()


def test_choices_update_the_preview(admin_a, shop):
    first, second = shop["a"]["first"], shop["a"]["second"]
    page = preview(admin_a, [first, second], merge_into=second.pk, keep_email="from", post="preview")
    rows = {label: (own, other, result) for label, own, other, result in page.context["rows"]}
    assert page.context["into"] == second
    assert rows["email"] == ("a2@example.com", "a1@example.com", "a1@example.com")
    assert rows["tags"][2] == "vip, newsletter"


def test_confirming_merges_through_the_service_and_logs_both(admin_a, shop, staff_a):
    first, second = shop["a"]["first"], shop["a"]["second"]
    messages = run_action(admin_a, "merge_customers", [first, second], post="yes", keep_first_name="into")
    assert messages == ["Merged Customer a-2 into Customer a-1."]
    merged = fresh(second)
    assert merged.deleted_at is not None and merged.merged_into_id == first.pk
    assert fresh(first).version == first.version + 1
    assert Order.objects.get(pk=shop["a"]["order"].pk).customer_id == first.pk
    assert Event.objects.filter(type="customers/merge").count() == 1
    logs = {entry.object_id: entry.get_change_message() for entry in LogEntry.objects.filter(user=staff_a)}
    assert logs[str(first.pk)] == "Merged customer a-2 into this customer."
    assert logs[str(second.pk)] == "Merged into customer a-1; deleted."
    # the merged-away customer's page says where it went
    html = admin_a.get(f"{CHANGELIST}{second.pk}/change/").content.decode()
    assert "This customer was merged into" in html
    assert f'href="/admin/customers/customer/{first.pk}/change/">a-1</a>' in html


def test_a_refused_merge_shows_why_and_offers_no_confirmation(admin_a, shop, store_a):
    first, second = shop["a"]["first"], shop["a"]["second"]
    Customer.objects.filter(pk__in=[first.pk, second.pk]).update(password="md5$salt$hash")
    page = preview(admin_a, [first, second])
    html = page.content.decode()
    assert "This merge is refused: Both customers have a password" in html
    assert 'name="post" value="yes"' not in html
    messages = run_action(admin_a, "merge_customers", [first, second], post="yes")
    assert messages[0].startswith("The merge was refused: Both customers have a password")
    assert fresh(second).deleted_at is None


def test_merge_needs_exactly_two_live_customers_of_one_store(admin_a, admin_super, shop):
    a = shop["a"]
    assert run_action(admin_a, "merge_customers", [a["first"]]) == [
        "Select exactly two customers to merge. Nothing was changed."
    ]
    assert run_action(admin_a, "merge_customers", [a["first"], a["second"], a["gone"]], query="?deleted=all") == [
        "Select exactly two customers to merge. Nothing was changed."
    ]
    assert run_action(admin_a, "merge_customers", [a["first"], a["gone"]], query="?deleted=all") == [
        "A deleted customer cannot be merged; restore it first. Nothing was changed."
    ]
    assert run_action(admin_super, "merge_customers", [a["first"], shop["b"]["first"]]) == [
        "Only two customers of the same store can be merged. Nothing was changed."
    ]


def test_staff_of_one_store_cannot_merge_anothers_customers(admin_a, shop):
    b = shop["b"]
    # the admin's queryset is the staff's store: another store's rows are not in the selection
    assert run_action(admin_a, "merge_customers", [b["first"], b["second"]]) == [
        "Select exactly two customers to merge. Nothing was changed."
    ]
    assert fresh(b["second"]).deleted_at is None
    assert not Customer.objects.filter(merged_into__isnull=False).exists()
