"""In a real browser: after too many failed sign-ins the admin's login page says why and when to retry,
and refuses even the right password until then."""

import pytest

from tests.factories import staff_make, store_make

pytestmark = pytest.mark.e2e

PASSWORD = "staff-pass-e2e-42"


def sign_in(page, url: str, password: str) -> None:
    page.goto(f"{url}/admin/login/?next=/admin/")
    page.fill("#id_username", "staff-a")
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_load_state()


def test_failed_sign_ins_are_throttled_with_a_clear_message(transactional_db, live_server, new_page, settings):
    settings.ADMIN_LOGIN_USER_FAILURES_BURST = 3
    staff_make(store=store_make(name="Store A"), username="staff-a", email="staff@example.com", password=PASSWORD)
    page = new_page()
    for attempt in range(3):
        sign_in(page, live_server.url, f"wrong-{attempt}")
        assert "Please enter the correct username and password" in page.inner_text(".errornote")
    sign_in(page, live_server.url, "wrong-again")
    assert "Too many failed sign-ins" in page.inner_text(".errornote")
    sign_in(page, live_server.url, PASSWORD)
    message = page.inner_text(".errornote")
    print(f"\nadmin login in Chromium, 4th attempt on: {message!r}")
    assert "Too many failed sign-ins" in message and "Try again in" in message
    assert "/admin/login/" in page.url and page.locator("#id_password").count() == 1  # not signed in
