"""POST /api/accounts/sign_in, customer tokens, and /api/me through HTTP, with both stores."""

import datetime as dt

import bcrypt
import pytest
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts.models import CustomerAccessToken
from customers.models import Customer
from customers.services.lifecycle import customer_disable
from tests.conftest import api_client
from tests.factories import customer_make, order_make, wishlist_make

PASSWORD = "correct horse battery"
INVALID = [{"code": "InvalidCredentials", "message": "The email or the password is not correct."}]


def enabled_customer(store, **fields):
    customer = customer_make(store=store, state="enabled", **fields)
    Customer.objects.filter(pk=customer.pk).update(password=make_password(PASSWORD))
    return Customer.objects.get(pk=customer.pk)


def sign_in(client, email, password=PASSWORD, **headers):
    return client.post("/api/accounts/sign_in", {"email": email, "password": password}, **headers)


def test_sign_in_answers_the_customer_and_a_token(api_a, store_a):
    enabled_customer(store_a, id="c-1", email="Ann@Shop.com", tags="vip", note="secret")
    response = sign_in(api_a, "ann@SHOP.com")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["customer"]["id"] == "c-1"
    assert "note" not in body["customer"] and "tags" not in body["customer"]
    assert body["customer_access_token"].startswith("twcct_")
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert dt.timedelta(days=29, hours=23) < expires - timezone.now() <= dt.timedelta(days=30)
    stored = CustomerAccessToken.objects.get()
    assert body["customer_access_token"] not in stored.token_hash and len(stored.token_hash) == 64
    me = api_client(body["customer_access_token"]).get("/api/me")
    assert me.status_code == 200 and me.json()["id"] == "c-1" and "note" not in me.json()


def test_sign_in_changes_no_version(api_a, store_a):
    customer = enabled_customer(store_a, email="ann@shop.com")
    sign_in(api_a, "ann@shop.com")
    assert Customer.objects.get(pk=customer.pk).version == customer.version


@pytest.mark.parametrize(
    "setup",
    ["wrong_password", "unknown_email", "invited", "disabled", "deleted", "no_password", "other_store"],
)
def test_every_failure_is_the_same_answer(api_a, store_a, store_b, setup):
    if setup == "other_store":
        enabled_customer(store_b, email="ann@shop.com")
    elif setup != "unknown_email":
        customer = enabled_customer(store_a, email="ann@shop.com")
        if setup in ("invited", "disabled"):
            Customer.objects.filter(pk=customer.pk).update(state=setup)
        elif setup == "deleted":
            Customer.objects.filter(pk=customer.pk).update(deleted_at=timezone.now())
        elif setup == "no_password":
            Customer.objects.filter(pk=customer.pk).update(password="")
    response = sign_in(api_a, "ann@shop.com", "wrong password" if setup == "wrong_password" else PASSWORD)
    assert response.status_code == 400
    assert response.json() == {"statusCode": 400, "message": INVALID[0]["message"], "errors": INVALID}


def test_bad_bodies(api_a):
    assert api_a.post("/api/accounts/sign_in", {"email": "a@b.c"}).json()["errors"][0]["code"] == "RequiredField"
    body = api_a.post("/api/accounts/sign_in", {"email": 1, "password": "x", "extra": 2}).json()
    assert {(e["code"], e["field"]) for e in body["errors"]} == {("InvalidField", "extra"), ("InvalidField", "email")}
    assert api_a.post("/api/accounts/sign_in", [1]).status_code == 400
    assert sign_in(api_a, "a@b.c", HTTP_TWC_CUSTOMER_IP="not-an-ip").json()["errors"][0]["field"] == "TWC-Customer-IP"


def test_lockout_after_five_failures_even_with_the_right_password(api_a, store_a, monkeypatch):
    enabled_customer(store_a, email="ann@shop.com")
    for _ in range(5):
        assert sign_in(api_a, "ann@shop.com", "wrong").status_code == 400
    # Locked: no hash is computed at all.
    monkeypatch.setattr("accounts.services.sign_in.check_password", lambda *a, **k: pytest.fail("hashed"))
    response = sign_in(api_a, "ANN@shop.com")
    assert response.status_code == 429
    assert response.json()["errors"][0]["code"] == "TooManyRequests"
    assert 55 <= int(response["Retry-After"]) <= 60


