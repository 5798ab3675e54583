"""metadata and private_metadata: the rules, every write path, the filters, /api/me, the import, the admin."""

import json

import pytest
from django.core.management import call_command
from django.db import connection

from customers.models import Customer
from events.models import Event
from tests.accounts.test_sign_in import signed_in
from tests.admin.conftest import logged_in
from tests.admin.test_customer_admin_actions import CHANGELIST, form_data
from tests.customers.test_import_command import write_csv
from tests.factories import customer_make, staff_make


def create(api, **fields):
    response = api.post("/api/customers", {"email": "ann@x.com", **fields})
    return response


def errors(response):
    assert response.status_code == 400, response.content
    return [(e["code"], e.get("field")) for e in response.json()["errors"]]


def test_create_sets_both_and_every_representation_shows_them(api_a, store_a):
    response = create(api_a, id="c-1", metadata={"loyalty.tier": "gold", "a": ""}, private_metadata={"crm-id": "9"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["metadata"] == {"loyalty.tier": "gold", "a": ""}
    assert body["private_metadata"] == {"crm-id": "9"}
    assert api_a.get("/api/customers/c-1").json()["private_metadata"] == {"crm-id": "9"}
    assert api_a.get("/api/customers").json()["customers"][0]["metadata"] == {"loyalty.tier": "gold", "a": ""}
    assert api_a.get("/api/customers?fields=id,private_metadata").json()["customers"][0] == {
        "id": "c-1",
        "private_metadata": {"crm-id": "9"},
    }
    event = Event.objects.filter(store=store_a).latest("seq")
    assert event.data["customer"]["metadata"] == {"loyalty.tier": "gold", "a": ""}


def test_defaults_are_empty_objects_and_null_on_create_is_no_key(api_a):
    body = create(api_a, metadata={"gone": None}).json()
    assert body["metadata"] == {} and body["private_metadata"] == {}
    assert create(api_a, email="b@x.com", metadata=None).json()["metadata"] == {}


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ([], "metadata"),
        ("text", "metadata"),
        ({"": "x"}, "metadata."),
        ({"a b": "x"}, "metadata.a b"),
        ({"k" * 65: "x"}, "metadata." + "k" * 65),
        ({"é": "x"}, "metadata.é"),
        ({"n": 1}, "metadata.n"),
        ({"n": {"x": "y"}}, "metadata.n"),
        ({"n": "x" * 4097}, "metadata.n"),
        ({f"k{i}": "v" for i in range(101)}, "metadata"),
    ],
)
def test_bad_metadata_is_invalid_field_naming_the_key(api_a, value, field):
    assert errors(create(api_a, metadata=value)) == [("InvalidField", field)]
    assert errors(create(api_a, private_metadata=value)) == [("InvalidField", "private_" + field)]


def test_the_bounds_themselves_are_accepted(api_a):
    full = {f"k{i}": "v" for i in range(98)} | {"k" * 64: "x" * 4096, "A-Z_a.z-0": "y"}
    response = create(api_a, metadata=full)
    assert response.status_code == 201, response.content
    assert Customer.objects.get().metadata == full


@pytest.mark.parametrize("method", ["put", "patch"])
def test_an_update_merges_key_by_key_and_null_removes(api_a, store_a, method):
    customer_make(
        store=store_a, id="c-1", email="ann@x.com", metadata={"a": "1", "b": "2"}, private_metadata={"p": "1"}
    )
    response = getattr(api_a, method)("/api/customers/c-1", {"metadata": {"b": None, "c": "3", "a": "one"}})
    assert response.status_code == 200, response.content
    assert response.json()["metadata"] == {"a": "one", "c": "3"}
    assert response.json()["private_metadata"] == {"p": "1"}  # not sent: kept
    version = response.json()["version"]
    same = getattr(api_a, method)("/api/customers/c-1", {"metadata": {"a": "one", "zzz": None}})
    assert same.json()["version"] == version  # nothing changed: no new version
    assert getattr(api_a, method)("/api/customers/c-1", {"metadata": None}).json()["metadata"] == {"a": "one", "c": "3"}


