"""POST /api/accounts/multipass through HTTP, with tokens from our own encoder (Shopify's format),
and `manage.py store_multipass`."""

import base64
import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import CustomerAccessToken, MultipassTokenUse, StoreAccountSettings
from accounts.multipass_codec import encode
from accounts.services.multipass import store_multipass_set
from customers.models import AccountInvite, Customer
from customers.services.lifecycle import customer_disable, customer_invite
from tests.conftest import api_client
from tests.factories import customer_make

PATH = "/api/accounts/multipass"


@pytest.fixture
def secret_a(store_a):
    return store_multipass_set(store=store_a, enabled=True).multipass_secret


def now_iso(delta: dt.timedelta = dt.timedelta()) -> str:
    return (timezone.now() + delta).isoformat()


def token_of(secret, **payload):
    payload.setdefault("created_at", now_iso())
    return encode(secret, payload)


def multipass(client, token, **headers):
    return client.post(PATH, {"token": token}, **headers)


def test_an_unknown_email_creates_an_enabled_customer(api_a, store_a, secret_a):
    token = token_of(
        secret_a,
        email="Ann@Shop.com",
        identifier="shop-42",
        first_name="Ann",
        last_name="Lee",
        tag_string="vip, newsletter",
        addresses=[{"address1": "1 Main St", "city": "Ottawa", "country_code": "CA", "default": True, "extra": 1}],
        return_to="https://shop.example/account",
    )
    response = multipass(api_a, token)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"customer", "customer_access_token", "expires_at"}
    assert body["customer"]["email"] == "Ann@Shop.com" and body["customer"]["state"] == "enabled"
    customer = Customer.objects.get(store=store_a)
    assert (customer.first_name, customer.last_name, customer.multipass_identifier) == ("Ann", "Lee", "shop-42")
    assert customer.tags == "vip, newsletter" and not customer.password
    assert customer.addresses.get().city == "Ottawa"
    assert api_client(body["customer_access_token"]).get("/api/me").json()["id"] == customer.ref


def test_the_customer_is_found_by_identifier_then_by_email(api_a, store_a, secret_a):
    by_id = customer_make(store=store_a, state="enabled", email="old@shop.com", multipass_identifier="x-1")
    by_email = customer_make(store=store_a, state="enabled", email="ann@shop.com")
    response = multipass(api_a, token_of(secret_a, email="ann@shop.com", identifier="x-1"))
    assert response.status_code == 200 and response.json()["customer"]["id"] == by_id.ref
    response = multipass(api_a, token_of(secret_a, email="ANN@shop.com", identifier="unknown"))
    assert response.status_code == 200 and response.json()["customer"]["id"] == by_email.ref
    by_email.refresh_from_db()
    assert by_email.version == 1 and by_email.multipass_identifier is None  # a sign-in changes nothing


@pytest.mark.parametrize("state", ["disabled", "invited", "declined"])
def test_accounts_never_enabled_become_enabled(api_a, store_a, secret_a, state):
    customer = customer_make(store=store_a, state="disabled" if state == "invited" else state, email="a@shop.com")
    if state == "invited":
        customer_invite(store=store_a, customer=customer, send_email=False)
    response = multipass(api_a, token_of(secret_a, email="a@shop.com"))
    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert customer.state == "enabled"
    assert not AccountInvite.objects.filter(customer=customer, used_at=None, voided_at=None).exists()


def test_an_account_staff_disabled_stays_disabled(api_a, store_a, secret_a):
    customer = customer_make(store=store_a, state="enabled", email="a@shop.com")
    customer_disable(store=store_a, customer=customer)
    response = multipass(api_a, token_of(secret_a, email="a@shop.com"))
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "InvalidCredentials"
    customer.refresh_from_db()
    assert customer.state == "disabled" and not CustomerAccessToken.objects.exists()


def error_code(response):
    assert response.status_code == 400, response.content
    return response.json()["errors"][0]["code"]


def test_bad_tokens(api_a, store_a, secret_a):
    good = token_of(secret_a, email="a@shop.com")
    raw = bytearray(base64.urlsafe_b64decode(good))
    raw[20] ^= 1
    bad = {
        "another secret": token_of("not the secret", email="a@shop.com"),
        "flipped bit": base64.urlsafe_b64encode(bytes(raw)).decode(),
        "not base64": "!!!!",
        "too short": base64.urlsafe_b64encode(b"x" * 40).decode(),
        "empty": "",
        "expired": token_of(secret_a, email="a@shop.com", created_at=now_iso(-dt.timedelta(minutes=16))),
        "future": token_of(secret_a, email="a@shop.com", created_at=now_iso(dt.timedelta(minutes=5))),
        "no created_at": encode(secret_a, {"email": "a@shop.com"}),
        "bad created_at": token_of(secret_a, email="a@shop.com", created_at="yesterday"),
        "no email": token_of(secret_a),
        "not an object": encode(secret_a, ["a@shop.com"]),  # type: ignore[arg-type]
        "bad addresses": token_of(secret_a, email="a@shop.com", addresses="1 Main St"),
        "name not text": token_of(secret_a, email="a@shop.com", first_name=5),
    }
    for name, token in bad.items():
        assert error_code(multipass(api_a, token)) == "InvalidMultipassToken", name
    assert not Customer.objects.exists()
    assert error_code(api_a.post(PATH, {"token": 1})) == "InvalidField"
    assert error_code(api_a.post(PATH, {})) == "RequiredField"


