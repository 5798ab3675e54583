"""POST /api/customers through HTTP with real tokens."""

import uuid

import pytest

from customers.models import Customer
from tests.factories import customer_make


def test_create_returns_the_full_representation(api_a, store_a):
    response = api_a.post(
        "/api/customers",
        {
            "id": "c-1",
            "email": "Ann@Shop.com",
            "phone": "+1 (613) 555-0100",
            "first_name": "Ann",
            "last_name": "Lee",
            "tags": "vip, Newsletter ,vip,,",
            "accepts_marketing": True,
            "marketing_opt_in_level": "confirmed_opt_in",
            "tax_exempt": True,
            "tax_exemptions": ["CA_STATUS_CARD_EXEMPTION"],
            "note": "line one\nline two",
            "addresses": [{"address1": "1 Main St", "city": "Ottawa", "country_code": "ca"}],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"] == "c-1"
    uuid.UUID(body["twc_customer_id"])
    assert body["admin_graphql_api_id"] == f"gid://twc/Customer/{body['twc_customer_id']}"
    assert body["email"] == "Ann@Shop.com"
    assert body["phone"] == "+16135550100"
    assert body["tags"] == "vip, Newsletter"
    assert body["state"] == "disabled"
    assert body["version"] == 1
    assert response["ETag"] == '"1"'
    assert body["currency"] == "CAD"  # the store's currency
    assert body["accepts_marketing_updated_at"] is not None
    assert body["marketing_opt_in_level"] == "confirmed_opt_in"
    assert body["orders_count"] == 0 and body["total_spent"] == 0
    assert body["last_order_id"] is None and body["last_order_name"] is None
    assert body["verified_email"] is False
    assert body["addresses"][0]["default"] is True
    assert body["addresses"][0]["country_code"] == "CA"
    assert body["default_address"] == body["addresses"][0]
    assert body["created_at"].endswith("+00:00")
    assert b'"total_spent":0.00' in response.content


def test_create_without_id_uses_twc_customer_id(api_a):
    body = api_a.post("/api/customers", {"email": "a@x.com"}).json()
    assert body["id"] == body["twc_customer_id"]


def test_create_needs_email_or_phone(api_a):
    response = api_a.post("/api/customers", {"first_name": "Nobody"})
    assert response.status_code == 400
    body = response.json()
    assert body["statusCode"] == 400
    assert body["errors"][0]["code"] == "RequiredField"
    assert body["errors"][0]["field"] == "email"


def test_create_with_phone_only(api_a):
    response = api_a.post("/api/customers", {"phone": "613-555-0101"})
    assert response.status_code == 201
    assert response.json()["email"] is None
    assert response.json()["phone"] == "+16135550101"


@pytest.mark.parametrize("email", ["ann@shop.com", "ANN@SHOP.COM", "Ann@Shop.Com"])
def test_email_collides_case_insensitively(api_a, store_a, email):
    customer_make(store=store_a, email="Ann@Shop.com")
    response = api_a.post("/api/customers", {"email": email})
    assert response.status_code == 409
    error = response.json()["errors"][0]
    assert error == {
        "code": "DuplicateField",
        "field": "email",
        "message": error["message"],
        "duplicateValue": email,
    }


def test_non_ascii_email_case_collides(api_a, store_a):
    customer_make(store=store_a, email="ANN@CAFÉ.fr")
    assert api_a.post("/api/customers", {"email": "ann@café.fr"}).status_code == 409


@pytest.mark.parametrize("phone", ["613-555-0100", "(613) 555-0100", "+1 613 555 0100", "+16135550100"])
def test_phone_collides_in_any_format(api_a, store_a, phone):
    customer_make(store=store_a, phone="+1 (613) 555-0100")
    response = api_a.post("/api/customers", {"phone": phone})
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "phone"
    assert response.json()["errors"][0]["duplicateValue"] == "+16135550100"


def test_national_phone_is_read_with_the_store_country(api_a, api_b):
    # Store A is in Canada, store B in the US; both read 604 numbers as +1.
    assert api_a.post("/api/customers", {"phone": "(604) 555-0199"}).json()["phone"] == "+16045550199"
    assert api_b.post("/api/customers", {"phone": "(212) 555-0199"}).json()["phone"] == "+12125550199"


def test_international_phone(api_a):
    response = api_a.post("/api/customers", {"phone": "+44 20 7946 0123"})
    assert response.json()["phone"] == "+442079460123"


def test_undialable_phone_is_invalid_field(api_a):
    response = api_a.post("/api/customers", {"phone": "555"})
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "code": "InvalidField",
        "field": "phone",
        "message": response.json()["errors"][0]["message"],
    }


def test_id_collides(api_a, store_a):
    customer_make(store=store_a, id="x", email="1@x.com")
    response = api_a.post("/api/customers", {"id": "x", "email": "2@x.com"})
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "id"


def test_empty_email_and_phone_never_collide(api_a):
    assert api_a.post("/api/customers", {"email": "", "phone": "613-555-0102"}).status_code == 201
    assert api_a.post("/api/customers", {"email": None, "phone": "613-555-0103"}).status_code == 201
    assert api_a.post("/api/customers", {"email": "z@x.com", "phone": ""}).status_code == 201
    assert api_a.post("/api/customers", {"email": "y@x.com", "phone": None}).status_code == 201


def test_same_email_in_two_stores_is_fine(api_b, store_a):
    customer_make(store=store_a, id="c", email="a@x.com")
    assert api_b.post("/api/customers", {"id": "c", "email": "a@x.com"}).status_code == 201


def test_unknown_field_is_invalid_field(api_a):
    response = api_a.post("/api/customers", {"email": "a@x.com", "emial": "typo"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "InvalidField"
    assert response.json()["errors"][0]["field"] == "emial"
    assert not Customer.objects.exists()


def test_read_only_fields_are_ignored(api_a):
    response = api_a.post(
        "/api/customers",
        {
            "email": "a@x.com",
            "twc_customer_id": "not-mine",
            "orders_count": 99,
            "total_spent": 1000,
            "created_at": "2001-01-01T00:00:00Z",
            "last_order_id": "5",
            "default_address": {"city": "x"},
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["twc_customer_id"] != "not-mine"
    assert body["orders_count"] == 0 and body["total_spent"] == 0
    assert not body["created_at"].startswith("2001")


@pytest.mark.parametrize(
    "field,value",
    [
        ("email", "not-an-email"),
        ("email", 42),
        ("state", "active"),
        ("accepts_marketing", "true"),
        ("marketing_opt_in_level", "double"),
        ("currency", "XXY"),
        ("tax_exemptions", ["US_EXEMPT"]),
        ("tags", 5),
        ("tags", ["x" * 256]),
        ("tags", ",".join(f"t{i}" for i in range(251))),
        ("addresses", [{"default": True}, {"default": True}]),
        ("addresses", [{"country_code": "ZZ"}]),
        ("addresses", [{"planet": "Mars"}]),
        ("accepts_marketing_updated_at", "yesterday"),
        ("id", ""),
        ("id", "x" * 256),
        ("id", 12),
        ("first_name", "a\x00b"),
        ("first_name", "x" * 256),
        ("verified_email", 1),
    ],
)
def test_invalid_values_are_invalid_field(api_a, field, value):
    payload = {"email": "valid@x.com", field: value}
    response = api_a.post("/api/customers", payload)
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert errors[0]["code"] == "InvalidField"
    assert errors[0]["field"].split(".")[0].split("[")[0] == field
    assert not Customer.objects.exists()


def test_marketing_level_is_null_without_marketing(api_a):
    body = api_a.post(
        "/api/customers",
        {"email": "a@x.com", "accepts_marketing": False, "marketing_opt_in_level": "single_opt_in"},
    ).json()
    assert body["marketing_opt_in_level"] is None
    assert body["accepts_marketing_updated_at"] is None


def test_timestamp_without_offset_is_utc(api_a):
    body = api_a.post(
        "/api/customers",
        {"email": "a@x.com", "accepts_marketing": True, "accepts_marketing_updated_at": "2024-05-01T10:00:00"},
    ).json()
    assert body["accepts_marketing_updated_at"] == "2024-05-01T10:00:00+00:00"


def test_create_may_set_state_for_migrations(api_a):
    assert api_a.post("/api/customers", {"email": "a@x.com", "state": "enabled"}).json()["state"] == ("enabled")


def test_tags_as_array(api_a):
    body = api_a.post("/api/customers", {"email": "a@x.com", "tags": [" b", "A", "a", ""]}).json()
    assert body["tags"] == "b, A"


def test_currency_is_upper_cased(api_a):
    assert api_a.post("/api/customers", {"email": "a@x.com", "currency": "eur"}).json()["currency"] == ("EUR")
