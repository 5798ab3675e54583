"""POST /api/customers/{id}/send_invite: the lifecycle through HTTP."""

import pytest
from django.core import mail

from customers.models import AccountInvite
from customers.services import customer_soft_delete
from tests.factories import customer_make


def test_send_invite_returns_the_customer_and_the_link(api_a, settings, store_a):
    settings.PUBLIC_BASE_URL = "https://customers.example.com"
    customer_make(store=store_a, id="c-1", email="ann@example.com")
    before = api_a.get("/api/customers/c-1").json()
    response = api_a.post("/api/customers/c-1/send_invite")
    assert response.status_code == 200, response.content
    body = response.json()
    invite = body.pop("invite")
    assert body["state"] == "invited"
    assert body["version"] == 2
    assert response["ETag"] == '"2"'
    assert {k: v for k, v in body.items() if k not in ("state", "version", "updated_at")} == {
        k: v for k, v in before.items() if k not in ("state", "version", "updated_at")
    }
    assert invite["url"].startswith("https://customers.example.com/account/activate/")
    assert invite["emailed"] is True
    assert invite["expires_at"] == AccountInvite.objects.get().expires_at.isoformat()
    assert len(mail.outbox) == 1
    assert invite["url"] in mail.outbox[0].body
    assert api_a.get("/api/customers/c-1").json()["state"] == "invited"
    # what send_invite answered can be sent back: the invite is read-only, as the other answers' extras
    sent_back = api_a.put("/api/customers/c-1", {**body, "invite": invite})
    assert sent_back.status_code == 200, sent_back.content


def test_send_invite_without_email_for_the_stores_own_mail(api_a, store_a):
    customer_make(store=store_a, id="c-1", phone="613-555-0100")
    response = api_a.post("/api/customers/c-1/send_invite", {"send_email": False})
    assert response.status_code == 200, response.content
    assert response.json()["invite"]["emailed"] is False
    assert mail.outbox == []
    assert response.json()["state"] == "invited"


def test_send_invite_to_a_customer_without_email_is_invalid_operation(api_a, store_a):
    customer_make(store=store_a, id="c-1", phone="613-555-0100")
    response = api_a.post("/api/customers/c-1/send_invite")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "InvalidOperation"


def test_send_invite_to_an_enabled_account_is_409(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@example.com", state="enabled")
    response = api_a.post("/api/customers/c-1/send_invite")
    assert response.status_code == 409
    assert response.json() == {
        "statusCode": 409,
        "message": "An enabled account cannot be invited.",
        "errors": [{"code": "InvalidOperation", "message": "An enabled account cannot be invited."}],
    }
    assert api_a.get("/api/customers/c-1").json()["version"] == 1


@pytest.mark.parametrize("state", ["disabled", "invited", "declined"])
def test_send_invite_is_legal_from(api_a, state, store_a):
    customer_make(store=store_a, id="c-1", email="a@example.com", state=state)
    response = api_a.post("/api/customers/c-1/send_invite", {})
    assert response.status_code == 200
    assert response.json()["state"] == "invited"


def test_send_invite_by_twc_customer_id_and_refs_with_slashes(api_a, store_a):
    customer = customer_make(store=store_a, id="shop/42", email="a@example.com")
    assert api_a.post(f"/api/customers/{customer.twc_customer_id}/send_invite").status_code == 200
    assert api_a.post("/api/customers/shop/42/send_invite").json()["id"] == "shop/42"


def test_send_invite_to_another_stores_customer_is_404(api_a, api_b, store_b):
    customer_make(store=store_b, id="b-1", email="b@example.com")
    response = api_a.post("/api/customers/b-1/send_invite")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "ResourceNotFound"
    assert api_b.get("/api/customers/b-1").json()["state"] == "disabled"


def test_send_invite_to_a_deleted_customer_is_404(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@example.com")
    customer_soft_delete(store=store_a, ref="c-1")
    assert api_a.post("/api/customers/c-1/send_invite").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [({"send_email": "no"}, "send_email"), ({"sendEmail": False}, "sendEmail")],
)
def test_send_invite_refuses_a_bad_body(api_a, body, field, store_a):
    customer_make(store=store_a, id="c-1", email="a@example.com")
    response = api_a.post("/api/customers/c-1/send_invite", body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert api_a.get("/api/customers/c-1").json()["state"] == "disabled"


def test_send_invite_needs_the_write_scope(scoped_client, store_a, store_b):
    customer_make(store=store_a, id="c-1", email="a@example.com")
    reader = scoped_client("customers:read")
    response = reader.post("/api/customers/c-1/send_invite")
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "InsufficientScope"


def test_send_invite_only_takes_post(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@example.com")
    assert api_a.get("/api/customers/c-1/send_invite").status_code == 405
