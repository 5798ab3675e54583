"""In a real browser: the bulk "erase personal data" action shows a confirmation page first; going
back changes nothing, confirming erases."""

import pytest

from customers.models import Customer
from customers.services.customers import customer_soft_delete
from tests.factories import customer_make, staff_make, store_make

pytestmark = pytest.mark.e2e

STAFF_PASSWORD = "staff-pass-e2e-erase"


def test_bulk_erase_asks_first(transactional_db, live_server, new_page, screenshot_dir):
    store = store_make(name="Store A", tenant_name="Tenant A")
    staff_make(store=store, username="staff-a", password=STAFF_PASSWORD)
    gone = customer_make(store=store, id="gone", email="gone@example.com", first_name="Gus")
    customer_soft_delete(store=store, ref="gone")
    customer_make(store=store, id="live", email="live@example.com")

    page = new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "staff-a")
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")

    def choose_erase():
        page.goto(f"{live_server.url}/admin/customers/customer/?deleted=all")
        page.check(f"input[name=_selected_action][value='{gone.pk}']")
        page.select_option("select[name=action]", "erase_customers")
        page.click("button[name=index]")
        page.wait_for_selector("text=This cannot be undone.")

    choose_erase()
    assert "gone (Store A)" in page.inner_text("ul.erase-list")
    page.screenshot(path=str(screenshot_dir / "admin-erase-confirmation.png"), full_page=True)
    page.click("text=No, take me back")
    page.wait_for_selector("#result_list")
    assert Customer.objects.get(pk=gone.pk).erased_at is None

    choose_erase()
    page.click("input[type=submit][value='Yes, erase their personal data']")
    page.wait_for_selector("ul.messagelist")
    assert "Erased the personal data of 1 customer." in page.inner_text("ul.messagelist")
    erased = Customer.objects.get(pk=gone.pk)
    assert erased.erased_at is not None and erased.email is None and erased.first_name == ""
