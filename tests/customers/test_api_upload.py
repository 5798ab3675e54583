"""POST /api/upload-customers: one result per item, first wins, bad items never stop good ones."""

from customers.models import Customer
from tests.factories import customer_make


def test_upload_reports_each_item(api_a):
    items = [{"id": "u-1", "email": "a@x.com"}, {"email": "A@X.com"}, {"id": "u-3", "phone": "613-555-0100"}]
    response = api_a.post("/api/upload-customers", items)
    assert response.status_code == 200
    body = response.json()
    assert body["created"] == 2 and body["failed"] == 1
    assert [r["status"] for r in body["results"]] == ["created", "failed", "created"]
    assert [r["index"] for r in body["results"]] == [0, 1, 2]
    assert body["results"][0]["id"] == "u-1"
    assert body["results"][1]["errors"][0]["code"] == "DuplicateField"
    assert body["results"][1]["errors"][0]["field"] == "email"
    created = api_a.get("/api/customers/u-3").json()
    assert created["phone"] == "+16135550100"
    assert created["twc_customer_id"] == body["results"][2]["twc_customer_id"]


def test_upload_object_form(api_a):
    response = api_a.post("/api/upload-customers", {"customers": [{"email": "a@x.com"}]})
    assert response.json()["created"] == 1


def test_invalid_items_fail_alone(api_a):
    items = [{"email": "bad"}, "not an object", {"email": "ok@x.com", "extra": 1}, {"email": "good@x.com"}]
    body = api_a.post("/api/upload-customers", items).json()
    assert [r["status"] for r in body["results"]] == ["failed", "failed", "failed", "created"]
    assert body["results"][0]["errors"][0]["field"] == "email"
    assert body["results"][2]["errors"][0]["field"] == "extra"
    assert Customer.objects.count() == 1


def test_collision_with_existing_customer(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    body = api_a.post("/api/upload-customers", [{"id": "c-1", "email": "new@x.com"}]).json()
    assert body["results"][0]["errors"][0]["field"] == "id"


def test_upload_is_confined_to_the_store(api_a, api_b, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    body = api_b.post("/api/upload-customers", [{"id": "c-1", "email": "a@x.com"}]).json()
    assert body["created"] == 1
    assert api_a.get("/api/customers/c-1").json()["email"] == "a@x.com"


def test_too_many_items(api_a, settings):
    settings.UPLOAD_MAX_ITEMS = 3
    response = api_a.post("/api/upload-customers", [{"email": f"{i}@x.com"} for i in range(4)])
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "PayloadTooLarge"
    assert not Customer.objects.exists()


def test_body_must_be_an_array(api_a):
    response = api_a.post("/api/upload-customers", {"email": "a@x.com"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "InvalidJsonInput"


def test_uploaded_customers_equal_single_creates(api_a):
    item = {"id": "u-1", "email": "a@x.com", "tags": "b, a", "addresses": [{"city": "X"}], "accepts_marketing": True}
    api_a.post("/api/upload-customers", [item])
    api_a.post("/api/customers", dict(item, id="s-1", email="b@x.com"))
    uploaded = api_a.get("/api/customers/u-1").json()
    single = api_a.get("/api/customers/s-1").json()
    differ = {
        "id",
        "twc_customer_id",
        "admin_graphql_api_id",
        "email",
        "addresses",
        "default_address",
        "created_at",
        "updated_at",
        "accepts_marketing_updated_at",
    }
    assert {k: v for k, v in uploaded.items() if k not in differ} == {
        k: v for k, v in single.items() if k not in differ
    }
    assert uploaded["addresses"][0]["city"] == single["addresses"][0]["city"] == "X"