def test_padding_is_optional(api_a, store_a, secret_a):
    token = token_of(secret_a, email="a@shop.com", created_at=now_iso() + " ")  # a length that pads
    assert multipass(api_a, token.rstrip("=")).status_code == 201


def test_a_token_works_once(api_a, store_a, secret_a):
    token = token_of(secret_a, email="a@shop.com")
    assert multipass(api_a, token).status_code == 201
    assert error_code(multipass(api_a, token)) == "InvalidMultipassToken"
    assert error_code(multipass(api_a, token.rstrip("="))) == "InvalidMultipassToken"  # the same bytes
    assert MultipassTokenUse.objects.count() == 1


def test_remote_ip_must_be_the_shoppers(api_a, store_a, secret_a):
    def attempt(header=None, remote_ip="203.0.113.5"):
        headers = {"HTTP_TWC_CUSTOMER_IP": header} if header else {}
        return multipass(api_a, token_of(secret_a, email="a@shop.com", remote_ip=remote_ip), **headers)

    assert error_code(attempt()) == "InvalidMultipassToken"
    assert error_code(attempt("203.0.113.6")) == "InvalidMultipassToken"
    assert error_code(attempt("203.0.113.5", remote_ip="nonsense")) == "InvalidMultipassToken"
    assert attempt("203.0.113.5").status_code == 201
    assert attempt("2001:db8::1", remote_ip="2001:DB8:0::1").status_code == 200


def test_multipass_off_is_409_and_rotation_voids_old_tokens(api_a, store_a, secret_a):
    old = token_of(secret_a, email="a@shop.com")
    rotated = store_multipass_set(store=store_a, rotate=True)
    assert rotated.multipass_enabled and rotated.multipass_secret != secret_a
    assert error_code(multipass(api_a, old)) == "InvalidMultipassToken"
    store_multipass_set(store=store_a, enabled=False)
    response = multipass(api_a, token_of(rotated.multipass_secret, email="a@shop.com"))
    assert response.status_code == 409 and response.json()["errors"][0]["code"] == "InvalidOperation"


def test_multipass_never_configured_is_409(api_a, store_a):
    response = multipass(api_a, token_of("whatever", email="a@shop.com"))
    assert response.status_code == 409


def test_stores_are_apart(api_a, api_b, store_a, store_b, secret_a):
    store_multipass_set(store=store_b, enabled=True)
    customer_make(store=store_b, state="enabled", email="a@shop.com")
    assert error_code(multipass(api_b, token_of(secret_a, email="a@shop.com"))) == "InvalidMultipassToken"
    response = multipass(api_a, token_of(secret_a, email="a@shop.com"))
    assert response.status_code == 201 and Customer.objects.get(store=store_a).email == "a@shop.com"


def test_scope_customers_sign_in_is_needed(scoped_client, store_a, secret_a):
    token = token_of(secret_a, email="a@shop.com")
    response = multipass(scoped_client("customers:read customers:write"), token)
    assert response.status_code == 403
    assert multipass(scoped_client("customers:sign_in"), token).status_code == 201


def run_command(*args):
    out = io.StringIO()
    call_command("store_multipass", *args, stdout=out)
    return out.getvalue()


def test_the_command(store_a):
    enabled = json.loads(run_command(store_a.name, "--enable", "--json"))
    assert enabled["store"] == store_a.name and enabled["enabled"] is True and len(enabled["secret"]) == 64
    again = json.loads(run_command(store_a.name, "--enable", "--json"))
    assert again["secret"] == enabled["secret"]  # enabling keeps the secret
    rotated = json.loads(run_command(store_a.name, "--rotate", "--json"))
    assert rotated["secret"] != enabled["secret"] and rotated["enabled"] is True
    assert json.loads(run_command(store_a.name, "--disable", "--json")) == {
        "store": store_a.name,
        "enabled": False,
        "secret": None,
    }
    assert StoreAccountSettings.objects.get(store=store_a).multipass_enabled is False
    assert "secret: " in run_command(store_a.name, "--enable")
    with pytest.raises(CommandError):
        run_command("no such store", "--enable")
    with pytest.raises(CommandError):
        run_command(store_a.name)
