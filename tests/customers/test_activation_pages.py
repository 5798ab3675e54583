"""/account/activate/<token>/: the page an invite's link opens (Django's test client)."""

import datetime as dt

import pytest
from django.contrib.auth.hashers import check_password
from django.test import Client
from django.utils import timezone

from customers.models import AccountInvite, Customer
from customers.services.lifecycle import customer_invite
from tests.factories import customer_make

GOOD_PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def invited(store_a):
    customer = customer_make(store=store_a, id="c-1", email="ann@example.com", first_name="Ann")
    invite = customer_invite(store=store_a, customer=customer)
    path = invite.url.removeprefix("http://127.0.0.1:8000")
    return customer, path


def state_of(customer) -> str:
    return Customer.objects.get(pk=customer.pk).state


def test_the_link_opens_a_clean_page_with_the_password_form(client, invited):
    customer, path = invited
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Activate your account" in html
    assert "Store A" in html
    assert 'name="password"' in html and 'name="password_confirmation"' in html
    assert "csrfmiddlewaretoken" in html
    assert "<script" not in html and "<link" not in html  # no external assets
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]
    assert state_of(customer) == "invited"


def test_setting_a_password_enables_the_account(client, invited):
    customer, path = invited
    response = client.post(path, {"password": GOOD_PASSWORD, "password_confirmation": GOOD_PASSWORD})
    assert response.status_code == 200
    assert "Your account is active" in response.content.decode()
    stored = Customer.objects.get(pk=customer.pk)
    assert stored.state == "enabled"
    assert check_password(GOOD_PASSWORD, stored.password)


def test_a_weak_password_shows_the_reasons_and_changes_nothing(client, invited):
    customer, path = invited
    response = client.post(path, {"password": "123", "password_confirmation": "123"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "This password is too short" in html
    assert "Activate your account" in html
    assert state_of(customer) == "invited"


def test_declining_moves_to_declined(client, invited):
    customer, path = invited
    response = client.post(path, {"action": "decline"})
    assert response.status_code == 200
    assert "Invitation declined" in response.content.decode()
    assert state_of(customer) == "declined"


def test_a_used_link_gets_a_clear_page(client, invited):
    customer, path = invited
    client.post(path, {"password": GOOD_PASSWORD, "password_confirmation": GOOD_PASSWORD})
    for method in (client.get, lambda p: client.post(p, {"action": "decline"})):
        response = method(path)
        assert response.status_code == 410
        assert "This link was already used" in response.content.decode()
    assert state_of(customer) == "enabled"


def test_an_expired_link_gets_a_clear_page(client, invited):
    customer, path = invited
    AccountInvite.objects.update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    response = client.get(path)
    assert response.status_code == 410
    assert "This link has expired" in response.content.decode()
    response = client.post(path, {"password": GOOD_PASSWORD, "password_confirmation": GOOD_PASSWORD})
    assert response.status_code == 410
    assert state_of(customer) == "invited"


def test_a_replaced_link_gets_a_clear_page(client, invited, store_a):
    customer, path = invited
    customer_invite(store=store_a, customer=customer)
    response = client.get(path)
    assert response.status_code == 410
    assert "This link is no longer valid" in response.content.decode()


def test_an_unknown_link_gets_a_clear_page(client, db):
    response = client.get("/account/activate/not-a-real-token/")
    assert response.status_code == 410
    assert "This link is not valid" in response.content.decode()


def test_the_forms_are_csrf_protected(invited):
    customer, path = invited
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(path, {"password": GOOD_PASSWORD, "password_confirmation": GOOD_PASSWORD})
    assert response.status_code == 403
    assert state_of(customer) == "invited"
    page = strict.get(path)
    token = page.cookies["csrftoken"].value
    response = strict.post(
        path, {"password": GOOD_PASSWORD, "password_confirmation": GOOD_PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 200
    assert state_of(customer) == "enabled"


def test_the_page_answers_no_other_method(client, invited):
    _, path = invited
    assert client.put(path).status_code == 405
