"""Orders and wishlists: their assignment to customers and the customer's order figures."""

from customers.models import Wishlist
from customers.services import customer_soft_delete
from tests.factories import customer_make, order_make, wishlist_make


def post_order(client, **fields):
    return client.post("/api/orders", fields)


def test_order_is_assigned_by_email_and_counted(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="ann@x.com")
    response = post_order(api_a, name="#1001", email="ANN@x.com", total_price=10.5, currency="CAD")
    assert response.status_code == 201
    assert response.json()["customer_id"] == "c-1"
    assert b'"total_price":10.50' in response.content
    post_order(api_a, name="#1002", email="ann@x.com", total_price=4.25)
    body = api_a.get("/api/customers/c-1").json()
    assert body["orders_count"] == 2
    assert body["total_spent"] == 14.75
    assert body["last_order_name"] == "#1002"
    assert body["last_order_id"] is not None


def test_test_and_archived_orders_are_not_counted(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="ann@x.com")
    post_order(api_a, name="#1", email="ann@x.com", total_price=5, created_at="2024-01-01T00:00:00Z")
    post_order(api_a, name="#2", email="ann@x.com", total_price=100, test=True)
    post_order(api_a, name="#3", email="ann@x.com", total_price=100, archived=True)
    body = api_a.get("/api/customers/c-1").json()
    assert (body["orders_count"], body["total_spent"], body["last_order_name"]) == (1, 5, "#1")


def test_order_by_phone_and_by_customer_id(api_a, store_a):
    customer_make(store=store_a, id="c-1", phone="613-555-0100")
    customer_make(store=store_a, id="c-2", email="b@x.com")
    assert post_order(api_a, name="#1", phone="+1 613 555 0100", total_price=1).json()["customer_id"] == "c-1"
    assert (
        post_order(api_a, name="#2", email="ann@x.com", customer_id="c-2", total_price=1).json()["customer_id"] == "c-2"
    )


def test_orders_before_the_customer_are_assigned_at_creation(api_a, store_a):
    assert post_order(api_a, name="#1", email="ann@x.com", total_price=7).json()["customer_id"] is None
    wishlist_make(store=store_a, email="ann@x.com", name="Xmas", items=["sku-1"])
    response = api_a.post("/api/customers", {"id": "c-1", "email": "Ann@X.com"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["orders_count"] == 1
    assert body["total_spent"] == 7
    assert Wishlist.objects.get().customer.ref == "c-1"


def test_order_name_is_unique_per_store(api_a, api_b, store_a):
    order_make(store=store_a, name="#1", total_price=1)
    duplicate = post_order(api_a, name="#1", total_price=1)
    assert duplicate.status_code == 409
    assert duplicate.json()["errors"][0]["code"] == "DuplicateField"
    assert post_order(api_b, name="#1", total_price=1).status_code == 201


def test_orders_never_cross_stores(api_a, api_b, store_a):
    customer_make(store=store_a, id="c-1", email="ann@x.com")
    assert post_order(api_b, name="#1", email="ann@x.com", total_price=1).json()["customer_id"] is None
    bad = post_order(api_b, name="#2", customer_id="c-1", total_price=1)
    assert bad.status_code == 400
    assert api_a.get("/api/customers/c-1").json()["orders_count"] == 0


def test_deleted_customer_gets_no_new_orders(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="ann@x.com")
    customer_soft_delete(store=store_a, ref="c-1")
    assert post_order(api_a, name="#1", email="ann@x.com", total_price=1).json()["customer_id"] is None


def test_invalid_order(api_a):
    response = post_order(api_a, total_price="ten", bogus=1)
    assert response.status_code == 400
    codes = {(e["code"], e.get("field")) for e in response.json()["errors"]}
    assert ("RequiredField", "name") in codes
    assert ("InvalidField", "total_price") in codes
    assert ("InvalidField", "bogus") in codes


def test_wishlist_by_customer_id(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="ann@x.com")
    response = api_a.post("/api/wishlists", {"customer_id": "c-1", "items": ["a", "b"]})
    assert response.status_code == 201
    assert response.json()["customer_id"] == "c-1"
    assert response.json()["items"] == ["a", "b"]
