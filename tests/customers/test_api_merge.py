"""POST /api/customers/merge through HTTP: every rule of the contract's "Merging customers"."""

import pytest
from django.contrib.auth.hashers import make_password

from accounts.models import CustomerAccessToken
from customers.models import Address, Customer, Order, Wishlist
from customers.services import orders
from events.models import Event
from tests.conftest import api_client
from tests.factories import customer_make, order_make, wishlist_make

PASSWORD = "correct horse battery"


def merge(client, into="c-1", from_="c-2", **keep):
    body = {"into": into, "from": from_}
    if keep:
        body["keep"] = keep
    return client.post("/api/customers/merge", body)


def error_of(response) -> dict:
    return response.json()["errors"][0]


def with_password(customer: Customer, state: str = "enabled") -> Customer:
    Customer.objects.filter(pk=customer.pk).update(password=make_password(PASSWORD), state=state)
    return Customer.objects.get(pk=customer.pk)


def sign_in(client, email: str) -> str:
    response = client.post("/api/accounts/sign_in", {"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.content
    return response.json()["customer_access_token"]


def test_the_survivor_keeps_its_values_and_fills_what_it_lacks(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="ann@shop.com", first_name="Ann", note="", tags="vip")
    customer_make(
        store=store_a, id="c-2", phone="+16135550100", first_name="Annie", last_name="Lee", tags="VIP, wholesale"
    )
    response = merge(api_a)
    assert response.status_code == 200, response.content
    body = response.json()
    assert response["ETag"] == f'"{body["version"]}"'
    assert body["id"] == "c-1"
    assert body["email"] == "ann@shop.com"
    assert body["first_name"] == "Ann"  # its own value
    assert body["last_name"] == "Lee"  # it had none
    assert body["phone"] == "+16135550100"  # it had none
    assert body["tags"] == "vip, wholesale"  # joined, case-insensitively once
    assert body["version"] == 2
    assert api_a.get("/api/customers/c-2").status_code == 404
    assert api_a.get("/api/customers/c-1").json() == body


def test_keep_from_picks_the_merged_customers_values(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="ann@shop.com", first_name="Ann", accepts_marketing=False)
    customer_make(
        store=store_a,
        id="c-2",
        email="ann.lee@shop.com",
        first_name="Annie",
        last_name="Lee",
        accepts_marketing=True,
        marketing_opt_in_level="confirmed_opt_in",
    )
    response = merge(api_a, email="from", first_name="from", accepts_marketing="from", last_name="into")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["email"], body["first_name"], body["last_name"]) == ("ann.lee@shop.com", "Annie", "Lee")
    assert body["accepts_marketing"] is True
    assert body["marketing_opt_in_level"] == "confirmed_opt_in"
    # the merged-away customer's email is the survivor's now, and free of any other holder
    assert api_a.get("/api/customers?email=ann.lee@shop.com").json()["customers"][0]["id"] == "c-1"
    assert api_a.get("/api/customers?email=ann@shop.com").json()["customers"] == []


def test_the_merged_away_customers_keys_are_free(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="ann@shop.com")
    customer_make(store=store_a, id="c-2", email="other@shop.com", phone="+16135550100")
    assert merge(api_a).status_code == 200
    # the survivor took the phone; the email and the id "c-2" are free again
    created = api_a.post("/api/customers", {"id": "c-2", "email": "other@shop.com"})
    assert created.status_code == 201, created.content
    merged = Customer.objects.get(store=store_a, ref="c-2", merged_into__isnull=False)
    assert merged.deleted_at is not None
    assert merged.merged_into.ref == "c-1"


def test_notes_are_joined_with_a_line_break_unless_keep_picks_one(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@shop.com", note="Prefers email.")
    customer_make(store=store_a, id="c-2", email="b@shop.com", note="Called twice.")
    customer_make(store=store_a, id="c-3", email="c@shop.com", note="Third note.")
    assert merge(api_a).json()["note"] == "Prefers email.\nCalled twice."
    assert merge(api_a, from_="c-3", note="from").json()["note"] == "Third note."


def test_metadata_is_merged_the_survivor_winning_unless_keep_says_from(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@shop.com", metadata={"tier": "gold", "crm": "1"})
    customer_make(store=store_a, id="c-2", email="b@shop.com", metadata={"tier": "silver", "source": "pos"})
    customer_make(store=store_a, id="c-3", email="c@shop.com", private_metadata={"risk": "low"})
    customer_make(store=store_a, id="c-4", email="d@shop.com", metadata={"tier": "bronze"})
    assert merge(api_a).json()["metadata"] == {"tier": "gold", "crm": "1", "source": "pos"}
    body = merge(api_a, from_="c-3").json()
    assert body["private_metadata"] == {"risk": "low"}
    assert merge(api_a, from_="c-4", metadata="from").json()["metadata"]["tier"] == "bronze"


def test_orders_and_wishlists_move_and_the_figures_follow(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@shop.com")
    customer_make(store=store_a, id="c-2", email="b@shop.com")
    order_make(store=store_a, customer_id="c-1", total_price=10, created_at="2026-01-01T00:00:00Z")
    order_make(store=store_a, customer_id="c-2", name="#late", total_price=5.5, created_at="2026-06-01T00:00:00Z")
    wishlist_make(store=store_a, customer_id="c-2", items=["sku-1"])
    body = merge(api_a).json()
    assert body["orders_count"] == 2
    assert body["total_spent"] == 15.5
    assert body["last_order_name"] == "#late"
    survivor = Customer.objects.get(store=store_a, ref="c-1", deleted_at__isnull=True)
    assert set(Order.objects.values_list("customer_id", flat=True)) == {survivor.pk}
    assert set(Wishlist.objects.values_list("customer_id", flat=True)) == {survivor.pk}
    orders = api_a.get("/api/customers/c-1/orders").json()["orders"]
    assert [order["name"] for order in orders] == ["#late", orders[1]["name"]]


ADDRESS = {"address1": "1 Main St", "city": "Ottawa", "country_code": "CA", "zip": "K1A 0A1"}


def test_addresses_are_added_once_and_the_default_follows_keep(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@shop.com", addresses=[{**ADDRESS, "default": True}])
    customer_make(
        store=store_a,
        id="c-2",
        email="b@shop.com",
        addresses=[{**ADDRESS, "city": "OTTAWA "}, {"address1": "9 Side Rd", "city": "Hull", "default": True}],
    )
    customer_make(store=store_a, id="c-3", email="c@shop.com", addresses=[{"address1": "5 Elm", "default": True}])
    body = merge(api_a).json()
    assert [a["address1"] for a in body["addresses"]] == ["1 Main St", "9 Side Rd"]  # the equal one once
    assert body["default_address"]["address1"] == "1 Main St"
    assert [a["customer_id"] for a in body["addresses"]] == ["c-1", "c-1"]
    body = merge(api_a, from_="c-3", default_address="from").json()
    assert body["default_address"]["address1"] == "5 Elm"
    assert sum(a["default"] for a in body["addresses"]) == 1
    assert Address.objects.filter(customer__ref="c-1", customer__deleted_at__isnull=True).count() == 3


def test_a_survivor_without_a_default_address_takes_froms(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@shop.com")
    customer_make(store=store_a, id="c-2", email="b@shop.com", addresses=[{**ADDRESS, "default": True}])
    assert merge(api_a).json()["default_address"]["address1"] == "1 Main St"


def test_the_account_with_a_password_survives_and_froms_tokens_are_revoked(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="guest@shop.com")
    with_password(customer_make(store=store_a, id="c-2", email="ann@shop.com"))
    token = sign_in(api_a, "ann@shop.com")
    assert api_client(token).get("/api/me").status_code == 200
    body = merge(api_a, email="from").json()
    assert body["state"] == "enabled"
    assert api_client(token).get("/api/me").status_code == 401
    assert not CustomerAccessToken.objects.filter(revoked_at__isnull=True).exists()
    # the survivor signs in with the merged-away customer's password and email
    assert api_client(sign_in(api_a, "ann@shop.com")).get("/api/me").json()["id"] == "c-1"


def test_both_with_a_password_needs_keep_account(api_a, store_a):
    with_password(customer_make(store=store_a, id="c-1", email="a@shop.com"))
    with_password(customer_make(store=store_a, id="c-2", email="b@shop.com"))
    survivor_token = sign_in(api_a, "a@shop.com")
    refused = merge(api_a)
    assert refused.status_code == 409
    assert error_of(refused)["code"] == "InvalidOperation"
    assert "keep.account" in error_of(refused)["message"]
    assert Customer.objects.filter(deleted_at__isnull=True).count() == 2  # nothing changed
    response = merge(api_a, account="into")
    assert response.status_code == 200, response.content
    assert api_client(survivor_token).get("/api/me").status_code == 200  # its own account, untouched


def test_keep_account_from_replaces_the_survivors_password_and_revokes_its_tokens(api_a, store_a):
    with_password(customer_make(store=store_a, id="c-1", email="a@shop.com"))
    customer = customer_make(store=store_a, id="c-2", email="b@shop.com")
    Customer.objects.filter(pk=customer.pk).update(password=make_password("another password 1"), state="disabled")
    survivor_token = sign_in(api_a, "a@shop.com")
    body = merge(api_a, account="from").json()
    assert body["state"] == "disabled"
    assert api_client(survivor_token).get("/api/me").status_code == 401


@pytest.mark.parametrize(
    "body, code, field",
    [
        ([], "InvalidJsonInput", None),
        ({"from": "c-2"}, "RequiredField", "into"),
        ({"into": "c-1"}, "RequiredField", "from"),
        ({"into": 1, "from": "c-2"}, "InvalidField", "into"),
        ({"into": "c-1", "from": "c-2", "keep": "from"}, "InvalidField", "keep"),
        ({"into": "c-1", "from": "c-2", "keep": []}, "InvalidField", "keep"),
        ({"into": "c-1", "from": "c-2", "keep": {"tags": "from"}}, "InvalidField", "keep.tags"),
        ({"into": "c-1", "from": "c-2", "keep": {"email": "both"}}, "InvalidField", "keep.email"),
        ({"into": "c-1", "from": "c-2", "extra": True}, "InvalidField", "extra"),
    ],
)
def test_bad_bodies_are_400_and_change_nothing(api_a, store_a, body, code, field):
    customer_make(store=store_a, id="c-1", email="a@shop.com")
    customer_make(store=store_a, id="c-2", email="b@shop.com")
    response = api_a.post("/api/customers/merge", body)
    assert response.status_code == 400, response.content
    assert error_of(response)["code"] == code
    assert error_of(response).get("field") == field
    assert Customer.objects.filter(deleted_at__isnull=True).count() == 2


def test_the_same_customer_twice_is_409(api_a, store_a):
    customer = customer_make(store=store_a, id="c-1", email="a@shop.com")
    response = merge(api_a, into="c-1", from_=str(customer.twc_customer_id))
    assert response.status_code == 409
    assert error_of(response)["code"] == "InvalidOperation"


def test_a_deleted_or_unknown_customer_is_404(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@shop.com")
    customer_make(store=store_a, id="c-2", email="b@shop.com")
    assert api_a.delete("/api/customers/c-2").status_code == 200
    assert merge(api_a).status_code == 404
    assert merge(api_a, into="nobody").status_code == 404
    assert error_of(merge(api_a, into="c-2", from_="c-1"))["code"] == "ResourceNotFound"


def test_a_second_merge_of_the_merged_away_customer_is_404(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@shop.com")
    customer_make(store=store_a, id="c-2", email="b@shop.com")
    assert merge(api_a).status_code == 200
    assert merge(api_a).status_code == 404


def test_too_many_tags_or_too_long_a_note_is_refused_before_anything_changes(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@shop.com", tags=[f"a{i}" for i in range(200)], note="x" * 3000)
    customer_make(store=store_a, id="c-2", email="b@shop.com", tags=[f"b{i}" for i in range(60)])
    customer_make(store=store_a, id="c-3", email="c@shop.com", note="y" * 2500)
    order_make(store=store_a, customer_id="c-2")
    for from_, words in (("c-2", "tags"), ("c-3", "characters")):
        response = merge(api_a, from_=from_)
        assert response.status_code == 409, response.content
        assert error_of(response)["code"] == "InvalidOperation"
        assert words in error_of(response)["message"]
    assert Customer.objects.filter(deleted_at__isnull=True).count() == 3
    assert Order.objects.get().customer.ref == "c-2"
    assert merge(api_a, from_="c-3", note="into").status_code == 200


def test_one_merge_event_with_the_survivor_and_the_merged_customer(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@shop.com")
    merged = customer_make(store=store_a, id="c-2", email="b@shop.com")
    before = Event.objects.count()
    body = merge(api_a).json()
    events = list(Event.objects.order_by("seq")[before:])
    assert [event.type for event in events] == ["customers/merge"]
    assert events[0].data["customer"]["id"] == "c-1"
    assert events[0].data["customer"]["version"] == body["version"]
    assert events[0].data["merged"] == {"id": "c-2", "twc_customer_id": str(merged.twc_customer_id)}


def test_a_refused_merge_records_no_event(api_a, store_a):
    customer = customer_make(store=store_a, id="c-1", email="a@shop.com")
    before = Event.objects.count()
    merge(api_a, into="c-1", from_=str(customer.twc_customer_id))
    assert Event.objects.count() == before


def test_another_stores_customer_cannot_be_merged(api_a, api_b, store_a, store_b):
    customer_make(store=store_a, id="c-1", email="a@shop.com")
    customer_make(store=store_b, id="c-2", email="b@shop.com")
    assert merge(api_a).status_code == 404
    assert merge(api_b, into="c-2", from_="c-1").status_code == 404
    assert Customer.objects.filter(deleted_at__isnull=True).count() == 2


def test_merge_needs_the_write_scope(scoped_client, store_a):
    customer_make(store=store_a, id="c-1", email="a@shop.com")
    customer_make(store=store_a, id="c-2", email="b@shop.com")
    response = merge(scoped_client("customers:read"))
    assert response.status_code == 403
    assert error_of(response)["code"] == "InsufficientScope"


def test_an_order_whose_owner_was_merged_away_meanwhile_goes_to_the_survivor(api_a, store_a, monkeypatch):
    customer_make(store=store_a, id="c-1", email="a@shop.com")
    customer_make(store=store_a, id="c-2", email="b@shop.com")
    stale = Customer.objects.get(ref="c-2")
    # the order's owner was read (as c-2) just before a merge committed
    monkeypatch.setattr(orders, "_owner", lambda **kwargs: stale)
    assert merge(api_a).status_code == 200
    response = api_a.post("/api/orders", {"name": "#1", "email": "b@shop.com", "total_price": 3})
    assert response.status_code == 201, response.content
    assert response.json()["customer_id"] == "c-1"
    assert api_a.get("/api/customers/c-1").json()["orders_count"] == 1


def test_an_order_whose_owner_was_deleted_meanwhile_has_none(api_a, store_a, monkeypatch):
    customer_make(store=store_a, id="c-2", email="b@shop.com")
    stale = Customer.objects.get(ref="c-2")
    monkeypatch.setattr(orders, "_owner", lambda **kwargs: stale)
    assert api_a.delete("/api/customers/c-2").status_code == 200
    response = api_a.post("/api/wishlists", {"email": "b@shop.com", "items": ["sku"]})
    assert response.status_code == 201, response.content
    assert response.json()["customer_id"] is None
