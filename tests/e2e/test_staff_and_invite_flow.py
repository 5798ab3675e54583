"""End to end in a real browser against a live server: staff enable and invite customers in the
admin; the invited customer activates through the emailed link; a used link gets a clear page."""

import re

import pytest
from django.core import mail

from customers.models import Customer
from tests.factories import customer_make, staff_make, store_make

pytestmark = pytest.mark.e2e

STAFF_PASSWORD = "staff-pass-e2e-42"
CUSTOMER_PASSWORD = "a-long-and-unusual-passphrase-7"


@pytest.fixture
def shop(transactional_db, live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    store_a = store_make(name="Store A", tenant_name="Tenant A", country="CA", currency="CAD")
    store_b = store_make(name="Store B", tenant_name="Tenant B")
    staff_make(store=store_a, username="staff-a", email="staff@example.com", password=STAFF_PASSWORD)
    customers = {
        "ann": customer_make(
            store=store_a, id="ann", email="ann@example.com", first_name="Ann", last_name="Lee", tags="vip"
        ),
        "bob": customer_make(
            store=store_a, id="bob", email="bob@example.com", first_name="Bob", last_name="Roy", tags="vip, wholesale"
        ),
        "cid": customer_make(
            store=store_a, id="cid", email="cid@example.com", first_name="Cid", last_name="Moe", tags="newsletter"
        ),
        "foreign": customer_make(
            store=store_b, id="foreign", email="foreign@example.com", first_name="Fay", tags="vip"
        ),
    }
    return customers


def state_of(customer) -> str:
    return Customer.objects.get(pk=customer.pk).state


def messages_on(page) -> list[str]:
    return [text.strip() for text in page.locator("ul.messagelist li").all_inner_texts()]


def test_staff_enable_and_invite_then_customer_activates(shop, live_server, new_page, screenshot_dir):
    page = new_page()
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "staff-a")
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    assert "Customers" in page.inner_text("#content")

    # The list, filtered by the tag text box: vip customers of store A only.
    page.goto(f"{live_server.url}/admin/customers/customer/")
    page.fill("form.text-filter input[name=tag]", "vip")
    page.press("form.text-filter input[name=tag]", "Enter")
    page.wait_for_url(re.compile(r"tag=vip"))
    listed = page.locator("#result_list tbody tr").all_inner_texts()
    assert len(listed) == 2
    assert any("ann" in row for row in listed) and any("bob" in row for row in listed)
    assert not any("foreign" in row or "Fay" in row for row in listed)
    page.screenshot(path=str(screenshot_dir / "admin-list-filtered.png"), full_page=True)

    # Enable one of them.
    page.check(f"input[name=_selected_action][value='{shop['bob'].pk}']")
    page.select_option("select[name=action]", "enable_accounts")
    page.click("button[name=index]")
    page.wait_for_selector("ul.messagelist")
    assert messages_on(page) == ["Enabled 1 customer."]
    assert state_of(shop["bob"]) == "enabled"

    # Invite both: the enabled one is refused, with the reason.
    page.check(f"input[name=_selected_action][value='{shop['ann'].pk}']")
    page.check(f"input[name=_selected_action][value='{shop['bob'].pk}']")
    page.select_option("select[name=action]", "send_account_invites")
    page.click("button[name=index]")
    page.wait_for_selector("ul.messagelist")
    assert messages_on(page) == [
        "Sent an invite to 1 customer.",
        "1 not changed: An enabled account cannot be invited. (bob)",
    ]
    page.screenshot(path=str(screenshot_dir / "admin-actions-result.png"), full_page=True)
    assert state_of(shop["ann"]) == "invited"
    assert [message.to for message in mail.outbox] == [["ann@example.com"]]

    # The customer opens the link from the mail (own browser context: no staff session).
    link = re.search(r"https?://\S+/account/activate/\S+/", mail.outbox[0].body).group(0)
    assert link.startswith(live_server.url)
    customer_page = new_page()
    response = customer_page.goto(link)
    assert response.status == 200
    assert customer_page.inner_text("h1") == "Activate your account"
    customer_page.screenshot(path=str(screenshot_dir / "activate-form.png"), full_page=True)
    customer_page.fill("#password", "short")
    customer_page.fill("#password_confirmation", "short")
    customer_page.click("#activate-form button[type=submit]")
    assert "too short" in customer_page.inner_text(".errors")
    assert state_of(shop["ann"]) == "invited"
    customer_page.fill("#password", CUSTOMER_PASSWORD)
    customer_page.fill("#password_confirmation", CUSTOMER_PASSWORD)
    customer_page.click("#activate-form button[type=submit]")
    customer_page.wait_for_selector("text=Your account is active")
    customer_page.screenshot(path=str(screenshot_dir / "activate-done.png"), full_page=True)
    assert state_of(shop["ann"]) == "enabled"

    # Someone else opens the used link: a clear page, not an error.
    other = new_page()
    response = other.goto(link)
    assert response.status == 410
    assert other.inner_text("h1") == "This link was already used"
    other.screenshot(path=str(screenshot_dir / "link-used.png"), full_page=True)

    # The staff member sees the result on the customer's page and in its history.
    page.goto(f"{live_server.url}/admin/customers/customer/{shop['ann'].pk}/change/")
    assert "State:\nEnabled\nPassword:\nset" in page.inner_text("fieldset")
    page.screenshot(path=str(screenshot_dir / "admin-change-page.png"), full_page=True)
    page.goto(f"{live_server.url}/admin/customers/customer/{shop['ann'].pk}/history/")
    assert "Sent an account invite." in page.inner_text("#change-history")


def test_staff_buttons_and_another_stores_customer(shop, live_server, new_page):
    page = new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "staff-a")
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")

    page.goto(f"{live_server.url}/admin/customers/customer/{shop['cid'].pk}/change/")
    page.click("button.account-action[value=invite]")
    page.wait_for_selector("ul.messagelist")
    assert messages_on(page) == ["Sent an invite to Customer cid."]
    assert state_of(shop["cid"]) == "invited"
    page.click("button.account-action[value=disable]")
    page.wait_for_selector("ul.messagelist")
    assert state_of(shop["cid"]) == "disabled"

    # The link the invite mailed no longer works once staff changed the account.
    link = re.search(r"https?://\S+/account/activate/\S+/", mail.outbox[0].body).group(0)
    customer_page = new_page()
    assert customer_page.goto(link).status == 410
    assert customer_page.inner_text("h1") == "This link is no longer valid"

    response = page.goto(f"{live_server.url}/admin/customers/customer/{shop['foreign'].pk}/change/")
    assert response.status == 404
