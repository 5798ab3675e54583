"""In a real browser: staff select two customers, see the merge's result, change a choice, confirm;
the merged-away customer's page then says where it went."""

import pytest

from customers.models import Customer
from tests.factories import customer_make, order_make, staff_make, store_make

pytestmark = pytest.mark.e2e

STAFF_PASSWORD = "staff-pass-e2e-merge"


def test_merge_two_customers_after_a_preview(transactional_db, live_server, new_page, screenshot_dir):
    store = store_make(name="Store A", tenant_name="Tenant A")
    staff_make(store=store, username="staff-a", password=STAFF_PASSWORD)
    guest = customer_make(store=store, id="guest", email="ann@example.com", first_name="Ann")
    account = customer_make(store=store, id="account", email="ann.lee@example.com", last_name="Lee", tags="vip")
    order_make(store=store, customer_id="account", total_price=12)

    page = new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "staff-a")
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")

    page.goto(f"{live_server.url}/admin/customers/customer/")
    page.check(f"input[name=_selected_action][value='{guest.pk}']")
    page.check(f"input[name=_selected_action][value='{account.pk}']")
    page.select_option("select[name=action]", "merge_customers")
    page.click("button[name=index]")
    page.wait_for_selector("table.merge-preview")
    result = page.inner_text("table.merge-preview")
    assert "ann@example.com" in result and "Lee" in result
    assert Customer.objects.get(pk=account.pk).deleted_at is None  # a preview changes nothing

    page.select_option("select[name=keep_email]", "from")
    page.click("button[value=preview]")
    page.wait_for_selector("table.merge-preview")
    email_row = page.inner_text("table.merge-preview tr:has(th:text-is('email'))")
    assert email_row.rstrip().endswith("ann.lee@example.com")
    page.screenshot(path=str(screenshot_dir / "admin-merge-preview.png"), full_page=True)

    page.click("button[value=yes]")
    page.wait_for_selector("ul.messagelist")
    assert "Merged Customer account into Customer guest." in page.inner_text("ul.messagelist")
    survivor = Customer.objects.get(pk=guest.pk)
    assert (survivor.email, survivor.last_name, survivor.tags, survivor.orders_count) == (
        "ann.lee@example.com",
        "Lee",
        "vip",
        1,
    )
    page.goto(f"{live_server.url}/admin/customers/customer/{account.pk}/change/")
    assert "This customer was merged into" in page.inner_text("#content")
    page.click("text=guest")
    page.wait_for_selector("input[name=first_name][value=Ann]")
