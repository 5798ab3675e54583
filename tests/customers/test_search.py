"""GET /api/customers/search: every operator and field of the query language, the errors with
their positions, paging newest first, and a fuzz test (any query is 200 or 400, never 5xx).

Store B always has twins of store A's customers that must never show in A's answers.
"""

import datetime as dt
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import Customer
from tests.factories import customer_make, order_make

SEARCH = "/api/customers/search?query="


@pytest.fixture
def people(store_a, store_b):
    """Five customers of store A (CA), created a day apart, and their twins in store B."""
    rows = [
        dict(
            id="c-1",
            email="ann.marie@shop.com",
            phone="613-555-0101",
            first_name="Ann Marie",
            last_name="Lee",
            tags="vip, Gold",
            addresses=[{"city": "Ottawa", "province_code": "ON", "country_code": "CA", "default": True}],
        ),
        dict(id="c-2", email="bo@shop.com", phone="+1 613 555 0102", first_name="Bo", tags="gold", state="enabled"),
        dict(
            id="c-3",
            email="cy@other.org",
            first_name="Cy",
            last_name="Annan",
            accepts_marketing=True,
            tags="silver",
            addresses=[{"city": "Boston", "province": "Massachusetts", "country": "United States", "default": True}],
        ),
        dict(id="c-4", phone="+44 20 7946 0123", first_name="Dee", tags="vip gold, x"),
        dict(id="x-5", email="ed@shop.com", first_name="Ed", state="invited", tags="Gold-plus"),
    ]
    start = dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)
    for number, row in enumerate(rows):
        for store in (store_a, store_b):
            customer = customer_make(store=store, **row)
            moment = start + dt.timedelta(days=number)
            Customer.objects.filter(pk=customer.pk).update(created_at=moment, updated_at=moment)
    order_make(store=store_a, customer_id="c-2", total_price=10.5)
    order_make(store=store_a, customer_id="c-2", total_price=20)
    order_make(store=store_a, customer_id="c-3", total_price=5)
    return rows


def search(api, query, **params):
    extra = "".join(f"&{key}={value}" for key, value in params.items())
    return api.get(SEARCH + quote(query, safe="") + extra)


def refs(response):
    assert response.status_code == 200, response.content
    return [c["id"] for c in response.json()["customers"]]