def test_an_update_past_100_keys_is_refused(api_a, store_a):
    customer_make(store=store_a, id="c-1", email="ann@x.com", metadata={f"k{i}": "v" for i in range(100)})
    assert errors(api_a.patch("/api/customers/c-1", {"metadata": {"one-more": "v"}})) == [("InvalidField", "metadata")]
    swapped = api_a.patch("/api/customers/c-1", {"metadata": {"k0": None, "one-more": "v"}})
    assert swapped.status_code == 200 and len(swapped.json()["metadata"]) == 100


@pytest.mark.parametrize("mode", ["error", "skip", "update"])
def test_upload_creates_with_metadata_in_every_mode(api_a, store_a, mode):
    customer_make(store=store_a, id="c-1", email="ann@x.com", metadata={"a": "1", "b": "2"})
    items = [
        {"id": "c-1", "email": "ann@x.com", "metadata": {"b": None, "c": "3"}},
        {"id": "c-2", "email": "bob@x.com", "metadata": {"x": "y", "gone": None}, "private_metadata": {"p": "q"}},
        {"id": "c-3", "email": "cy@x.com", "metadata": {"bad key": "v"}},
    ]
    body = api_a.post(f"/api/upload-customers?on_conflict={mode}", items).json()
    assert body["results"][2]["errors"][0]["field"] == "metadata.bad key"
    new = Customer.objects.get(store=store_a, ref="c-2")
    assert (new.metadata, new.private_metadata) == ({"x": "y"}, {"p": "q"})
    existing = Customer.objects.get(store=store_a, ref="c-1")
    assert existing.metadata == ({"a": "1", "c": "3"} if mode == "update" else {"a": "1", "b": "2"})
    assert api_a.get("/api/customers/c-2").json()["metadata"] == {"x": "y"}


def test_filters_on_exact_values_on_the_list_and_the_count(api_a, store_a, store_b):
    customer_make(store=store_a, id="gold", email="g@x.com", metadata={"tier": "gold", "ns.k": "1"})
    customer_make(store=store_a, id="gold2", email="g2@x.com", metadata={"tier": "gold"}, private_metadata={"crm": "7"})
    customer_make(store=store_a, id="silver", email="s@x.com", metadata={"tier": "silver", "other": "gold"})
    customer_make(store=store_a, id="goldish", email="gi@x.com", metadata={"tier": "Gold"})
    customer_make(store=store_b, id="b-gold", email="b@x.com", metadata={"tier": "gold"})

    def refs(query):
        response = api_a.get(f"/api/customers?{query}")
        assert response.status_code == 200, response.content
        count = api_a.get(f"/api/customers/count?{query}").json()["count"]
        found = sorted(c["id"] for c in response.json()["customers"])
        assert count == len(found)
        return found

    assert refs("metadata.tier=gold") == ["gold", "gold2"]
    assert refs("metadata.tier=gold&metadata.ns.k=1") == ["gold"]
    assert refs("metadata.tier=gol") == []
    assert refs("private_metadata.crm=7") == ["gold2"]
    assert refs("metadata.crm=7") == []
    assert refs("metadata.tier=gold&email=g2@x.com") == ["gold2"]
    assert refs("metadata.missing=") == []
    assert errors(api_a.get("/api/customers?metadata.bad%20key=x")) == [("InvalidField", "metadata.bad key")]
    assert errors(api_a.get("/api/customers/count?metadatas.tier=x")) == [("InvalidField", "metadatas.tier")]
    assert errors(api_a.get("/api/customers?metadata.=x")) == [("InvalidField", "metadata.")]