def test_the_wait_doubles_and_a_success_resets(api_a, store_a, settings):
    settings.SIGN_IN_LOCKOUT_SECONDS = 0.01  # locks that end at once, to reach the further failures
    settings.SIGN_IN_MAX_LOCKOUT_SECONDS = 0.04
    enabled_customer(store_a, email="ann@shop.com")
    from accounts.services.sign_in import GuessLimits
    from tenants.models import Store
    from twc.api.failure_limits import _database_read

    key, policy = GuessLimits.of(store=Store.objects.get(pk=store_a.pk), email="ann@shop.com", ip=None).keys[0]
    waits = []
    for _ in range(8):
        import time

        time.sleep(0.05)
        assert sign_in(api_a, "ann@shop.com", "wrong").status_code == 400
        waits.append(policy.wait(_database_read(key, policy)[0]))
    assert waits == [0, 0, 0, 0, 0.01, 0.02, 0.04, 0.04]
    time.sleep(0.05)
    assert sign_in(api_a, "ann@shop.com").status_code == 200
    assert _database_read(key, policy)[0] == 0


def test_unknown_emails_lock_too_and_stores_are_apart(api_a, api_b, store_a, store_b):
    enabled_customer(store_b, email="ghost@shop.com")
    for _ in range(5):
        sign_in(api_a, "ghost@shop.com", "wrong")
    assert sign_in(api_a, "ghost@shop.com").status_code == 429
    assert sign_in(api_b, "ghost@shop.com").status_code == 200


def test_failures_per_shopper_address(api_a, store_a, settings):
    settings.SIGN_IN_IP_MAX_FAILURES = 3
    for number in range(3):
        sign_in(api_a, f"guess-{number}@shop.com", "wrong", HTTP_TWC_CUSTOMER_IP="203.0.113.9")
    assert sign_in(api_a, "other@shop.com", HTTP_TWC_CUSTOMER_IP="203.0.113.9").status_code == 429
    assert sign_in(api_a, "other@shop.com", HTTP_TWC_CUSTOMER_IP="203.0.113.10").status_code == 400


def test_an_imported_bcrypt_hash_signs_in_and_is_upgraded_to_argon2(api_a, store_a, settings):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "accounts.hashers.ImportedBcryptPasswordHasher",
    ]
    old = "$2y$" + bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()[4:]
    created = api_a.post(
        "/api/customers", {"id": "c-1", "email": "ann@shop.com", "state": "enabled", "password_hash": old}
    )
    assert created.status_code == 201
    assert sign_in(api_a, "ann@shop.com").status_code == 200
    customer = Customer.objects.get(ref="c-1")
    assert customer.password.startswith("argon2$argon2id$") and customer.version == 1
    assert sign_in(api_a, "ann@shop.com").status_code == 200


def test_scope_customers_sign_in_is_needed(scoped_client, store_a):
    enabled_customer(store_a, email="ann@shop.com")
    client = scoped_client("customers:read customers:write")
    response = sign_in(client, "ann@shop.com")
    assert response.status_code == 403 and response.json()["errors"][0]["code"] == "InsufficientScope"
    assert sign_in(scoped_client("customers:sign_in"), "ann@shop.com").status_code == 200


def signed_in(api, store, **fields):
    customer = enabled_customer(store, **fields)
    token = sign_in(api, customer.email).json()["customer_access_token"]
    return customer, api_client(token), token


def test_the_two_kinds_of_token_never_open_each_others_endpoints(api_a, store_a):
    customer, me, _ = signed_in(api_a, store_a, id="c-1", email="ann@shop.com")
    for path in ("/api/customers", "/api/customers/c-1", "/api/customers/count"):
        response = me.get(path)
        assert response.status_code == 401 and response.json()["errors"][0]["code"] == "InvalidToken"
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert me.post("/api/accounts/sign_in", {"email": "ann@shop.com", "password": PASSWORD}).status_code == 401
    for path in ("/api/me", "/api/me/orders", "/api/me/wishlists"):
        assert api_a.get(path).status_code == 401
    assert api_a.post("/api/me/sign_out").status_code == 401
    assert api_client(None).get("/api/me").status_code == 401


def test_sign_out_revokes_the_token(api_a, store_a):
    _, me, _ = signed_in(api_a, store_a, email="ann@shop.com")
    assert me.post("/api/me/sign_out").status_code == 204
    assert me.get("/api/me").status_code == 401


@pytest.mark.parametrize("how", ["disable", "delete"])
def test_staff_disable_and_delete_revoke_every_token(api_a, store_a, how):
    customer, me, _ = signed_in(api_a, store_a, id="c-1", email="ann@shop.com")
    if how == "disable":
        customer_disable(store=store_a, customer=customer)
        assert Customer.objects.get(pk=customer.pk).disabled_by_staff
    else:
        api_a.delete("/api/customers/c-1")
    assert me.get("/api/me").status_code == 401
    assert not CustomerAccessToken.objects.filter(revoked_at__isnull=True).exists()