@pytest.mark.parametrize(
    "query, expected",
    [
        # no query: every customer, newest first
        ("", ["x-5", "c-4", "c-3", "c-2", "c-1"]),
        # bare words: the start of a word of the names, the email, the phone's digits or the id
        ("ann", ["c-3", "c-1"]),
        ("ANN", ["c-3", "c-1"]),
        ("marie", ["c-1"]),
        ("arie", []),
        ("other", ["c-3"]),
        ("shop", ["x-5", "c-2", "c-1"]),
        ("6135550102", ["c-2"]),
        ("7946", ["c-4"]),
        ("x-5", ["x-5"]),
        ('"ann marie"', ["c-1"]),
        # terms side by side all hold; AND is allowed
        ("ann lee", ["c-1"]),
        ("ann AND lee", ["c-1"]),
        # OR, NOT, -, parentheses
        ("bo OR cy", ["c-3", "c-2"]),
        ("-shop", ["c-4", "c-3"]),
        ("NOT shop", ["c-4", "c-3"]),
        ("shop -tag:gold", ["x-5"]),
        ("(bo OR ed) state:enabled", ["c-2"]),
        ("-(bo OR ed OR dee)", ["c-3", "c-1"]),
        ("tag:vip OR (tag:silver accepts_marketing:true)", ["c-3", "c-1"]),
        ('tag:"vip gold"', ["c-4"]),
        # email
        ("email:BO@shop.com", ["c-2"]),
        ("email:bo@shop", []),
        ("email:ann*", ["c-1"]),
        ('email:"cy@other.org"', ["c-3"]),
        # phone, any format
        ("phone:6135550101", ["c-1"]),
        ('phone:"(613) 555-0102"', ["c-2"]),
        ("phone:+442079460123", ["c-4"]),
        ("phone:+44*", ["c-4"]),
        # names and id
        ("first_name:bo", ["c-2"]),
        ("first_name:b*", ["c-2"]),
        ('first_name:"ann marie"', ["c-1"]),
        ("last_name:ANNAN", ["c-3"]),
        ("id:c-3", ["c-3"]),
        ("id:c*", ["c-4", "c-3", "c-2", "c-1"]),
        # state, tags, marketing
        ("state:invited", ["x-5"]),
        ("state:DISABLED", ["c-4", "c-3", "c-1"]),
        ("tag:gold", ["c-2", "c-1"]),
        ("tag:gold*", ["x-5", "c-2", "c-1"]),
        ("tag_not:gold", ["x-5", "c-4", "c-3"]),
        ("accepts_marketing:true", ["c-3"]),
        ("accepts_marketing:false", ["x-5", "c-4", "c-2", "c-1"]),
        # the default address
        ("country:ca", ["c-1"]),
        ('country:"united states"', ["c-3"]),
        ("country:united*", ["c-3"]),
        ("province:on", ["c-1"]),
        ("province:massachusetts", ["c-3"]),
        ("city:ottawa", ["c-1"]),
        ("-city:ottawa", ["x-5", "c-4", "c-3", "c-2"]),
        # numbers
        ("orders_count:2", ["c-2"]),
        ("orders_count:>0", ["c-3", "c-2"]),
        ("orders_count:>=1", ["c-3", "c-2"]),
        ("orders_count:<1", ["x-5", "c-4", "c-1"]),
        ("orders_count:<=1", ["x-5", "c-4", "c-3", "c-1"]),
        ("total_spent:30.50", ["c-2"]),
        ("total_spent:>5", ["c-2"]),
        ("total_spent:>=5", ["c-3", "c-2"]),
        # dates: a date alone is its whole day
        ("created_at:2024-01-02", ["c-2"]),
        ("created_at:<2024-01-02", ["c-1"]),
        ("created_at:<=2024-01-02", ["c-2", "c-1"]),
        ("created_at:>2024-01-04", ["x-5"]),
        ("created_at:>=2024-01-04", ["x-5", "c-4"]),
        ("created_at:>=2024-01-02T12:00:00Z created_at:<2024-01-03T12:00:00Z", ["c-2"]),
        ("updated_at:<2024-01-02", ["c-1"]),
        # more of every field: case, prefixes, quotes, formats
        ("last_name:ann*", ["c-3"]),
        ("last_name:LE*", ["c-1"]),
        ("id:C-1", ["c-1"]),
        ("id:X*", ["x-5"]),
        ('id:"c-4"', ["c-4"]),
        ("email:ED@SHOP.COM", ["x-5"]),
        ("email:*", ["x-5", "c-3", "c-2", "c-1"]),
        ("phone:613.555.0101", ["c-1"]),
        ('phone:"+1 613 555 0102"', ["c-2"]),
        ("phone:+1613*", ["c-2", "c-1"]),
        ('phone:"+44 20 7946 0123"', ["c-4"]),
        ("tag:VIP", ["c-1"]),
        ("tag:GOLD-*", ["x-5"]),
        ('tag:"VIP GOLD"', ["c-4"]),
        ("tag:vip*", ["c-4", "c-1"]),
        ("tag_not:vip*", ["x-5", "c-3", "c-2"]),
        ("tag:x", ["c-4"]),
        ("tag:gol", []),
        ("state:ENABLED", ["c-2"]),
        ("state:declined", []),
        ("accepts_marketing:1", ["c-3"]),
        ("accepts_marketing:FALSE", ["x-5", "c-4", "c-2", "c-1"]),
        ("country:CA*", ["c-1"]),
        ("country:US", []),
        ("province:MASS*", ["c-3"]),
        ("province:ON -city:ottawa", []),
        ("city:OTT*", ["c-1"]),
        ('city:"boston"', ["c-3"]),
        ("orders_count:0", ["x-5", "c-4", "c-1"]),
        ("orders_count:<2", ["x-5", "c-4", "c-3", "c-1"]),
        ("total_spent:<5", ["x-5", "c-4", "c-1"]),
        ("total_spent:<=5", ["x-5", "c-4", "c-3", "c-1"]),
        ("total_spent:5.00", ["c-3"]),
        ("total_spent:>=30.5", ["c-2"]),
        ("created_at:>=2024-01-03T12:00:00Z", ["x-5", "c-4", "c-3"]),
        ("created_at:<2024-01-01T12:00:01+00:00", ["c-1"]),
        ("created_at:2024-01-06", []),
        ("updated_at:2024-01-05", ["x-5"]),
        ("updated_at:>2024-01-03", ["x-5", "c-4"]),
        ("updated_at:>=2024-01-03 updated_at:<=2024-01-03", ["c-3"]),
        # bare words: quoted, several, case, email words, digits in any format
        ('"lee"', ["c-1"]),
        ("ann shop", ["c-1"]),
        ("marie lee ann", ["c-1"]),
        ("MARIE", ["c-1"]),
        ("org", ["c-3"]),
        ("cy@other", ["c-3"]),
        ("(613) 555-0101", ["c-1"]),
        ("555-0102", ["c-2"]),
        ("44", ["c-4"]),
        ("c-", ["c-4", "c-3", "c-2", "c-1"]),
        # characters that mean something to LIKE or to a regular expression mean nothing here
        ("a.n", []),
        ("an%", []),
        ("b_", []),
        ("(.*)", []),
        ('"[a-z]+"', []),
        ("^bo", []),
        ("bo$", []),
        ("tag:v.p", []),
        ("tag:.*", []),
        ("first_name:b%", []),
        # operators: precedence, nesting, negated groups, NOT of NOT
        ("bo OR cy ed", ["c-2"]),
        ("(bo OR cy) ed", []),
        ("bo OR (cy ed) OR dee", ["c-4", "c-2"]),
        ("NOT NOT bo", ["c-2"]),
        ("--bo", ["c-2"]),
        ("-(tag:gold OR tag:silver) -state:invited", ["c-4"]),
        ("((tag:gold))", ["c-2", "c-1"]),
        ("(tag:gold AND NOT email:bo*) OR id:c-4", ["c-4", "c-1"]),
        ("state:disabled AND (country:ca OR country:us OR country:united*)", ["c-3", "c-1"]),
    ],
)
def test_search(api_a, people, query, expected):
    assert refs(search(api_a, query)) == expected


