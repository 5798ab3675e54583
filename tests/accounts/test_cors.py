"""CORS on /api/me from the origins the customer's store allows."""

from accounts.models import StoreAccountSettings
from tests.accounts.test_sign_in import signed_in

SHOP = "https://shop-a.example"


def test_me_answers_cors_only_for_the_stores_origins(api_a, store_a, store_b):
    StoreAccountSettings.objects.create(store=store_a, cors_allowed_origins=SHOP + "\n")
    StoreAccountSettings.objects.create(store=store_b, cors_allowed_origins="https://shop-b.example")
    _, me, _ = signed_in(api_a, store_a, email="ann@shop.com")
    assert me.get("/api/me", HTTP_ORIGIN=SHOP)["Access-Control-Allow-Origin"] == SHOP
    assert "Access-Control-Allow-Origin" not in me.get("/api/me", HTTP_ORIGIN="https://shop-b.example")
    assert "Access-Control-Allow-Origin" not in me.get("/api/me", HTTP_ORIGIN="https://evil.example")
    preflight = me.options(
        "/api/me",
        HTTP_ORIGIN=SHOP,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )
    assert preflight["Access-Control-Allow-Origin"] == SHOP
    assert "Access-Control-Allow-Origin" not in api_a.get("/api/customers", HTTP_ORIGIN=SHOP)
