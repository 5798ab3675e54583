"""Property tests of normalisation (hypothesis): idempotent, case-insensitive emails collide, every
format of one phone number stores one E.164 value, tags round-trip. Example counts are kept small
so that the suite stays fast; each service example runs in a savepoint that is rolled back."""

from collections import Counter

import phonenumbers
import pytest
from django.db import transaction
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from customers.emails import email_key, normalize_email
from customers.phones import normalize_phone
from customers.services import customer_create
from customers.validation import join_tags, normalize_tags
from tests.factories import store_make
from twc.api.errors import ApiError, ValidationFailed

PURE = settings(max_examples=200, deadline=None)
WITH_DB = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

EXAMPLES: Counter = Counter()


@pytest.fixture(autouse=True, scope="module")
def _print_example_counts():
    yield
    print(f"\nproperties: {len(EXAMPLES)} properties, {sum(EXAMPLES.values())} examples run")


REGIONS = ["CA", "US", "GB", "FR", "DE", "AU", "JP", "BR", "IN", "ZA", "MX", "NL"]
NUMBER_TYPES = [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]


@st.composite
def phone_numbers(draw) -> tuple[str, phonenumbers.PhoneNumber]:
    """A valid number of one of REGIONS: the region's example number with other last digits."""
    region = draw(st.sampled_from(REGIONS))
    example = phonenumbers.example_number_for_type(region, draw(st.sampled_from(NUMBER_TYPES)))
    national = str(example.national_number)
    national = national[:-3] + f"{draw(st.integers(0, 999)):03d}"
    number = phonenumbers.parse(f"+{example.country_code}{national}")
    assume(phonenumbers.is_valid_number(number) and phonenumbers.region_code_for_number(number) == region)
    return region, number


@st.composite
def spellings(draw, number: phonenumbers.PhoneNumber) -> str:
    """One way a person or a system writes the number."""
    style = draw(st.sampled_from(["e164", "international", "national", "rfc3966", "international-respaced"]))
    if style == "e164":
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if style == "national":
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    if style == "rfc3966":
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.RFC3966)
    text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if style == "international-respaced":
        separator = draw(st.sampled_from(["", "-", ".", "  ", " - "]))
        text = text.replace(" ", separator).replace("-", separator)
    return text


@st.composite
def case_variants(draw, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if flip else c.lower() for c, flip in zip(text, flips, strict=True))


TAG_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=","), min_size=0, max_size=20
)
TAG_LISTS = st.lists(TAG_TEXT, max_size=12)


@PURE
@given(st.text(max_size=60))
def test_email_key_is_idempotent(text):
    EXAMPLES["test_email_key_is_idempotent"] += 1
    key = email_key(text)
    assert email_key(key) == key
    if text.strip():
        assert email_key(normalize_email(text)) == key


@PURE
@given(st.emails(), st.data())
def test_an_email_and_its_case_variants_have_one_key(email, data):
    EXAMPLES["test_an_email_and_its_case_variants_have_one_key"] += 1
    variant = data.draw(case_variants(email))
    assert email_key(variant) == email_key(email) == email_key(email.upper())


@PURE
@given(phone_numbers(), st.data())
def test_every_spelling_of_a_phone_number_normalises_to_one_e164_value(region_number, data):
    EXAMPLES["test_every_spelling_of_a_phone_number_normalises_to_one_e164_value"] += 1
    region, number = region_number
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    spelling = data.draw(spellings(number))
    assert normalize_phone(spelling, region) == e164
    # Idempotent, and an E.164 value reads the same in any store's country.
    assert normalize_phone(e164, data.draw(st.sampled_from(REGIONS))) == e164


@PURE
@given(st.one_of(TAG_LISTS, TAG_LISTS.map(",".join)))
def test_tag_normalisation_is_idempotent_and_round_trips_through_its_string(raw):
    EXAMPLES["test_tag_normalisation_is_idempotent_and_round_trips_through_its_string"] += 1
    tags = normalize_tags(raw)
    assert normalize_tags(tags) == tags
    assert normalize_tags(join_tags(tags)) == tags
    assert len({tag.casefold() for tag in tags}) == len(tags)
    assert all(tag == tag.strip() and tag for tag in tags)


@pytest.fixture
def stores(db):
    """One store per region, created once per test (examples roll back their own writes)."""
    return {
        region: store_make(name=f"Store {region}", tenant_name="Property tenant", country=region) for region in REGIONS
    }


def create_then_rollback(store, *bodies) -> list:
    """Create each body in turn inside one savepoint that is rolled back; return each outcome."""
    outcomes = []
    with transaction.atomic():
        for body in bodies:
            try:
                outcomes.append(customer_create(store=store, data=body)[0])
            except ApiError as error:
                outcomes.append(error)
        transaction.set_rollback(True)
    return outcomes


@WITH_DB
@given(email=st.emails(), data=st.data())
def test_a_case_variant_of_a_stored_email_is_a_duplicate(stores, email, data):
    EXAMPLES["test_a_case_variant_of_a_stored_email_is_a_duplicate"] += 1
    variant = data.draw(case_variants(email))
    first, second = create_then_rollback(stores["CA"], {"email": email}, {"email": variant})
    assume(not isinstance(first, ValidationFailed))  # hypothesis' emails include some Django refuses
    assert first.email == email and first.email_key == email_key(email)
    assert isinstance(second, ApiError) and second.status == 409
    assert (second.errors[0].code, second.errors[0].field) == ("DuplicateField", "email")


@WITH_DB
@given(region_number=phone_numbers(), data=st.data())
def test_any_spelling_of_a_stored_phone_number_stores_one_value_and_collides(stores, region_number, data):
    EXAMPLES["test_any_spelling_of_a_stored_phone_number_stores_one_value_and_collides"] += 1
    region, number = region_number
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    spelling, other = data.draw(spellings(number)), data.draw(spellings(number))
    first, second = create_then_rollback(stores[region], {"phone": spelling}, {"phone": other})
    assert first.phone == e164
    assert isinstance(second, ApiError) and second.status == 409
    assert (second.errors[0].code, second.errors[0].field) == ("DuplicateField", "phone")


@WITH_DB
@given(raw=st.one_of(TAG_LISTS, TAG_LISTS.map(",".join)))
def test_tags_round_trip_through_the_service(stores, raw):
    EXAMPLES["test_tags_round_trip_through_the_service"] += 1
    expected = join_tags(normalize_tags(raw))
    first, again = create_then_rollback(
        stores["US"], {"email": "tags@example.com", "tags": raw}, {"email": "again@example.com", "tags": expected}
    )
    assert first.tags == expected
    assert again.tags == expected
