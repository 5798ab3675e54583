"""In a real browser against a live server: a customer asks for a password reset through the API's
recover, opens the mailed link, is refused a short password, sets a new one, and signs in with it;
the customer's old token is revoked and the used link gets a clear page."""

import re

import pytest
from django.core import mail

from tests.accounts.test_sign_in import PASSWORD, enabled_customer
from tests.conftest import api_client, fetch_token
from tests.factories import store_credentials_make

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "a-new-and-unusual-passphrase-9"


def test_the_reset_page(transactional_db, live_server, settings, new_page, screenshot_dir):
    settings.PUBLIC_BASE_URL = live_server.url
    creds = store_credentials_make(name="Store A", tenant_name="Tenant A")
    api = api_client(fetch_token(creds.client_id, creds.client_secret))
    enabled_customer(creds.store, email="ann@shop.com", first_name="Ann")
    old_token = api.post("/api/accounts/sign_in", {"email": "ann@shop.com", "password": PASSWORD}).json()
    assert api.post("/api/accounts/recover", {"email": "ann@shop.com"}).status_code == 202
    link = re.search(r"https?://\S+/account/reset/\S+/", mail.outbox[0].body).group(0)
    assert link.startswith(live_server.url)

    page = new_page()
    assert page.goto(link).status == 200
    assert page.inner_text("h1") == "Choose a new password"
    page.screenshot(path=str(screenshot_dir / "reset-form.png"), full_page=True)
    page.fill("#password", "short")
    page.fill("#password_confirmation", "short")
    page.click("#reset-form button[type=submit]")
    assert "too short" in page.inner_text(".errors")
    page.fill("#password", NEW_PASSWORD)
    page.fill("#password_confirmation", NEW_PASSWORD)
    page.click("#reset-form button[type=submit]")
    page.wait_for_selector("text=Your password is changed")
    page.screenshot(path=str(screenshot_dir / "reset-done.png"), full_page=True)

    assert api_client(old_token["customer_access_token"]).get("/api/me").status_code == 401
    signed_in = api.post("/api/accounts/sign_in", {"email": "ann@shop.com", "password": NEW_PASSWORD})
    assert signed_in.status_code == 200
    assert api.post("/api/accounts/sign_in", {"email": "ann@shop.com", "password": PASSWORD}).status_code == 400

    other = new_page()
    assert other.goto(link).status == 410
    other.screenshot(path=str(screenshot_dir / "reset-used.png"), full_page=True)
