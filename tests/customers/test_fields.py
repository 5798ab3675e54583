"""customers.fields is the one list of the customer's fields: each place that spells a field list out
(the representation, validation, the schema, the unique keys) agrees with it (no database)."""

import pytest
from django.db.models import UniqueConstraint

from customers.errors import ValidationFailed
from customers.fields import (
    CUSTOMER_FIELDS,
    CUSTOMER_SHOWN_FIELDS,
    CUSTOMER_WRITABLE_FIELDS,
    KNOWN_FIELDS,
    READ_ONLY_FIELDS,
    REPRESENTATION_FIELDS,
    UNIQUE_KEYS,
    WRITABLE_FIELDS,
    WRITABLE_MODEL_FIELDS,
)
from customers.models import LIVE, Address, Customer
from customers.representation import customer_to_dict
from customers.schema.inputs import CustomerInputSerializer
from customers.schema.serializers import CustomerSerializer, CustomerWithInviteSerializer
from customers.services.bulk_plan import UNIQUE_FIELDS
from customers.services.integrity import CONSTRAINT_FIELDS, SQLITE_COLUMN_FIELDS
from customers.validation import CLEANERS, clean_customer
from tenants.models import Store

CANADA = Store(name="unit", country="CA", currency="CAD")
BASE = {"email": "ann@example.com"}

# A value clean_customer accepts for each field a client writes, and the key it returns it under.
ACCEPTED = {
    "id": ("c-1", "ref"),
    "email": ("bo@example.com", "email"),
    "phone": ("+16135550100", "phone"),
    "first_name": ("Ann", "first_name"),
    "last_name": ("Li", "last_name"),
    "note": ("Two\nlines", "note"),
    "state": ("enabled", "state"),
    "verified_email": (True, "verified_email"),
    "accepts_marketing": (True, "accepts_marketing"),
    "accepts_marketing_updated_at": ("2024-01-31T12:00:00Z", "accepts_marketing_updated_at"),
    "marketing_opt_in_level": ("single_opt_in", "marketing_opt_in_level"),
    "multipass_identifier": ("mp-1", "multipass_identifier"),
    "currency": ("EUR", "currency"),
    "tax_exempt": (True, "tax_exempt"),
    "tax_exemptions": (["CA_STATUS_CARD_EXEMPTION"], "tax_exemptions"),
    "tags": ("vip", "tags"),
    "metadata": ({"tier": "gold"}, "metadata"),
    "private_metadata": ({"crm": "7"}, "private_metadata"),
    "addresses": ([{"city": "Ottawa"}], "_addresses"),
    "version": (3, "_version"),
    "password_hash": ("$2b$04$UQOnQq6KhShBhKoU7swjs.ARcwLIDimT4wdXe4BiRi2a83paoUvrq", "password"),
}


def test_customer_to_dict_has_the_tables_fields_in_its_order():
    customer = Customer(ref="c-1", email="ann@example.com", currency="CAD")
    address = Address(id=1, customer=customer, city="Ottawa", is_default=True)
    assert tuple(customer_to_dict(customer, [address])) == REPRESENTATION_FIELDS
    assert tuple(customer_to_dict(customer, [])) == REPRESENTATION_FIELDS


def test_schema_documents_the_tables_fields():
    assert tuple(CustomerSerializer().fields) == REPRESENTATION_FIELDS
    assert tuple(CustomerWithInviteSerializer().fields) == (*REPRESENTATION_FIELDS, "invite")
    input_fields = CustomerInputSerializer().fields
    assert set(input_fields) == KNOWN_FIELDS
    assert {
        name for name, field in input_fields.items() if (field.help_text or "").startswith("Read-only")
    } == READ_ONLY_FIELDS