@pytest.mark.parametrize(
    "query, position, words",
    [
        ("foo:bar", 1, "unknown field 'foo'"),
        ("orders_count:many", 14, "whole number"),
        ("total_spent:>x", 14, "number"),
        ("created_at:yesterday", 12, "ISO 8601"),
        ("state:happy", 7, "state"),
        ("accepts_marketing:maybe", 19, "true or false"),
        ("phone:abc", 7, "phone"),
        ("email:>a", 1, "no comparator"),
        ("orders_count:3*", 14, "prefix"),
        ("(ann OR bo", 1, "parenthesis"),
        ("ann)", 4, "unexpected"),
        ("ann OR", 7, "missing"),
        ("OR ann", 1, "cannot stand"),
        ('email:"ann', 7, "quote"),
        ("email:", 7, "needs a value"),
        ("tag:a,b", 5, "comma"),
        ("(" * 40 + "a" + ")" * 40, 34, "nested"),
        (" ".join(["a"] * 33), 65, "32 terms"),
        ("ann state:enabled*", 11, "prefix"),
        ("accepts_marketing:true*", 19, "prefix"),
        ("city:>b", 1, "no comparator"),
        ("tag:<x", 1, "no comparator"),
        ("metadata.tier:>1", 1, "no comparator"),
        ("phone:*", 7, "needs digits"),
        ("total_spent:1e999", 13, "out of range"),
        ("orders_count:99999999999", 14, "out of range"),
        ("created_at:2024-13-01", 12, "ISO 8601"),
        ("updated_at:>=soon", 14, "ISO 8601"),
        ("bo (", 5, "missing at the end"),
        ("bo ( )", 6, "cannot stand"),
        ("NOT", 4, "missing at the end"),
        ("ann AND OR bo", 9, "cannot stand"),
        ('a"b', 2, "quote"),
        ("metadata.:x", 1, "metadata key"),
        ("metadata.a b:c", 12, "unknown field 'b'"),
    ],
)
def test_bad_queries_say_where(api_a, people, query, position, words):
    response = search(api_a, query)
    assert response.status_code == 400, response.content
    (error,) = response.json()["errors"]
    assert error["code"] == "InvalidField" and error["field"] == "query"
    assert words in error["message"] and f"at character {position})" in error["message"], error


