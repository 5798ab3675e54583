"""Unit tests of the field rules in customers.validation (no database)."""

import pytest

from customers.emails import email_key
from customers.phones import normalize_phone
from customers.validation import clean_customer, normalize_tags
from tenants.models import Store
from twc.api.errors import ValidationFailed

CANADA = Store(name="unit", country="CA", currency="CAD")


def errors_of(data, partial=False):
    with pytest.raises(ValidationFailed) as caught:
        clean_customer(data, store=CANADA, partial=partial)
    return [(e.code, e.field) for e in caught.value.errors]


def test_email_key_lowers_case_only():
    # lower(), not casefold(): straße.de and strasse.de are different domains under IDNA 2008.
    assert email_key(" Ann@Straße.de ") == "ann@straße.de"
    assert email_key("ANN@STRAẞE.DE") == "ann@straße.de"
    assert email_key("") is None and email_key(None) is None


@pytest.mark.parametrize("raw", ["613-555-0100", "(613) 555 0100", "+1 613-555-0100", "1 613 555 0100"])
def test_national_and_international_phone_formats(raw):
    assert normalize_phone(raw, "CA") == "+16135550100"


@pytest.mark.parametrize("raw", ["555", "abc", "+999 1234", ""])
def test_undialable_phone(raw):
    with pytest.raises(ValueError):
        normalize_phone(raw, "CA")


def test_tags_are_trimmed_and_deduplicated():
    assert normalize_tags(" a, B ,b,, c ") == ["a", "B", "c"]
    assert normalize_tags(["x", " X", "y"]) == ["x", "y"]


def test_clean_returns_model_values():
    cleaned = clean_customer(
        {"id": " r-1 ", "email": " A@B.com ", "phone": "613-555-0100", "tags": ["b", "a"]}, store=CANADA
    )
    assert cleaned["ref"] == "r-1"
    assert cleaned["email"] == "A@B.com" and cleaned["email_key"] == "a@b.com"
    assert cleaned["phone"] == "+16135550100"
    assert cleaned["tags"] == "b, a"


def test_every_bad_field_is_reported_at_once():
    assert errors_of({"email": "x", "phone": "1", "state": "gone", "foo": 1}) == [
        ("InvalidField", "foo"),
        ("InvalidField", "email"),
        ("InvalidField", "phone"),
        ("InvalidField", "state"),
    ]


def test_create_needs_an_email_or_a_phone_but_an_update_does_not():
    assert errors_of({"first_name": "A"}) == [("RequiredField", "email")]
    assert clean_customer({"first_name": "A"}, store=CANADA, partial=True) == {"first_name": "A"}


def test_non_object_is_invalid_json_input():
    assert errors_of([1]) == [("InvalidJsonInput", None)]


def test_first_address_becomes_default():
    cleaned = clean_customer({"email": "a@b.com", "addresses": [{"city": "A"}, {"city": "B"}]}, store=CANADA)
    assert [a.get("is_default", False) for a in cleaned["_addresses"]] == [True, False]


def test_address_errors_name_their_position():
    assert errors_of({"email": "a@b.com", "addresses": [{"city": "A"}, {"zip": 5}]}) == [
        ("InvalidField", "addresses[1].zip")
    ]


@pytest.mark.parametrize("version", [0, -1, "1", True, 1.5])
def test_version_must_be_a_positive_integer(version):
    assert errors_of({"email": "a@b.com", "version": version}) == [("InvalidField", "version")]
