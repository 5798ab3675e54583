"""Look-alike email addresses: an address that NFKC changes, or that holds an invisible, control,
format or symbol character, is `400 InvalidField` wherever an email enters (create, update, upload,
import, orders, wishlists, the `?email=` filter, the admin); internationalised addresses in NFC are
accepted, and the email key only folds case (it never merges two accepted addresses)."""

import json
import sys
import time
import unicodedata
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from customers.emails import email_key, is_written_one_way
from customers.models import Customer, Order, Wishlist
from tests.admin.conftest import logged_in
from tests.admin.test_customer_admin_writes import add_data
from tests.factories import customer_make, order_make, staff_make

# (what it imitates, the look-alike)
LOOKALIKES = [
    ("long s (NFKC: s)", "ſara@shop.com"),
    ("Kelvin sign (NFKC: K)", "\u212aim@shop.com"),
    ("fullwidth letters", "ｓａｒａ@shop.com"),
    ("ligature fi", "ﬁona@shop.com"),
    ("superscript two", "sara²@shop.com"),
    ("decomposed é (NFD)", unicodedata.normalize("NFD", "josé@shop.com")),
    ("zero-width space in the local part", "sa\u200bra@shop.com"),
    ("zero-width space in the domain", "sara@sh\u200bop.com"),
    ("zero-width space at the end", "sara@shop.com\u200b"),
    ("zero-width joiner", "sa\u200dra@shop.com"),
    ("soft hyphen in the local part", "sa\u00adra@shop.com"),
    ("soft hyphen in the domain", "sara@sh\u00adop.com"),
    ("byte order mark in front", "\ufeffsara@shop.com"),
    ("right-to-left override", "\u202emoc.pohs@aras"),
    ("left-to-right isolate", "\u2066sara@shop.com"),
    ("combining grapheme joiner", "sa\u034fra@shop.com"),
    ("variation selector", "sara\ufe0f@shop.com"),
    ("ideographic full stop (a dot to IDNA)", "sara@shop\u3002com"),
    ("line separator", "sa\u2028ra@shop.com"),
    ("no-break space", "sa\u00a0ra@shop.com"),
    ("control character in a quoted local part", '"sa\x01ra"@shop.com'),
    ("emoji", "\U0001f600@shop.com"),
]
INTERNATIONAL = ["josé@exämple.de", "用户@例子.广告", "Δοκιμή@παράδειγμα.δοκιμή", "हिन्दी@उदाहरण.भारत", "İlkay@örnek.tr"]
IDS = [name for name, _ in LOOKALIKES]


def refused_on_email(response) -> bool:
    body = response.json()
    return response.status_code == 400 and [(e["code"], e.get("field")) for e in body["errors"]] == [
        ("InvalidField", "email")
    ]


@pytest.mark.parametrize("lookalike", [email for _, email in LOOKALIKES], ids=IDS)
def test_a_lookalike_is_refused_by_create_update_orders_wishlists_and_the_filter(api_a, store_a, lookalike):
    customer_make(store=store_a, id="c-1", email="other@shop.com")
    assert refused_on_email(api_a.post("/api/customers", {"id": "c-2", "email": lookalike}))
    assert refused_on_email(api_a.put("/api/customers", {"id": "c-1", "email": lookalike}))
    assert refused_on_email(api_a.patch("/api/customers/c-1", {"email": lookalike}))
    assert refused_on_email(api_a.post("/api/orders", {"name": "#1", "email": lookalike, "total_price": 1}))
    assert refused_on_email(api_a.post("/api/wishlists", {"email": lookalike, "items": []}))
    assert refused_on_email(api_a.get("/api/customers", {"email": lookalike}))
    assert refused_on_email(api_a.get("/api/customers/count", {"email": lookalike}))
    assert Customer.objects.count() == 1 and Order.objects.count() == Wishlist.objects.count() == 0


def test_a_lookalike_fails_alone_in_an_upload_and_in_an_import(api_a, store_a, tmp_path):
    items = [{"id": f"u-{i}", "email": email} for i, (_, email) in enumerate(LOOKALIKES)]
    items.append({"id": "u-good", "email": "good@shop.com"})
    body = api_a.post("/api/upload-customers", items).json()
    failed = [r for r in body["results"] if r["status"] == "failed"]
    assert (body["created"], len(failed)) == (1, len(LOOKALIKES))
    assert all([(e["code"], e["field"]) for e in r["errors"]] == [("InvalidField", "email")] for r in failed)

    path = tmp_path / "customers.json"
    path.write_text(json.dumps([{"id": f"i-{i}", "email": email} for i, (_, email) in enumerate(LOOKALIKES)]))
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as rejected:  # rows rejected: the command's exit status says so
        call_command("import_customers", str(path), "--store", "Store A", "--no-progress", stdout=out, stderr=err)
    assert rejected.value.returncode == 2, out.getvalue() + err.getvalue()
    assert f"created: 0, updated: 0, skipped: 0, failed: {len(LOOKALIKES)}" in out.getvalue()
    assert Customer.objects.filter(store=store_a).count() == 1
    entries = "create, update, orders, wishlists, filters, upload, import"
    print(f"\nlook-alikes: {len(LOOKALIKES)} kinds refused by {entries}")


