"""The accounts in the admin: a customer's password and sessions, revoking them, sending a reset;
the store's Multipass and CORS origins, for its own staff only."""

from django.core import mail

from accounts.models import CustomerAccessToken, StoreAccountSettings
from accounts.services.multipass import store_multipass_set
from customers.models import Customer
from tests.accounts.test_sign_in import enabled_customer, sign_in
from tests.factories import customer_make

SETTINGS = "/admin/accounts/storeaccountsettings/"


def change_page(customer):
    return f"/admin/customers/customer/{customer.pk}/change/"


def action(client, customer, name):
    return client.post(f"/admin/customers/customer/{customer.pk}/account/{name}/", follow=True)


def live_tokens(customer):
    return CustomerAccessToken.objects.filter(customer=customer, revoked_at=None).count()


def test_the_change_page_shows_password_and_sessions_and_revokes(admin_a, api_a, store_a):
    customer = enabled_customer(store_a, email="ann@shop.com")
    sign_in(api_a, "ann@shop.com"), sign_in(api_a, "ann@shop.com")
    page = admin_a.get(change_page(customer)).content.decode()
    assert "Active sessions" in page and ">2<" in page.replace(" ", "").replace("\n", "")
    assert "Revoke sessions" in page and "Send password reset" in page
    response = action(admin_a, customer, "revoke_sessions")
    assert response.status_code == 200 and live_tokens(customer) == 0
    assert Customer.objects.get(pk=customer.pk).version == customer.version  # no version bump


def test_send_password_reset_mails_a_link(admin_a, store_a):
    customer = enabled_customer(store_a, email="ann@shop.com")
    action(admin_a, customer, "password_reset")
    assert len(mail.outbox) == 1 and "/account/reset/" in mail.outbox[0].body
    disabled = customer_make(store=store_a, state="disabled", email="bob@shop.com")
    assert "Send password reset" not in admin_a.get(change_page(disabled)).content.decode()


def test_disabling_in_the_admin_revokes_sessions(admin_a, api_a, store_a):
    customer = enabled_customer(store_a, email="ann@shop.com")
    sign_in(api_a, "ann@shop.com")
    action(admin_a, customer, "disable")
    assert live_tokens(customer) == 0 and Customer.objects.get(pk=customer.pk).disabled_by_staff


def test_staff_turn_multipass_on_see_the_secret_and_rotate(admin_a, store_a):
    response = admin_a.post(
        SETTINGS + "add/",
        {"store": store_a.pk, "multipass_enabled": "on", "cors_allowed_origins": "https://Shop.example/\n"},
    )
    assert response.status_code == 302, response.content
    settings = StoreAccountSettings.objects.get(store=store_a)
    assert settings.multipass_enabled and len(settings.multipass_secret) == 64
    assert settings.cors_allowed_origins == "https://shop.example"
    page = admin_a.get(f"{SETTINGS}{settings.pk}/change/").content.decode()
    assert settings.multipass_secret in page
    admin_a.post(
        f"{SETTINGS}{settings.pk}/change/",
        {"multipass_enabled": "on", "rotate_secret": "on", "cors_allowed_origins": "https://shop.example"},
    )
    rotated = StoreAccountSettings.objects.get(store=store_a)
    assert rotated.multipass_secret != settings.multipass_secret and rotated.multipass_enabled
    bad = admin_a.post(f"{SETTINGS}{settings.pk}/change/", {"cors_allowed_origins": "https://shop.example/path"})
    assert bad.status_code == 200 and "is not an origin" in bad.content.decode()


def test_another_stores_settings_are_not_found(admin_a, store_b):
    other = store_multipass_set(store=store_b, enabled=True)
    assert admin_a.get(f"{SETTINGS}{other.pk}/change/").status_code in (302, 404)
    listing = admin_a.get(SETTINGS).content.decode()
    assert other.multipass_secret not in listing