def test_every_field_a_client_writes_has_a_cleaner_and_nothing_else_does():
    cleaned_fields = [name for name, _ in CLEANERS]  # in the order errors are listed, not the table's
    assert len(cleaned_fields) == len(set(cleaned_fields)) and set(cleaned_fields) == WRITABLE_FIELDS
    assert set(ACCEPTED) == WRITABLE_FIELDS
    assert KNOWN_FIELDS == WRITABLE_FIELDS | READ_ONLY_FIELDS and not WRITABLE_FIELDS & READ_ONLY_FIELDS


@pytest.mark.parametrize("name", sorted(WRITABLE_FIELDS))
@pytest.mark.parametrize("partial", [False, True])
def test_every_writable_field_is_accepted(name, partial):
    value, key = ACCEPTED[name]
    cleaned = clean_customer(BASE | {name: value}, store=CANADA, partial=partial)
    assert key in cleaned


@pytest.mark.parametrize("name", sorted(READ_ONLY_FIELDS))
@pytest.mark.parametrize("partial", [False, True])
def test_every_read_only_field_is_accepted_and_ignored(name, partial):
    expected = clean_customer(BASE, store=CANADA, partial=partial)
    for value in ("anything", 12, None, {"nested": [1]}):
        assert clean_customer(BASE | {name: value}, store=CANADA, partial=partial) == expected


def test_a_field_outside_the_table_is_refused():
    with pytest.raises(ValidationFailed) as caught:
        clean_customer(BASE | {"email_key": "x"}, store=CANADA)
    assert [(e.code, e.field) for e in caught.value.errors] == [("InvalidField", "email_key")]


def test_columns_are_the_models_and_writable_columns_are_editable():
    for field in CUSTOMER_FIELDS:
        if field.column is not None:
            assert field.column in {f.attname for f in Customer._meta.concrete_fields}, field
    for column in WRITABLE_MODEL_FIELDS:
        assert Customer._meta.get_field(column).editable, column
    assert WRITABLE_MODEL_FIELDS[0] == "ref" and "email_key" not in WRITABLE_MODEL_FIELDS


def test_unique_keys_are_the_models_constraints():
    constraints = {
        constraint.name: constraint
        for constraint in Customer._meta.constraints
        if isinstance(constraint, UniqueConstraint)
    }
    # The service's own identifier, never written by a client: unique per store for a sharded
    # database (tests/test_citus_readiness.py), not one of the keys a client can collide on.
    server_key = constraints.pop("customers_customer_twc_id_per_store_uniq")
    assert tuple(server_key.fields) == ("store", "twc_customer_id")
    assert set(constraints) == {key.constraint_name for key in UNIQUE_KEYS}
    for key in UNIQUE_KEYS:
        constraint = constraints[key.constraint_name]
        assert tuple(constraint.fields) == ("store", key.key_column)
        assert constraint.condition == LIVE
    assert [(key.api_name, key.column, key.key_column) for key in UNIQUE_KEYS] == [
        ("id", "ref", "ref"),
        ("email", "email", "email_key"),
        ("phone", "phone", "phone"),
    ]


def test_constraint_mapping_and_bulk_keys_follow_the_unique_keys():
    for key in UNIQUE_KEYS:
        assert CONSTRAINT_FIELDS[key.constraint_name] == key.api_name
        assert SQLITE_COLUMN_FIELDS[f"customers_customer.{key.key_column}"] == key.api_name
    assert UNIQUE_FIELDS == (("id", "ref"), ("email", "email_key"), ("phone", "phone"))


def test_the_customers_own_view_follows_the_contract():
    # /api/me shows the customer without note, tags, multipass_identifier and private_metadata, and
    # lets it change these.
    hidden = {"note", "tags", "multipass_identifier", "private_metadata"}
    assert set(REPRESENTATION_FIELDS) - set(CUSTOMER_SHOWN_FIELDS) == hidden
    assert CUSTOMER_WRITABLE_FIELDS == {
        "first_name",
        "last_name",
        "phone",
        "accepts_marketing",
        "marketing_opt_in_level",
        "addresses",
    }
    assert CUSTOMER_WRITABLE_FIELDS <= WRITABLE_FIELDS & set(CUSTOMER_SHOWN_FIELDS)