def test_too_long_a_query(api_a, people):
    response = search(api_a, "a" * 1001)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "query" and "1000 characters" in error["message"]
    assert refs(search(api_a, " ".join(["zz"] * 32))) == []


def test_pages_newest_first_with_fields(api_a, people):
    first = api_a.get(SEARCH + "shop&limit=2&fields=id,email")
    body = first.json()
    assert body["customers"] == [{"id": "x-5", "email": "ed@shop.com"}, {"id": "c-2", "email": "bo@shop.com"}]
    assert body["previous"] is None and 'rel="next"' in first["Link"]
    second = api_a.get(SEARCH + f"shop&limit=2&page_info={body['next']}")
    assert refs(second) == ["c-1"] and second.json()["next"] is None
    back = api_a.get(SEARCH + f"shop&limit=2&page_info={second.json()['previous']}")
    assert refs(back) == ["x-5", "c-2"]


def test_unknown_parameters_and_bad_limit(api_a, people):
    assert search(api_a, "ann", ordering="created_at").status_code == 400
    assert search(api_a, "ann", limit="0").status_code == 400
    assert search(api_a, "ann", fields="nope").status_code == 400


def test_needs_a_token(client, people):
    assert client.get(SEARCH + "ann").status_code == 401


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
PIECES = st.sampled_from(
    [
        '"',
        "(",
        ")",
        "-",
        "*",
        ":",
        ":<",
        ":>=",
        " OR ",
        " NOT ",
        " AND ",
        " ",
        "email",
        "phone",
        "id",
        "tag",
        "created_at",
        "orders_count",
        "total_spent",
        "country",
        "ann",
        "2024-01-01",
        "3",
        "1e999",
        "NaN",
        "\u00e9",
        "%",
        "_",
        "\\",
        "'",
        "metadata.x",
    ]
)


@FUZZ
@given(st.one_of(st.text(max_size=60), st.lists(PIECES, max_size=20).map("".join)))
def test_any_query_is_answered_200_or_400(api_a, people, query):
    response = search(api_a, query)
    assert response.status_code in (200, 400), (query, response.content)


