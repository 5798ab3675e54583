"""POST /api/upload-customers?on_conflict=...: error, skip, update; statement counts; equal to single creates."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Address, Customer, Order
from customers.services.bulk import customers_bulk_write
from tests.factories import customer_make, order_make, wishlist_make


def upload(client, items, mode=None):
    path = "/api/upload-customers" + (f"?on_conflict={mode}" if mode else "")
    response = client.post(path, items)
    assert response.status_code == 200, response.content
    return response.json()


def test_error_mode_is_the_default(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    body = upload(api_a, [{"id": "c-2", "email": "A@X.com"}, {"id": "c-3", "email": "b@x.com"}])
    assert (body["created"], body["updated"], body["skipped"], body["failed"]) == (1, 0, 0, 1)
    assert body["results"][0]["errors"] == [
        {
            "code": "DuplicateField",
            "message": "Another customer of this store already has this email.",
            "field": "email",
            "duplicateValue": "A@X.com",
        }
    ]


def test_skip_mode_leaves_existing_customers_alone(api_a, store_a):
    existing = customer_make(store=store_a, id="c-1", email="a@x.com", note="old")
    body = upload(
        api_a, [{"id": "c-1", "email": "a@x.com", "note": "new"}, {"id": "c-2", "phone": "613-555-0100"}], "skip"
    )
    assert (body["created"], body["updated"], body["skipped"], body["failed"]) == (1, 0, 1, 0)
    assert body["results"][0] == {
        "index": 0,
        "status": "skipped",
        "id": "c-1",
        "twc_customer_id": str(existing.twc_customer_id),
    }
    again = api_a.get("/api/customers/c-1").json()
    assert (again["note"], again["version"]) == ("old", 1)


def test_update_mode_applies_the_item_as_a_put(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com", note="keep", state="enabled", addresses=[{"city": "A"}])
    items = [
        {"id": "c-1", "first_name": "Ann", "accepts_marketing": True, "addresses": [{"city": "B"}]},
        {"email": "new@x.com"},
        {"id": "c-3", "phone": "+16135550100"},
    ]
    body = upload(api_a, items, "update")
    assert [r["status"] for r in body["results"]] == ["updated", "created", "created"]
    assert (body["created"], body["updated"], body["skipped"], body["failed"]) == (2, 1, 0, 0)
    ann = api_a.get("/api/customers/c-1").json()
    assert (ann["first_name"], ann["note"], ann["state"], ann["email"]) == ("Ann", "keep", "enabled", "a@x.com")
    assert ann["accepts_marketing"] is True and ann["accepts_marketing_updated_at"] is not None
    assert ann["version"] == 2
    assert [a["city"] for a in ann["addresses"]] == ["B"]
    assert Address.objects.filter(customer__ref="c-1").count() == 1


def test_update_mode_matches_by_email_without_an_id(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    body = upload(api_a, [{"email": "A@x.com", "last_name": "Smith"}], "update")
    assert body["results"][0]["status"] == "updated" and body["results"][0]["id"] == "c-1"
    assert Customer.objects.get(ref="c-1").last_name == "Smith"


def test_update_mode_unchanged_item_keeps_the_version(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com", note="n")
    body = upload(api_a, [{"id": "c-1", "email": "a@x.com", "note": "n"}], "update")
    assert body["results"][0]["status"] == "updated"
    assert Customer.objects.get(ref="c-1").version == 1


def test_update_mode_item_matching_two_customers_fails_clearly(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    customer_make(store=store_a, id="c-2", email="b@x.com", phone="+16135550100")
    items = [{"email": "a@x.com", "phone": "+16135550100", "note": "?"}, {"id": "c-1", "email": "b@x.com"}]
    body = upload(api_a, items, "update")
    assert body["results"][0]["errors"] == [
        {
            "code": "DuplicateField",
            "message": "This item matches customer 'c-1' by email and customer 'c-2' by phone: it cannot update both.",
            "field": "phone",
            "duplicateValue": "+16135550100",
        }
    ]
    assert body["results"][1]["errors"][0]["message"] == (
        "This item matches customer 'c-1' by id and customer 'c-2' by email: it cannot update both."
    )
    assert body["failed"] == 2
    assert Customer.objects.filter(note="?").count() == 0
    assert Customer.objects.get(ref="c-1").email == "a@x.com"


def test_update_mode_keeps_the_put_rules(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com", state="enabled")
    customer_make(store=store_a, id="c-2", email="b@x.com")
    items = [{"id": "c-1", "state": "disabled"}, {"id": "c-2", "note": "x", "version": 7}, {"id": "c-4", "note": "y"}]
    body = upload(api_a, items, "update")
    assert [r["errors"][0]["code"] for r in body["results"]] == [
        "InvalidOperation",
        "ConcurrentModification",
        "RequiredField",  # a new customer still needs an email or a phone
    ]


def test_update_mode_same_customer_twice_in_one_upload(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    body = upload(api_a, [{"id": "c-1", "note": "first"}, {"email": "a@x.com", "note": "second"}], "update")
    assert [r["status"] for r in body["results"]] == ["updated", "failed"]
    assert Customer.objects.get(ref="c-1").note == "first"


def test_unknown_conflict_mode(api_a):
    response = api_a.post("/api/upload-customers?on_conflict=merge", [{"email": "a@x.com"}])
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "on_conflict"


def test_upload_assigns_unowned_orders_as_a_single_create(api_a, store_a):
    order_make(store=store_a, name="#1", email="Ann@x.com", total_price=12.5)
    wishlist_make(store=store_a, phone="613-555-0100", name="w")
    upload(api_a, [{"id": "c-1", "email": "ann@X.com"}, {"id": "c-2", "phone": "+16135550100"}])
    ann = api_a.get("/api/customers/c-1").json()
    assert (ann["orders_count"], ann["total_spent"], ann["last_order_name"]) == (1, 12.5, "#1")
    assert Order.objects.get(name="#1").customer.ref == "c-1"
    assert Customer.objects.get(ref="c-2").wishlists.count() == 1


def test_uploaded_customer_equals_single_create_field_by_field(api_a):
    item = {
        "email": " Ann@Shop.com ",
        "phone": "(613) 555-0100",
        "tags": "b, a, B",
        "tax_exemptions": ["CA_STATUS_CARD_EXEMPTION"],
        "accepts_marketing": True,
        "marketing_opt_in_level": "single_opt_in",
        "state": "invited",
        "addresses": [{"city": "X", "country_code": "ca"}, {"city": "Y", "default": True}],
    }
    api_a.post("/api/upload-customers", [item])
    uploaded = Customer.objects.get(email_key="ann@shop.com")
    uploaded_addresses = list(uploaded.addresses.values_list("city", "country_code", "is_default"))
    uploaded.delete()
    single = api_a.post("/api/customers", item).json()
    again = api_a.get(f"/api/customers/{uploaded.ref}")
    assert again.status_code == 404
    created = Customer.objects.get(email_key="ann@shop.com")
    skip = {"seq", "twc_customer_id", "ref", "created_at", "updated_at", "accepts_marketing_updated_at"}
    fields = [f.attname for f in Customer._meta.concrete_fields if f.attname not in skip]
    assert {f: getattr(uploaded, f) for f in fields} == {f: getattr(created, f) for f in fields}
    assert uploaded.ref == str(uploaded.twc_customer_id) and single["id"] == single["twc_customer_id"]
    assert uploaded_addresses == list(created.addresses.values_list("city", "country_code", "is_default"))


def upload_counting_statements(client, items, mode="error"):
    with CaptureQueriesContext(connection) as queries:
        body = upload(client, items, mode)
    return len(queries), body


def test_statement_count_is_constant_for_1_100_and_10000_items(api_a, settings):
    settings.RATE_LIMIT_ENABLED = False  # the limiter's statements are counted in tests/api/test_ratelimit.py

    def batch(start, n):
        return [
            {"id": f"s-{i}", "email": f"s{i}@x.com", "phone": f"+1613555{i:04d}", "addresses": [{"city": "C"}]}
            for i in range(start, start + n)
        ]

    counts = []
    for start, n in ((0, 1), (1, 100), (101, 9899)):
        count, body = upload_counting_statements(api_a, batch(start, n))
        assert body["created"] == n
        counts.append(count)
    assert counts[0] == counts[1] == counts[2]
    assert counts[0] <= 12
    assert Customer.objects.count() == 10_000 and Address.objects.count() == 10_000

    update_counts = []
    for start, n in ((0, 1), (1, 100), (101, 2000)):
        items = [{"id": f"s-{i}", "note": "updated", "addresses": [{"city": "D"}]} for i in range(start, start + n)]
        count, body = upload_counting_statements(api_a, items, "update")
        assert body["updated"] == n
        update_counts.append(count)
    assert update_counts[0] == update_counts[1] == update_counts[2]
    assert Customer.objects.filter(note="updated", version=2).count() == 2101


def test_dry_run_writes_nothing(store_a):
    report = customers_bulk_write(store=store_a, items=[{"email": "a@x.com"}, {"email": "bad"}], dry_run=True)
    assert (report["created"], report["failed"]) == (1, 1)
    assert not Customer.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_upload_loses_nothing_and_fails_only_collisions(store_a, store_b):
    """A batch whose keys another writer takes between our lookup and our write (PostgreSQL race)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run by CI's PostgreSQL pass)")
    import threading

    errors = []
    reports = {}

    def bulk_write_and_report(name, items):
        try:
            reports[name] = customers_bulk_write(store=store_a, items=items)
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)
        finally:
            connection.close()

    first = [{"id": f"a-{i}", "email": f"a{i}@x.com"} for i in range(2000)]
    second = [{"id": f"b-{i}", "email": f"a{i}@x.com" if i % 100 == 0 else f"b{i}@x.com"} for i in range(2000)]
    threads = [
        threading.Thread(target=bulk_write_and_report, args=("a", first)),
        threading.Thread(target=bulk_write_and_report, args=("b", second)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    created = reports["a"]["created"] + reports["b"]["created"]
    failed = reports["a"]["failed"] + reports["b"]["failed"]
    assert (created, failed) == (3980, 20)
    acknowledged = {r["id"] for report in reports.values() for r in report["results"] if r["status"] == "created"}
    assert set(Customer.objects.filter(store=store_a).values_list("ref", flat=True)) == acknowledged


def key_lookups(queries) -> int:
    """Statements reading customers by their keys (the bulk write's lookup)."""
    return sum("FROM customers_customer WHERE store_id" in q["sql"] for q in queries.captured_queries)


def test_expect_new_writes_without_a_lookup(store_a):
    items = [{"id": f"n-{i}", "email": f"n{i}@x.com"} for i in range(3)]
    with CaptureQueriesContext(connection) as queries:
        report = customers_bulk_write(store=store_a, items=items, expect_new=True)
    assert report["created"] == 3
    assert key_lookups(queries) == 0
    with CaptureQueriesContext(connection) as queries:
        customers_bulk_write(store=store_a, items=[{"id": "n-9", "email": "n9@x.com"}])
    assert key_lookups(queries) == 1  # the default: look first


@pytest.mark.parametrize("mode", ["error", "skip"])
def test_expect_new_meeting_existing_customers_ends_as_the_lookup_would(store_a, mode):
    customers_bulk_write(
        store=store_a, items=[{"id": "e-1", "email": "e1@x.com"}, {"id": "e-2", "phone": "+16135550102"}]
    )
    items = [
        {"id": "e-3", "email": "e3@x.com"},
        {"id": "e-1", "email": "e1@x.com"},  # an existing id and email
        {"id": "e-4", "phone": "613-555-0102"},  # an existing phone
        {"id": "e-5", "email": "e5@x.com"},
    ]
    with CaptureQueriesContext(connection) as queries:
        report = customers_bulk_write(store=store_a, items=items, on_conflict=mode, expect_new=True)
    assert key_lookups(queries) == 1  # the database refused the write; then the lookup
    statuses = [r["status"] for r in report["results"]]
    if mode == "error":
        assert statuses == ["created", "failed", "failed", "created"]
        assert [e["field"] for r in report["results"][1:3] for e in r["errors"]] == ["id", "phone"]
    else:
        assert statuses == ["created", "skipped", "skipped", "created"]
    assert set(Customer.objects.filter(store=store_a).values_list("ref", flat=True)) == {"e-1", "e-2", "e-3", "e-5"}


def test_expect_new_is_ignored_where_the_lookup_decides(store_a):
    customers_bulk_write(store=store_a, items=[{"id": "u-1", "email": "u1@x.com"}])
    with CaptureQueriesContext(connection) as queries:
        updated = customers_bulk_write(
            store=store_a, items=[{"id": "u-1", "note": "n"}], on_conflict="update", expect_new=True
        )
        dry = customers_bulk_write(
            store=store_a, items=[{"id": "u-1", "email": "x@x.com"}], dry_run=True, expect_new=True
        )
    assert updated["updated"] == 1 and Customer.objects.get(ref="u-1").note == "n"
    assert dry["results"][0]["errors"][0]["code"] == "DuplicateField"
    assert key_lookups(queries) == 2


@pytest.mark.parametrize("mode", ["error", "skip"])
def test_an_item_not_written_takes_no_key_from_later_items(api_a, store_a, mode):
    """As if sent one by one: the first item is refused (or skipped), so the second gets its phone."""
    customer_make(store=store_a, id="c-1", email="old@x.com")
    items = [
        {"id": "u-1", "email": "old@x.com", "phone": "+16135550100"},
        {"id": "u-2", "email": "new@x.com", "phone": "+16135550100"},
        {"id": "u-3", "email": "other@x.com", "phone": "+16135550100"},  # u-2 was created: this one collides
    ]
    body = upload(api_a, items, mode)
    assert [r["status"] for r in body["results"]] == ["failed" if mode == "error" else "skipped", "created", "failed"]
    assert body["results"][2]["errors"][0]["field"] == "phone"
    assert api_a.get("/api/customers/u-2").json()["phone"] == "+16135550100"


def test_upload_gives_each_new_customer_its_own_orders_and_wishlists(api_a, store_a, store_b):
    for n in range(3):
        for k in range(2):
            order_make(store=store_a, name=f"#{n}-{k}", email=f"p{n}@x.com", total_price=n + 1)
        wishlist_make(store=store_a, phone=f"+1613555010{n}", name=f"w{n}")
    order_make(store=store_b, name="#b", email="p0@x.com", total_price=9)
    upload(api_a, [{"id": f"p-{n}", "email": f"p{n}@x.com", "phone": f"+1613555010{n}"} for n in range(3)])
    for n in range(3):
        body = api_a.get(f"/api/customers/p-{n}").json()
        assert (body["orders_count"], body["total_spent"]) == (2, 2.0 * (n + 1))
        assert sorted(Order.objects.filter(customer__ref=f"p-{n}").values_list("name", flat=True)) == [
            f"#{n}-0",
            f"#{n}-1",
        ]
        assert Customer.objects.get(ref=f"p-{n}").wishlists.get().name == f"w{n}"
    assert Order.objects.get(name="#b").customer is None  # store B's order stays B's