def test_expired_token(api_a, store_a):
    _, me, _ = signed_in(api_a, store_a, email="ann@shop.com")
    CustomerAccessToken.objects.update(expires_at=timezone.now())
    assert me.get("/api/me").status_code == 401


def test_patch_me_goes_through_the_write_path(api_a, store_a, store_b):
    customer_make(store=store_a, phone="+16135550111")
    customer, me, _ = signed_in(api_a, store_a, id="c-1", email="ann@shop.com")
    response = me.patch("/api/me", {"first_name": "Ann", "addresses": [{"city": "Ottawa"}]})
    assert response.status_code == 200, response.content
    assert response.json()["first_name"] == "Ann" and response.json()["version"] == customer.version + 1
    assert response.json()["default_address"]["city"] == "Ottawa" and "tags" not in response.json()
    duplicate = me.patch("/api/me", {"phone": "613-555-0111"})
    assert duplicate.status_code == 409 and duplicate.json()["errors"][0]["code"] == "DuplicateField"
    bad = me.patch("/api/me", {"phone": "nope"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "phone"


@pytest.mark.parametrize("field", ["email", "note", "tags", "state", "id", "multipass_identifier", "version", "x"])
def test_patch_me_refuses_other_fields_even_unchanged(api_a, store_a, field):
    customer, me, _ = signed_in(api_a, store_a, id="c-1", email="ann@shop.com")
    value = {"email": "ann@shop.com", "state": "enabled", "id": "c-1", "version": customer.version}.get(field, "")
    response = me.patch("/api/me", {field: value})
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "code": "InvalidField",
        "field": field,
        "message": f"'{field}' cannot be changed here.",
    }


def test_password_change(api_a, store_a):
    customer, me, old_token = signed_in(api_a, store_a, email="ann@shop.com")
    other = api_client(sign_in(api_a, "ann@shop.com").json()["customer_access_token"])
    wrong = me.post("/api/me/password", {"current_password": "nope", "new_password": "a new long password"})
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["code"] == "InvalidCredentials"
    weak = me.post("/api/me/password", {"current_password": PASSWORD, "new_password": "123"})
    assert weak.status_code == 400 and weak.json()["errors"][0]["field"] == "new_password"
    response = me.post("/api/me/password", {"current_password": PASSWORD, "new_password": "a new long password"})
    assert response.status_code == 200
    assert me.get("/api/me").status_code == 401 and other.get("/api/me").status_code == 401
    assert api_client(response.json()["customer_access_token"]).get("/api/me").status_code == 200
    assert sign_in(api_a, "ann@shop.com", "a new long password").status_code == 200
    assert Customer.objects.get(pk=customer.pk).version == customer.version


def test_wrong_current_passwords_count_as_failures(api_a, store_a):
    _, me, _ = signed_in(api_a, store_a, email="ann@shop.com")
    for _ in range(5):
        me.post("/api/me/password", {"current_password": "nope", "new_password": "a new long password"})
    assert sign_in(api_a, "ann@shop.com").status_code == 429


def test_my_orders_and_wishlists_are_paged_and_mine(api_a, store_a, store_b):
    customer, me, _ = signed_in(api_a, store_a, id="c-1", email="ann@shop.com")
    for number in range(3):
        order_make(store=store_a, customer_id="c-1", created_at=f"2024-01-0{number + 1}T00:00:00Z")
        wishlist_make(store=store_a, customer_id="c-1", name=f"w{number}")
    order_make(store=store_a, email="other@shop.com")
    order_make(store=store_b, email="ann@shop.com")
    first = me.get("/api/me/orders?limit=2").json()
    assert len(first["orders"]) == 2 and first["next"] and first["previous"] is None
    second = me.get(f"/api/me/orders?limit=2&page_info={first['next']}").json()
    assert len(second["orders"]) == 1
    assert {o["customer_id"] for o in first["orders"] + second["orders"]} == {"c-1"}
    wishlists = me.get("/api/me/wishlists").json()
    assert sorted(w["name"] for w in wishlists["wishlists"]) == ["w0", "w1", "w2"]
    assert me.get("/api/me/orders?ordering=x").status_code == 400


@pytest.mark.parametrize("email", ["ann\x00@shop.com", "ſara@shop.com"])
def test_sign_in_with_an_address_no_customer_can_have_is_invalid_credentials(api_a, email):
    response = api_a.post("/api/accounts/sign_in", {"email": email, "password": "whatever-1234"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "InvalidCredentials"
