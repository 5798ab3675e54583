"""twc.db_rows reads and writes models by hand-written SQL exactly as the ORM does."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from customers.models import Address, Customer
from tests.factories import customer_make
from twc.db_rows import ModelRows, insert_new, update_where

CUSTOMER_ROWS = ModelRows(Customer)


def orm_values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_a_row_read_by_hand_is_the_model_the_orm_reads(store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com", metadata={"k": "v"}, tags="vip")
    Customer.objects.filter(ref="c-1").update(total_spent=Decimal("12.50"), tax_exemptions=["CA_STATUS_CARD_EXEMPTION"])
    expected = Customer.objects.get(ref="c-1")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {CUSTOMER_ROWS.select('c')} FROM customers_customer c WHERE c.ref = %s", ["c-1"])
        row = cursor.fetchone()
    read = CUSTOMER_ROWS.instance(row, "default")
    assert orm_values(read) == orm_values(expected)
    assert read.metadata == {"k": "v"} and read.total_spent == Decimal("12.50")
    assert not read._state.adding


def test_insert_new_sets_keys_and_writes_what_save_writes(store_a):
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    customer = Customer(store=store_a, ref="n-1", currency="CAD", created_at=now, updated_at=now, metadata={"a": 1})
    addresses = [Address(customer=customer, city="Ottawa"), Address(customer=customer, city="Toronto", is_default=True)]
    insert_new([customer])
    insert_new(addresses)
    assert customer.pk is not None and all(address.customer_id == customer.pk for address in addresses)
    assert orm_values(Customer.objects.get(pk=customer.pk)) == orm_values(customer)
    stored = list(Address.objects.filter(customer_id=customer.pk).order_by("id"))
    assert [(a.id, a.city, a.is_default) for a in stored] == [(a.id, a.city, a.is_default) for a in addresses]


def test_update_where_updates_only_the_matching_rows(store_a, store_b):
    customer_make(store=store_a, id="c-1")
    customer_make(store=store_b, id="c-1")
    mine = Customer.objects.get(store=store_a, ref="c-1")
    at = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    values = {"note": "changed", "metadata": {"x": [1, 2]}, "updated_at": at, "version": mine.version + 1}
    assert update_where(Customer, values, store=store_a.pk, seq=mine.pk, version=mine.version + 5) == 0
    assert update_where(Customer, values, store=store_a.pk, seq=mine.pk, version=mine.version) == 1
    mine.refresh_from_db()
    assert (mine.note, mine.metadata, mine.updated_at) == ("changed", {"x": [1, 2]}, at)
    assert Customer.objects.get(store=store_b, ref="c-1").note == ""


def test_remembered_addresses_answer_without_a_query_and_filter_as_the_orm(store_a, django_assert_num_queries):
    from customers.selectors import customer_get

    customer_make(store=store_a, id="c-1", addresses=[{"city": "Ottawa"}, {"city": "Toronto"}])
    customer_make(store=store_a, id="c-2", addresses=[{"city": "Montreal"}])
    customer = customer_get(store=store_a, ref="c-1")
    with django_assert_num_queries(0):
        assert [a.city for a in customer.addresses.all()] == ["Ottawa", "Toronto"]
    # A further filter queries, for this customer's addresses only.
    assert [a.city for a in customer.addresses.all().filter(city__startswith="T")] == ["Toronto"]
    assert customer.addresses.all().count() == 2


@pytest.mark.parametrize(
    "ref", ["c-1", "count", "search", "a b?c#d%e", ".", "..", "x/orders", "x/send_invite", "orders", "ñ", "Count"]
)
def test_a_location_without_a_resolve_is_the_one_resolving_gives(ref):
    import uuid

    from django.urls import resolve

    from customers.api import customer_location, customer_path

    customer = Customer(ref=ref, twc_customer_id=uuid.uuid4())
    match = resolve(f"/api/customers/{ref}")
    by_resolve = (
        customer_path(ref)
        if match.url_name == "customer-detail" and match.kwargs.get("ref") == ref
        else customer_path(str(customer.twc_customer_id))
    )
    assert customer_location(customer) == by_resolve
