"""PUT /api/customers: the body names the customer; fields it leaves out keep their values."""

import pytest

from tests.factories import customer_make


def test_put_changes_only_what_it_sends(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com", last_name="Keep", tags="a")
    response = api_a.put("/api/customers", {"id": "c-1", "note": "vip caller"})
    assert response.status_code == 200
    body = response.json()
    assert body["note"] == "vip caller"
    assert body["last_name"] == "Keep"
    assert body["tags"] == "a"
    assert body["version"] == 2
    assert response["ETag"] == '"2"'
    assert api_a.get("/api/customers/c-1").json() == body


def test_put_by_twc_customer_id(api_a, store_a):
    customer = customer_make(store=store_a, id="c-1", email="a@x.com")
    response = api_a.put("/api/customers", {"twc_customer_id": str(customer.twc_customer_id), "first_name": "Zed"})
    assert response.status_code == 200
    assert response.json()["first_name"] == "Zed"


def test_put_of_the_representation_as_read_changes_nothing(api_a, store_a):
    customer_make(
        store=store_a,
        id="c-1",
        email="a@x.com",
        phone="613-555-0100",
        tags="x, y",
        accepts_marketing=True,
        marketing_opt_in_level="single_opt_in",
        addresses=[{"city": "Ottawa"}, {"city": "Hull"}],
    )
    read = api_a.get("/api/customers/c-1").json()
    response = api_a.put("/api/customers", read)
    assert response.status_code == 200, response.content
    assert response.json() == read
    assert response.json()["version"] == 1


def test_put_without_id_is_required_field(api_a):
    response = api_a.put("/api/customers", {"note": "x"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "RequiredField"
    assert response.json()["errors"][0]["field"] == "id"


def test_put_unknown_customer_is_not_found(api_a):
    assert api_a.put("/api/customers", {"id": "nope", "note": "x"}).status_code == 404


def test_put_cannot_touch_other_store(api_a, api_b, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    response = api_b.put("/api/customers", {"id": "c-1", "note": "hacked"})
    assert response.status_code == 404
    assert api_a.get("/api/customers/c-1").json()["note"] == ""


def test_version_match_applies_and_mismatch_conflicts(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    assert api_a.put("/api/customers", {"id": "c-1", "note": "1", "version": 1}).status_code == 200
    stale = api_a.put("/api/customers", {"id": "c-1", "note": "2", "version": 1})
    assert stale.status_code == 409
    assert stale.json()["errors"][0]["code"] == "ConcurrentModification"
    assert api_a.get("/api/customers/c-1").json()["note"] == "1"


def test_if_match_header(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    ok = api_a.put("/api/customers", {"id": "c-1", "note": "1"}, HTTP_IF_MATCH='"1"')
    assert ok.status_code == 200
    stale = api_a.put("/api/customers", {"id": "c-1", "note": "2"}, HTTP_IF_MATCH='"1"')
    assert stale.status_code == 409
    assert stale.json()["errors"][0]["code"] == "ConcurrentModification"


def test_update_email_to_a_taken_one_is_duplicate(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    customer_make(store=store_a, id="c-2", email="b@x.com")
    response = api_a.put("/api/customers", {"id": "c-2", "email": "A@x.com"})
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "email"
    assert api_a.get("/api/customers/c-2").json()["email"] == "b@x.com"


def test_sending_the_current_state_is_fine_another_is_invalid_operation(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    assert api_a.put("/api/customers", {"id": "c-1", "state": "disabled"}).status_code == 200
    response = api_a.put("/api/customers", {"id": "c-1", "state": "enabled"})
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "InvalidOperation"


def test_marketing_change_stamps_the_time(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    body = api_a.put("/api/customers", {"id": "c-1", "accepts_marketing": True}).json()
    assert body["accepts_marketing_updated_at"] is not None
    body = api_a.put(
        "/api/customers",
        {"id": "c-1", "accepts_marketing": False, "accepts_marketing_updated_at": "2020-01-01T00:00:00+02:00"},
    ).json()
    assert body["accepts_marketing_updated_at"] == "2019-12-31T22:00:00+00:00"


def test_marketing_off_clears_the_level(api_a, store_a):
    customer_make(
        store=store_a, id="c-1", email="a@x.com", accepts_marketing=True, marketing_opt_in_level="single_opt_in"
    )
    body = api_a.put("/api/customers", {"id": "c-1", "accepts_marketing": False}).json()
    assert body["marketing_opt_in_level"] is None


def test_addresses_are_replaced_and_keep_their_ids(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com", addresses=[{"city": "A"}, {"city": "B"}])
    kept = api_a.get("/api/customers/c-1").json()["addresses"][1]
    kept["default"] = True
    body = api_a.put("/api/customers", {"id": "c-1", "addresses": [kept, {"city": "C"}]}).json()
    assert [a["city"] for a in body["addresses"]] == ["B", "C"]
    assert body["addresses"][0]["id"] == kept["id"]
    assert body["default_address"]["city"] == "B"
    assert api_a.get("/api/customers/c-1").json()["addresses"] == body["addresses"]


@pytest.mark.parametrize("payload", [[], "text", 3])
def test_put_with_a_non_object_body(api_a, payload):
    response = api_a.put("/api/customers", payload)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "InvalidJsonInput"
