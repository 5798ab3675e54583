"""Unit tests of the customer services, below HTTP."""

import pytest

from customers.models import Customer
from customers.services import customer_create, customer_soft_delete, customer_update
from tests.factories import customer_make
from twc.api.errors import ApiError


def test_create_assigns_reference_and_defaults(store_a):
    customer, addresses = customer_create(store=store_a, data={"email": "a@x.com"})
    assert customer.ref == str(customer.twc_customer_id)
    assert (customer.currency, customer.state, customer.version) == ("CAD", "disabled", 1)
    assert addresses == []


def test_duplicate_found_by_the_database_constraint(store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    with pytest.raises(ApiError) as caught:
        customer_create(store=store_a, data={"id": "c-2", "email": "A@X.COM"})
    error = caught.value.errors[0]
    assert (caught.value.status, error.code, error.field, error.duplicate_value) == (
        409,
        "DuplicateField",
        "email",
        "A@X.COM",
    )
    assert Customer.objects.count() == 1


def test_update_bumps_version_only_on_change(store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    assert customer_update(store=store_a, data={"id": "c-1", "note": "x"})[0].version == 2
    assert customer_update(store=store_a, data={"id": "c-1", "note": "x"})[0].version == 2
    assert Customer.objects.get().version == 2


def test_update_in_another_store_is_not_found(store_a, store_b):
    customer_make(store=store_a, id="c-1", email="a@x.com")
    with pytest.raises(ApiError) as caught:
        customer_update(store=store_b, data={"id": "c-1", "note": "x"})
    assert caught.value.status == 404


def test_soft_delete_frees_the_keys(store_a):
    customer_make(store=store_a, id="c-1", email="a@x.com", phone="613-555-0100")
    deleted = customer_soft_delete(store=store_a, ref="c-1")
    assert deleted.deleted_at is not None and deleted.version == 2
    customer_create(store=store_a, data={"id": "c-1", "email": "a@x.com", "phone": "613-555-0100"})
    assert Customer.objects.for_store(store_a).count() == 1
    assert Customer.objects.count() == 2