def test_the_long_s_no_longer_takes_over_the_orders_of_the_address_it_imitates(api_a, store_a):
    order_make(store=store_a, name="#1", email="sara@shop.com", total_price=10)
    assert refused_on_email(api_a.post("/api/customers", {"id": "fake", "email": "ſara@shop.com"}))
    assert Order.objects.get(name="#1").customer is None
    created = api_a.post("/api/customers", {"id": "sara", "email": "Sara@Shop.com"})
    assert created.status_code == 201 and created.json()["orders_count"] == 1
    assert api_a.get("/api/customers", {"email": "SARA@shop.com"}).json()["customers"][0]["id"] == "sara"


def test_international_addresses_in_nfc_are_accepted_and_match_their_case_variants(api_a):
    for i, email in enumerate(INTERNATIONAL):
        response = api_a.post("/api/customers", {"id": f"c-{i}", "email": email})
        assert response.status_code == 201, response.content
        assert response.json()["email"] == email
        found = api_a.get("/api/customers", {"email": email.upper()}).json()["customers"]
        assert [c["id"] for c in found] == [f"c-{i}"]
    duplicate = api_a.post("/api/customers", {"id": "dup", "email": "ΔΟΚΙΜΉ@ΠΑΡΆΔΕΙΓΜΑ.ΔΟΚΙΜΉ"})
    assert duplicate.status_code == 409 and duplicate.json()["errors"][0]["code"] == "DuplicateField"


def test_straße_and_strasse_are_two_addresses(api_a):
    # IDNA 2008 (DENIC since 2010) registers straße.de and strasse.de as different domains.
    assert api_a.post("/api/customers", {"id": "a", "email": "straße@straße.de"}).status_code == 201
    assert api_a.post("/api/customers", {"id": "b", "email": "strasse@strasse.de"}).status_code == 201
    assert api_a.post("/api/customers", {"id": "c", "email": "STRAẞE@STRAẞE.DE"}).status_code == 409
    assert [c["id"] for c in api_a.get("/api/customers", {"email": "STRASSE@strasse.de"}).json()["customers"]] == ["b"]


def test_q_does_not_find_an_ascii_email_by_its_lookalike(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="sara@shop.com", first_name="Ann")
    assert [c["id"] for c in api_a.get("/api/customers", {"q": "sara@shop"}).json()["customers"]] == ["c-1"]
    assert api_a.get("/api/customers", {"q": "ſara@shop"}).json()["customers"] == []


def test_the_admin_refuses_a_lookalike_on_its_field(store_a):
    admin_a = logged_in(staff_make(store=store_a, username="staff-a"))
    response = admin_a.post("/admin/customers/customer/add/", add_data(store_a, email="ſara@shop.com"))
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["email"]
    assert not Customer.objects.filter(store=store_a).exists()


def test_no_accepted_non_ascii_character_keys_onto_ascii():
    """Every code point, alone in a local part: accepted ones never key into ASCII (as ſ and the
    Kelvin sign did under casefold), and ASCII keys only by lowering."""
    started = time.perf_counter()
    accepted = casefold_differs = 0
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        email = f"a{char}@x.com"
        if not is_written_one_way(email):
            continue
        accepted += 1
        key = email_key(email)
        if char.isascii():
            assert key == email.lower()
        else:
            assert not key.isascii(), (hex(code), key)
            assert key == email.lower() and email_key(key) == key
            casefold_differs += email.casefold() != key
    elapsed = time.perf_counter() - started
    print(
        f"\nlook-alikes: {accepted} code points accepted in an address, none keys onto ASCII; casefold would "
        f"have keyed {casefold_differs} of them differently from lower() ({elapsed:.1f} s)"
    )


def test_the_migration_rekeys_non_ascii_rows_only(transactional_db, store_a):
    customer_make(store=store_a, id="a", email="Ann@Shop.com")
    customer_make(store=store_a, id="b", email="Straße@x.de")
    order_make(store=store_a, name="#1", email="STRAẞE@x.de", total_price=1)
    # As the casefold key stored them before.
    Customer.objects.filter(ref="b").update(email_key="strasse@x.de")
    Order.objects.filter(name="#1").update(email_key="strasse@x.de")
    executor = MigrationExecutor(connection)
    executor.migrate([("customers", "0004_order_store_customer_index")])
    try:
        executor.loader.build_graph()
        executor.migrate([("customers", "0005_email_key_lower")])
        keys = dict(Customer.objects.values_list("ref", "email_key"))
        assert keys == {"a": "ann@shop.com", "b": "straße@x.de"}
        assert Order.objects.get(name="#1").email_key == "straße@x.de"
    finally:
        # Back to the latest schema: the migrations undone above belong to the tests that follow.
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
