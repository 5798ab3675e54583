"""Each single-customer request uses a small, constant number of SQL queries, whatever the customer
holds (no addresses, one, fifty; orders; 250 tags): no N+1 on addresses, orders or tags.

Counts include the token lookup (the token cache is off here, as on a process's first request) and,
for writes, the SAVEPOINT/RELEASE pair that `transaction.atomic` becomes inside a test's transaction
(BEGIN/COMMIT in production, which Django does not log as queries). Each write records its event
(events.recording): one more INSERT, in the write's transaction.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Order, Wishlist
from tests.factories import customer_make, order_make, wishlist_make

HOLDINGS = {
    "nothing": {"addresses": 0, "orders": 0, "tags": 0},
    "one address": {"addresses": 1, "orders": 0, "tags": 1},
    "fifty addresses, orders, 250 tags": {"addresses": 50, "orders": 3, "tags": 250},
}


@pytest.fixture(autouse=True)
def _token_checked_every_request(settings):
    settings.TOKEN_CACHE_SECONDS = 0
    # The rate limiter's own statements are counted in tests/api/test_ratelimit.py (none with Redis).
    settings.RATE_LIMIT_ENABLED = False


# An update of fields and its event: on PostgreSQL one statement (WITH changed AS (UPDATE ...)
# INSERT INTO events_event ...: customers.services.customers.update_with_its_event), else two.
CHANGE_AND_ITS_EVENT = {
    "postgresql": ["WITH customers_customer"],
    "sqlite": ["UPDATE customers_customer", "INSERT events_event"],
}


def address_items(count: int) -> list[dict]:
    return [{"address1": f"{i} King St W", "city": "Toronto", "country_code": "CA"} for i in range(count)]


def tag_text(count: int) -> str:
    return ", ".join(f"tag-{i}" for i in range(count))


def customer_holding(*, store, ref: str, addresses: int, orders: int, tags: int) -> None:
    """A customer with this many addresses, orders and tags."""
    fields = {"id": ref, "email": f"{ref}@shop.example", "addresses": address_items(addresses)}
    if tags:
        fields["tags"] = tag_text(tags)
    customer_make(store=store, **fields)
    for number in range(orders):
        order_make(store=store, name=f"#{ref}-{number}", customer_id=ref, total_price=10)


def sql_of(request):
    with CaptureQueriesContext(connection) as queries:
        response = request()
    return response, [query["sql"] for query in queries.captured_queries]


def tables(statements: list[str]) -> list[str]:
    """Each query as its kind and main table, e.g. 'SELECT customers_customer' or 'SAVEPOINT'."""
    names = []
    for sql in statements:
        kind = sql.split()[0].upper()
        table = re.search(r'(?:FROM|INTO|UPDATE)\s+"(\w+)"', sql)
        names.append(f"{kind} {table.group(1)}" if table else kind)
    return names


@pytest.mark.parametrize("holding", HOLDINGS)
def test_get_by_reference(api_a, holding, store_a):
    held = HOLDINGS[holding]
    customer_holding(store=store_a, ref="c-1", **held)
    response, sql = sql_of(lambda: api_a.get("/api/customers/c-1"))
    assert response.status_code == 200
    assert len(response.json()["addresses"]) == held["addresses"]
    assert response.json()["orders_count"] == held["orders"]
    assert tables(sql) == [
        "SELECT oauth2_provider_accesstoken",
        "SELECT customers_customer",  # with its addresses, joined
    ]


def test_get_of_a_missing_customer(api_a):
    response, sql = sql_of(lambda: api_a.get("/api/customers/nobody"))
    assert response.status_code == 404
    assert tables(sql) == ["SELECT oauth2_provider_accesstoken", "SELECT customers_customer"]


@pytest.mark.parametrize("count", [0, 1, 50])
def test_create(api_a, count):
    body = {"id": "c-1", "email": "ann@shop.example", "addresses": address_items(count), "tags": tag_text(250)}
    response, sql = sql_of(lambda: api_a.post("/api/customers", body))
    assert response.status_code == 201
    assert len(response.json()["addresses"]) == count
    assert tables(sql) == [
        "SELECT oauth2_provider_accesstoken",
        "SAVEPOINT",
        "INSERT customers_customer",
        *(["INSERT customers_address"] if count else []),
        "SELECT customers_order",  # UNION ALL customers_wishlist: unowned ones to take over
        "INSERT events_event",
        "RELEASE",
    ]


@pytest.mark.parametrize("orders", [1, 5])
def test_create_taking_over_orders_and_wishlists(api_a, orders, store_a):
    for number in range(orders):
        order_make(store=store_a, name=f"#{number}", email="ann@shop.example", total_price=10)
        wishlist_make(store=store_a, email="ann@shop.example", items=["sku-1"])
    body = {"id": "c-1", "email": "ann@shop.example", "addresses": address_items(2)}
    response, sql = sql_of(lambda: api_a.post("/api/customers", body))
    assert response.status_code == 201
    assert response.json()["orders_count"] == orders
    assert tables(sql) == [
        "SELECT oauth2_provider_accesstoken",
        "SAVEPOINT",
        "INSERT customers_customer",
        "INSERT customers_address",
        "SELECT customers_order",  # UNION ALL customers_wishlist
        "UPDATE customers_order",
        "UPDATE customers_wishlist",
        "UPDATE customers_customer",
        "SELECT customers_customer",
        "INSERT events_event",
        "RELEASE",
    ]


@pytest.mark.parametrize("holding", HOLDINGS)
def test_update_of_a_field(api_a, holding, store_a):
    customer_holding(store=store_a, ref="c-1", **HOLDINGS[holding])
    body = {"id": "c-1", "note": "prefers phone"}
    response, sql = sql_of(lambda: api_a.put("/api/customers", body))
    assert response.status_code == 200
    assert response.json()["version"] == 2
    assert tables(sql) == [
        "SELECT oauth2_provider_accesstoken",
        "SELECT customers_customer",  # with its addresses, joined
        "SAVEPOINT",
        *CHANGE_AND_ITS_EVENT[connection.vendor],
        "RELEASE",
    ]


@pytest.mark.parametrize("holding", HOLDINGS)
def test_update_replacing_the_addresses(api_a, holding, store_a):
    customer_holding(store=store_a, ref="c-1", **HOLDINGS[holding])
    body = {"id": "c-1", "addresses": address_items(50)[::-1]}
    response, sql = sql_of(lambda: api_a.put("/api/customers", body))
    assert response.status_code == 200
    assert len(response.json()["addresses"]) == 50
    assert tables(sql) == [
        "SELECT oauth2_provider_accesstoken",
        "SELECT customers_customer",  # with its addresses, joined
        "SAVEPOINT",
        "UPDATE customers_customer",
        "DELETE customers_address",
        "INSERT customers_address",
        "INSERT events_event",
        "RELEASE",
    ]


def test_update_that_changes_nothing_writes_nothing(api_a, store_a):
    customer_holding(store=store_a, ref="c-1", addresses=3, orders=0, tags=3)
    body = {"id": "c-1", "tags": tag_text(3)}
    response, sql = sql_of(lambda: api_a.put("/api/customers", body))
    assert response.json()["version"] == 1
    assert tables(sql) == [
        "SELECT oauth2_provider_accesstoken",
        "SELECT customers_customer",  # with its addresses, joined
    ]


@pytest.mark.parametrize("holding", HOLDINGS)
def test_delete(api_a, holding, store_a):
    customer_holding(store=store_a, ref="c-1", **HOLDINGS[holding])
    response, sql = sql_of(lambda: api_a.delete("/api/customers/c-1"))
    assert response.status_code == 200
    assert tables(sql) == [
        "SELECT oauth2_provider_accesstoken",
        "SELECT customers_customer",
        "UPDATE customers_customer",
        # A deleted customer's access tokens are revoked (one statement, whether it has any or not).
        "UPDATE accounts_customeraccesstoken",
        "INSERT events_event",
    ]


def test_cached_token_leaves_the_customer_queries_only(settings, api_a, store_a):
    settings.TOKEN_CACHE_SECONDS = 30
    customer_holding(store=store_a, ref="c-1", addresses=2, orders=0, tags=2)
    api_a.get("/api/customers/c-1")
    response, sql = sql_of(lambda: api_a.get("/api/customers/c-1"))
    assert response.status_code == 200
    assert tables(sql) == ["SELECT customers_customer"]


@pytest.mark.django_db(transaction=True)
def test_update_of_a_field_outside_a_transaction_needs_no_savepoint(api_a, store_a):
    """As in production (autocommit): the UPDATE and its event, in one statement (PostgreSQL) or one
    transaction (SQLite), no savepoint."""
    customer_holding(store=store_a, ref="c-1", addresses=2, orders=0, tags=2)
    response, sql = sql_of(lambda: api_a.put("/api/customers", {"id": "c-1", "note": "n"}))
    assert response.status_code == 200
    # psycopg's connection logs a transaction's BEGIN and COMMIT; SQLite's does not. PostgreSQL
    # needs no transaction: the UPDATE and its event are one statement.
    assert "BEGIN" not in tables(sql) or connection.vendor != "postgresql"
    assert [name for name in tables(sql) if name not in ("BEGIN", "COMMIT")] == [
        "SELECT oauth2_provider_accesstoken",
        "SELECT customers_customer",  # with its addresses, joined
        *CHANGE_AND_ITS_EVENT[connection.vendor],
    ]


@pytest.mark.django_db(transaction=True)
def test_duplicate_on_a_single_statement_update_is_409_and_the_connection_stays_usable(api_a, store_a):
    customer_holding(store=store_a, ref="c-1", addresses=0, orders=0, tags=0)
    customer_holding(store=store_a, ref="c-2", addresses=0, orders=0, tags=0)
    response = api_a.put("/api/customers", {"id": "c-2", "email": "C-1@shop.example"})
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "email"
    assert api_a.get("/api/customers/c-2").json()["email"] == "c-2@shop.example"


def test_create_takes_over_by_phone_in_its_own_store_only(api_a, store_a, store_b):
    """The single-customer path reads orders and wishlists in one UNION statement: by phone too,
    and never another store's."""
    for store in (store_a, store_b):
        order_make(store=store, name="#1", phone="+1 613 555 0100", total_price=12.5)
        wishlist_make(store=store, phone="613-555-0100", items=["sku-1"])
    response, sql = sql_of(lambda: api_a.post("/api/customers", {"id": "c-1", "phone": "6135550100"}))
    assert response.status_code == 201
    assert (response.json()["orders_count"], response.json()["total_spent"]) == (1, 12.5)
    assert len(sql) == 10  # with the event
    assert Order.objects.get(store__name="Store A").customer.ref == "c-1"
    assert Wishlist.objects.get(store__name="Store A").customer.ref == "c-1"
    assert Order.objects.get(store__name="Store B").customer is None
    assert Wishlist.objects.get(store__name="Store B").customer is None


@pytest.mark.parametrize("holding", HOLDINGS)
def test_me_is_one_statement(holding, store_a):
    """/api/me: the customer token, its store, its customer and the addresses in one SELECT; a
    customer token is never looked up as a store token."""
    from rest_framework.test import APIClient

    from accounts.services.tokens import customer_token_issue
    from customers.models import Customer

    held = HOLDINGS[holding]
    customer_holding(store=store_a, ref="c-1", **held)
    Customer.objects.filter(store=store_a, ref="c-1").update(state="enabled")
    token = customer_token_issue(customer=Customer.objects.get(store=store_a, ref="c-1")).token
    me = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}")
    response, sql = sql_of(lambda: me.get("/api/me"))
    assert response.status_code == 200
    assert len(response.json()["addresses"]) == held["addresses"]
    assert tables(sql) == ["SELECT accounts_customeraccesstoken"]
