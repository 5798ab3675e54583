"""`Idempotency-Key` on the accounts' endpoints, on both backends: answers that carry a credential or
a link (sign-in, Multipass, password change, send_password_reset) are never stored, so a retry runs
afresh and nothing replays a token; a replay needs the view's own scope (customers:sign_in), so a
sign-in-only token is neither refused wrongly nor given a replay of another scope's request."""

from accounts.models import PasswordReset
from tests.accounts.test_sign_in import PASSWORD, enabled_customer, sign_in
from tests.api.conftest import shared_state  # noqa: F401 - the fixture: both backends
from tests.battery.test_stored_replies import is_claimed, stored_bodies
from tests.conftest import api_client

KEY = {"HTTP_IDEMPOTENCY_KEY": "k-1"}


def test_sign_in_is_never_stored(api_a, store_a, shared_state, settings):  # noqa: F811
    enabled_customer(store_a, email="ann@shop.com")
    first, second = sign_in(api_a, "ann@shop.com", **KEY), sign_in(api_a, "ann@shop.com", **KEY)
    assert first.status_code == second.status_code == 200
    assert "Idempotent-Replayed" not in second
    assert first.json()["customer_access_token"] != second.json()["customer_access_token"]
    assert not stored_bodies(settings, shared_state) and not is_claimed(settings, shared_state, "k-1")


def test_a_sign_in_only_token_is_let_in_and_its_own_replies_replayed(scoped_client, store_a, shared_state, settings):  # noqa: F811
    enabled_customer(store_a, email="ann@shop.com")
    signer = scoped_client("customers:sign_in")
    assert sign_in(signer, "ann@shop.com", **KEY).status_code == 200  # not refused by the key
    first = signer.post("/api/accounts/recover", {"email": "ann@shop.com"}, HTTP_IDEMPOTENCY_KEY="r-1")
    replay = signer.post("/api/accounts/recover", {"email": "ann@shop.com"}, HTTP_IDEMPOTENCY_KEY="r-1")
    assert first.status_code == replay.status_code == 202
    assert replay["Idempotent-Replayed"] == "true"
    assert PasswordReset.objects.count() == 1  # the replay sent no second mail

    # A token of the same store without customers:sign_in gets no replay of it, and claims nothing.
    writer = scoped_client("customers:read customers:write")
    refused = writer.post("/api/accounts/recover", {"email": "ann@shop.com"}, HTTP_IDEMPOTENCY_KEY="r-1")
    assert refused.status_code == 403 and "Idempotent-Replayed" not in refused
    fresh = writer.post("/api/accounts/recover", {"email": "ann@shop.com"}, HTTP_IDEMPOTENCY_KEY="r-2")
    assert fresh.status_code == 403 and not is_claimed(settings, shared_state, "r-2")

    # And the sign-in-only token gets no replay of a write stored by another token.
    created = writer.post("/api/customers", {"email": "bob@shop.com", "note": "secret"}, HTTP_IDEMPOTENCY_KEY="w-1")
    assert created.status_code == 201
    again = signer.post("/api/customers", {"email": "bob@shop.com", "note": "secret"}, HTTP_IDEMPOTENCY_KEY="w-1")
    assert again.status_code == 403 and b"secret" not in again.content


def test_send_password_reset_is_never_stored(api_a, store_a, shared_state, settings):  # noqa: F811
    enabled_customer(store_a, id="c-1", email="ann@shop.com")
    path = "/api/customers/c-1/send_password_reset"
    first = api_a.post(path, {"send_email": False}, **KEY)
    second = api_a.post(path, {"send_email": False}, **KEY)
    assert first.status_code == second.status_code == 200 and "Idempotent-Replayed" not in second
    assert first.json()["password_reset"]["url"] != second.json()["password_reset"]["url"]
    assert not stored_bodies(settings, shared_state)


def test_a_password_change_is_never_stored(api_a, store_a, shared_state, settings):  # noqa: F811
    enabled_customer(store_a, email="ann@shop.com")
    me = api_client(sign_in(api_a, "ann@shop.com").json()["customer_access_token"])
    body = {"current_password": PASSWORD, "new_password": "another long passphrase"}
    changed = me.post("/api/me/password", body, **KEY)
    assert changed.status_code == 200
    retried = api_client(changed.json()["customer_access_token"]).post("/api/me/password", body, **KEY)
    assert "Idempotent-Replayed" not in retried and retried.status_code == 400  # ran again: wrong password
    assert not stored_bodies(settings, shared_state)
