"""GET /api/customers/{customerRef} and DELETE /api/customers/{id}."""

from customers.models import Customer
from tests.factories import customer_make


def test_get_by_reference(api_a):
    created = api_a.post("/api/customers", {"id": "c-1", "email": "a@x.com"})
    assert created.status_code == 201, created.content
    response = api_a.get("/api/customers/c-1")
    assert response.status_code == 200
    assert response.json() == created.json()
    assert response["ETag"] == '"1"'


def test_get_by_twc_customer_id(api_a, store_a):
    customer = customer_make(store=store_a, id="c-1", email="a@x.com")
    response = api_a.get(f"/api/customers/{customer.twc_customer_id}")
    assert response.status_code == 200
    assert response.json()["id"] == "c-1"


def test_reference_wins_over_twc_customer_id(api_a, store_a):
    first = customer_make(store=store_a, id="c-1", email="a@x.com")
    # A second customer whose reference is the first one's twc_customer_id.
    customer_make(store=store_a, id=str(first.twc_customer_id), email="b@x.com")
    assert api_a.get(f"/api/customers/{first.twc_customer_id}").json()["email"] == "b@x.com"


def test_reference_with_slash_and_spaces(api_a, store_a):
    customer_make(store=store_a, id="gid://shop/Customer/7", email="a@x.com")
    assert api_a.get("/api/customers/gid://shop/Customer/7").status_code == 200
    customer_make(store=store_a, id="ref with space", email="b@x.com")
    assert api_a.get("/api/customers/ref%20with%20space").json()["email"] == "b@x.com"


def test_unknown_reference_is_resource_not_found(api_a):
    response = api_a.get("/api/customers/c-42")
    assert response.status_code == 404
    assert response.json() == {
        "statusCode": 404,
        "message": "Customer 'c-42' was not found.",
        "errors": [{"code": "ResourceNotFound", "message": "Customer 'c-42' was not found."}],
    }


def test_other_store_cannot_read_or_delete(api_a, api_b, store_a):
    customer = customer_make(store=store_a, id="c-1", email="a@x.com")
    for ref in ("c-1", customer.twc_customer_id):
        missing = api_b.get(f"/api/customers/{ref}")
        assert missing.status_code == 404
        assert missing.json()["errors"][0]["code"] == "ResourceNotFound"
        assert api_b.delete(f"/api/customers/{ref}").status_code == 404
    assert api_b.get("/api/customers/c-404").json()["message"] == "Customer 'c-404' was not found."
    assert api_a.get("/api/customers/c-1").status_code == 200


def test_delete_marks_deleted(api_a, store_a):
    customer = customer_make(store=store_a, id="c-1", email="a@x.com")
    response = api_a.delete("/api/customers/c-1")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "c-1"
    assert body["twc_customer_id"] == str(customer.twc_customer_id)
    assert body["deleted"] is True
    assert body["deleted_at"]
    assert set(body) == {"id", "twc_customer_id", "deleted", "deleted_at"}
    customer = Customer.objects.get(ref="c-1")
    assert customer.deleted_at is not None  # kept in the database
    assert api_a.get("/api/customers/c-1").status_code == 404
    assert api_a.delete("/api/customers/c-1").status_code == 404
    assert api_a.put("/api/customers", {"id": "c-1", "note": "x"}).status_code == 404


def test_delete_by_twc_customer_id(api_a, store_a):
    customer = customer_make(store=store_a, id="c-1", email="a@x.com")
    assert api_a.delete(f"/api/customers/{customer.twc_customer_id}").status_code == 200


def test_delete_then_recreate_with_same_keys(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com", phone="613-555-0100")
    assert api_a.delete("/api/customers/c-1").status_code == 200
    again = api_a.post("/api/customers", {"id": "c-1", "email": "A@X.com", "phone": "+16135550100"})
    assert again.status_code == 201, again.content
    assert api_a.get("/api/customers/c-1").json()["twc_customer_id"] == again.json()["twc_customer_id"]
    assert Customer.objects.filter(ref="c-1").count() == 2


def test_delete_unknown_is_resource_not_found(api_a):
    response = api_a.delete("/api/customers/nope")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "ResourceNotFound"
