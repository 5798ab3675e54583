"""The shortcuts of normalize_phone (the E.164 fast path, the store's region asked first) give exactly the
full parse's answer."""

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from customers.phones import _e164_fast, normalize_phone


def full_path(raw: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def fast_or_full(raw: str, region: str) -> str | None:
    try:
        return normalize_phone(raw, region)
    except ValueError:
        return None


def example_numbers() -> list[str]:
    numbers = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for number_type in range(11):
            example = phonenumbers.example_number_for_type(region, number_type)
            if example is not None:
                e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                numbers += [e164, e164[:-1], e164 + "1", e164[:3] + "0" + e164[3:], e164[:3] + "1" + e164[3:]]
    return numbers


def test_national_numbers_equal_full_parse_in_every_nanp_region_and_beyond():
    # A national number read in the store's region: the region asked first must not change the answer.
    for region in ("CA", "US", "JM", "PR", "GB", "IT", "FR"):
        for other in sorted(phonenumbers.SUPPORTED_REGIONS):
            for number_type in range(11):
                example = phonenumbers.example_number_for_type(other, number_type)
                if example is None:
                    continue
                national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
                for raw in (national, national[:-1], national + "9"):
                    assert fast_or_full(raw, region) == full_path(raw, region), (raw, region)


def test_fast_path_equals_full_parse_on_every_region_example():
    numbers = example_numbers()
    assert len(numbers) > 5000
    for raw in numbers:
        for region in ("CA", "GB", "IT"):
            assert fast_or_full(raw, region) == full_path(raw, region), raw
    valid = numbers[::5]  # the untouched examples
    served = sum(_e164_fast(raw, "CA") is not None for raw in valid)
    assert served > 0.9 * len(valid)  # the fast path serves nearly every valid E.164 number


@settings(max_examples=3000, deadline=None)
@given(st.from_regex(r"\+[0-9]{2,17}", fullmatch=True))
def test_fast_path_equals_full_parse_on_any_digits(raw):
    assert fast_or_full(raw, "CA") == full_path(raw, "CA")
    fast = _e164_fast(raw, "CA")
    assert fast is None or fast == full_path(raw, "CA")


@settings(max_examples=3000, deadline=None)
@given(
    st.from_regex(r"(\+?[0-9][-. ]?)?\(?[0-9]{3}\)?[-. ]?[0-9]{3}[-. ]?[0-9]{4}", fullmatch=True),
    st.sampled_from(["CA", "US", "JM", "GB"]),
)
def test_north_american_national_numbers_equal_full_parse(raw, region):
    assert fast_or_full(raw, region) == full_path(raw, region)