@pytest.mark.postgres
def test_the_filter_is_a_containment_the_gin_index_serves(api_a, store_a):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run by CI's PostgreSQL pass)")
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'customers_customer_metadata'")
        (indexdef,) = cursor.fetchone()
    assert "gin" in indexdef and "jsonb_path_ops" in indexdef
    query = str(Customer.objects.filter(metadata__contains={"tier": "gold"}).query)
    assert "@>" in query
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT seq FROM customers_customer WHERE metadata @> %s::jsonb", [json.dumps({"tier": "gold"})]
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "customers_customer_metadata" in plan


def test_me_shows_metadata_but_never_private_metadata(api_a, store_a):
    customer, me, _ = signed_in(api_a, store_a, email="ann@shop.com", metadata={"a": "1"}, private_metadata={"p": "x"})
    body = me.get("/api/me").json()
    assert body["metadata"] == {"a": "1"} and "private_metadata" not in body
    refused = me.patch("/api/me", {"metadata": {"a": "2"}})
    assert refused.status_code == 400
    assert "private_metadata" not in json.dumps(me.patch("/api/me", {"first_name": "Ann"}).json())
    assert Customer.objects.get(pk=customer.pk).metadata == {"a": "1"}


def test_import_reads_metadata_columns_and_shopify_metafields(store_a, tmp_path):
    ours = tmp_path / "ours.csv"
    write_csv(
        ours,
        [
            ["id", "email", "metadata.tier", "private_metadata.crm", "metadata"],
            ["c-1", "a@x.com", "gold", "7", ""],
            ["c-2", "b@x.com", "", "", '{"json": "yes"}'],
        ],
    )
    call_command("import_customers", str(ours), "--store", "Store A", "--no-progress", stdout=open("/dev/null", "w"))
    one, two = Customer.objects.filter(store=store_a).order_by("ref")
    assert (one.metadata, one.private_metadata) == ({"tier": "gold"}, {"crm": "7"})
    assert (two.metadata, two.private_metadata) == ({"json": "yes"}, {})

    shopify = tmp_path / "shopify.csv"
    write_csv(
        shopify,
        [
            ["First Name", "Last Name", "Email", "Metafield: custom.birthday [date]", "Metafield: bad key [x]"],
            ["Cy", "D", "cy@x.com", "2000-01-31", "ignored"],
        ],
    )
    from io import StringIO

    out = StringIO()
    call_command("import_customers", str(shopify), "--store", "Store A", "--no-progress", stdout=out)
    assert Customer.objects.get(store=store_a, email="cy@x.com").metadata == {"custom.birthday": "2000-01-31"}
    summary = out.getvalue()
    assert "Metafield: bad key [x]" in summary and "custom.birthday" not in summary


def test_the_admin_edits_metadata_through_the_services(store_a, store_b):
    admin = logged_in(staff_make(store=store_a, username="staff-md"))
    customer = customer_make(store=store_a, id="c-1", email="ann@x.com", metadata={"a": "1", "b": "2"})
    data = form_data(customer, metadata=json.dumps({"a": "one", "c": "3"}))
    response = admin.post(f"{CHANGELIST}{customer.pk}/change/", data)
    assert response.status_code == 302, response.content
    saved = Customer.objects.get(pk=customer.pk)
    assert saved.metadata == {"a": "one", "c": "3"}  # the box's removed key is removed
    assert saved.version == customer.version + 1
    refused = admin.post(f"{CHANGELIST}{customer.pk}/change/", form_data(saved, metadata=json.dumps({"bad key": "x"})))
    assert refused.status_code == 200
    assert "metadata" in refused.context["adminform"].form.errors


def test_store_b_neither_filters_on_nor_writes_store_as_metadata(api_a, api_b, store_a, store_b):
    customer_make(store=store_a, id="c-1", email="ann@x.com", metadata={"secret": "a-only"})
    assert api_b.get("/api/customers?metadata.secret=a-only").json()["customers"] == []
    assert api_b.get("/api/customers/count?metadata.secret=a-only").json()["count"] == 0
    assert api_b.patch("/api/customers/c-1", {"metadata": {"secret": None}}).status_code == 404
    assert Customer.objects.get(store=store_a).metadata == {"secret": "a-only"}