@pytest.fixture
def crowded_store_b(store_b, people):
    """20,000 more customers of store B (copies of one row, their values made distinct), each with a
    default address, analysed, so that the planner weighs the indexes as on a real store."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    table = Customer._meta.db_table
    generated = {"seq", "twc_customer_id", "ref", "email", "email_key", "phone", "first_name", "last_name"}
    generated |= {"tags", "metadata", "orders_count", "total_spent"}
    kept = [f.column for f in Customer._meta.concrete_fields if f.column not in generated]
    columns = ", ".join(kept)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (twc_customer_id, ref, email, email_key, phone, first_name, last_name, tags, "  # noqa: S608
            f"metadata, orders_count, total_spent, {columns}) "
            "SELECT gen_random_uuid(), 'g-' || i, 'g' || i || '@bulk.test', 'g' || i || '@bulk.test', "
            "'+1613' || lpad(i::text, 7, '0'), 'Name' || i, 'Last' || i, 'common, rare' || i, "
            "jsonb_build_object('crm', 'c' || i), i, i, "
            f"{columns} FROM {table}, generate_series(1, 20000) AS i WHERE store_id = %s AND ref = 'c-2'",
            [store_b.pk],
        )
        cursor.execute(
            "INSERT INTO customers_address (customer_id, first_name, last_name, company, address1, address2, city, "
            "province, province_code, country, country_code, zip, phone, name, is_default) "
            "SELECT seq, '', '', '', '', '', 'City' || seq, 'Province' || seq, 'P' || seq, 'Country' || seq, "
            "'ZZ', '', '', '', true FROM customers_customer WHERE ref LIKE 'g-%%'"
        )
        cursor.execute(f"ANALYZE {table}")
        cursor.execute("ANALYZE customers_address")
    return store_b


@pytest.mark.postgres
@pytest.mark.parametrize(
    "query, index",
    [
        ("first_name:name17", "customers_customer_srch_first"),
        ("last_name:last123*", "customers_customer_srch_last"),
        ("id:G-77", "customers_customer_srch_ref"),
        ("email:g1234*", "customers_customer_srch_email"),
        ("phone:+161300012*", "customers_customer_srch_phone"),
        ("tag:rare77", "customers_customer_srch_tags"),
        ("g12345", "customers_customer_srch_words"),
        ("name123 last123", "customers_customer_srch_words"),
        ("metadata.crm:C777", "customers_customer_srch_metadata"),
        ("orders_count:>19990", "customers_customer_srch_orders"),
        ("total_spent:>19990", "customers_customer_srch_spent"),
        ("city:city77", "customers_address_srch_city"),
        ("country:country77", "customers_address_srch_country"),
    ],
)
def test_a_rare_value_is_found_through_its_index_on_postgresql(crowded_store_b, query, index):
    """The plan of the search's second step (every match, no order: customers.search.paging)."""
    from customers.search.compiler import search_customers

    plan = search_customers(Customer.objects.for_store(crowded_store_b), query=query, store=crowded_store_b).explain()
    assert index in plan, plan


@pytest.mark.postgres
def test_the_crowded_store_still_answers_rightly(api_b, crowded_store_b):
    assert refs(search(api_b, "g12345")) == ["g-12345"]
    assert refs(search(api_b, "name12345 last12345")) == ["g-12345"]
    assert refs(search(api_b, "metadata.crm:C777")) == ["g-777"]
    assert refs(search(api_b, "tag:rare77 OR tag:rare78")) == ["g-78", "g-77"]
    assert len(refs(search(api_b, "tag:common", limit="250"))) == 250


@pytest.mark.parametrize(
    "query, expected",
    [
        ("metadata.loyalty.tier:gold", ["m-2", "m-1"]),
        ("metadata.loyalty.tier:GOLD", ["m-2", "m-1"]),
        ("metadata.loyalty.tier:go*", ["m-2", "m-1"]),
        ("-metadata.loyalty.tier:gold", ["m-3"]),
        ("metadata.crm_id:A-17 OR metadata.crm_id:B-9", ["m-1", "m-3"]),
        ("metadata.missing:x", []),
    ],
)
def test_search_by_metadata(api_a, store_a, store_b, query, expected):
    customer_make(store=store_a, id="m-1", email="m1@shop.com", metadata={"loyalty.tier": "Gold", "crm_id": "A-17"})
    customer_make(store=store_a, id="m-2", email="m2@shop.com", metadata={"loyalty.tier": "gold"})
    customer_make(store=store_a, id="m-3", email="m3@shop.com", metadata={"crm_id": "B-9"})
    customer_make(store=store_b, id="m-4", email="m4@shop.com", metadata={"loyalty.tier": "gold"})
    Customer.objects.filter(ref="m-2").update(created_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    Customer.objects.filter(ref="m-1").update(created_at=dt.datetime(2029, 1, 1, tzinfo=dt.UTC))
    assert refs(search(api_a, query)) == expected


def test_a_bad_metadata_key_says_where(api_a):
    response = search(api_a, "email:a@b.c metadata." + "k" * 65 + ":x")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == "query" and "at character 13" in error["message"]
