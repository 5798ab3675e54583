"""Phone numbers to E.164: `normalize_phone`, and the shortcuts that serve the formats most rows carry.

The shortcuts use phonenumbers' metadata and a few of its private helpers (phonenumbers is pinned);
each gives the full parse's answer or steps aside (tests/customers/test_phone_fast_path.py).
"""

import re

import phonenumbers

# The longest phone a client may send, in any format (an E.164 number has at most 16 characters).
MAX_PHONE_INPUT_LENGTH = 64

# Keep every compiled metadata pattern: each phone check matches several of them, and re's own
# cache lookup costs more than the match.
phonenumbers.enable_pattern_cache()


def normalize_phone(raw: str, region: str) -> str:
    """E.164 form of a dialable number; national numbers are read in the store's country.

    Raises ValueError for anything that cannot be dialled. Two shortcuts serve the formats most
    rows carry (E.164, North American national); anything else, or anything they doubt, takes
    the full parse, so the answer is always the full parse's (tests/customers/test_phone_fast_path.py).
    """
    fast = _e164_fast(raw, region) or _nanp_national_fast(raw, region)
    if fast is not None:
        return fast
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(str(exc)) from None
    if not is_dialable(number, region):
        raise ValueError("not a dialable phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_E164 = re.compile(r"\+[1-9][0-9]{1,16}")


def _e164_fast(raw: str, region: str) -> str | None:
    """`raw` itself when it is already a valid E.164 number, else None (then the full parse decides).

    Most of a bulk row's validation is phonenumbers.parse + is_valid_number. For "+<digits>" input,
    parse does what is done here (country code, then national number) plus steps that change
    nothing when the national number has no leading zero and no national prefix to strip; any such
    number goes the full way, so the result is always the full path's (tests compare the two).
    """
    if not _E164.fullmatch(raw):
        return None
    digits = raw[1:]
    for size in (1, 2, 3):
        country_code = int(digits[:size])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[size:]
    if not national or national[0] == "0" or len(national) < 2:
        return None
    main_region = phonenumbers.region_code_for_country_code(country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, main_region)
    if metadata is None:
        return None
    # parse() strips a national prefix even from international numbers: leave those to it.
    _carrier, stripped, _ = phonenumbers.phonenumberutil._maybe_strip_national_prefix_carrier_code(national, metadata)
    if stripped != national:
        return None
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    # The store's own region first when it shares the country code (a Canadian store's +1 numbers
    # are Canadian, not the code's main region's, the US's), else the code's main region.
    first_guess = region if phonenumbers.country_code_for_region(region) == country_code else main_region
    return raw if is_dialable(number, first_guess) else None


def is_dialable(number: phonenumbers.PhoneNumber, region: str) -> bool:
    """phonenumbers.is_valid_number, asking the store's region first.

    is_valid_number looks for the number's region among every region of its country code (about
    25 share +1) before checking the number there; most of a store's customers live in its own
    region, where one check settles it. Valid there means valid; otherwise the full search decides.
    """
    if _valid_for_region(number, region):
        return True
    return phonenumbers.is_valid_number(number)


# The number types of phonenumbers' metadata, the common ones first.
_NUMBER_TYPE_DESCS = (
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)


def _valid_for_region(number: phonenumbers.PhoneNumber, region: str) -> bool:
    """phonenumbers.is_valid_number_for_region, trying fixed line and mobile first.

    The library finds the number's type by testing premium rate, toll free and six rarer types
    before fixed line; validity only needs to know that some type matches, and nearly every
    customer's number is a fixed line or a mobile one. (Private helpers: phonenumbers is pinned.)
    """
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or number.country_code != metadata.country_code:
        return False
    national = phonenumbers.national_significant_number(number)
    if not _matches_desc(national, metadata.general_desc):
        return False
    return any(_matches_desc(national, getattr(metadata, desc)) for desc in _NUMBER_TYPE_DESCS)


_COMPILED_NUMBER_PATTERNS: dict[str, re.Pattern] = {}


def _matches_desc(national: str, desc: phonenumbers.PhoneNumberDesc | None) -> bool:
    """phonenumbers' _is_number_matching_desc in one step: length, then one fullmatch of the
    compiled pattern (the library's match-then-fullmatch and its pattern lookup cost more)."""
    if desc is None or not desc.national_number_pattern:
        return False
    if desc.possible_length and len(national) not in desc.possible_length:
        return False
    pattern = _COMPILED_NUMBER_PATTERNS.get(desc.national_number_pattern)
    if pattern is None:
        pattern = _COMPILED_NUMBER_PATTERNS[desc.national_number_pattern] = re.compile(desc.national_number_pattern)
    return pattern.fullmatch(national) is not None


# North American numbers as people write them: (613) 555-0100, 613-555-0100, 613.555.0100,
# 6135550100, with or without a leading 1 or +1 (+1 (613) 555-0100, 1-613-555-0100).
_NANP_NATIONAL = re.compile(r"(?:\+?1[-. ]?)?\(?([2-9][0-9]{2})\)?[-. ]?([2-9][0-9]{2})[-. ]?([0-9]{4})")


def _nanp_national_fast(raw: str, region: str) -> str | None:
    """E.164 of a North American number written in a +1 region, else None.

    phonenumbers.parse of such a string keeps exactly these ten digits as the national number (the
    leading 1 is the country code or the national prefix; area codes never start with 0 or 1), so
    only the validity check remains.
    """
    if phonenumbers.country_code_for_region(region) != 1:
        return None
    match = _NANP_NATIONAL.fullmatch(raw.strip())
    if match is None:
        return None
    digits = "".join(match.groups())
    number = phonenumbers.PhoneNumber(country_code=1, national_number=int(digits))
    return "+1" + digits if is_dialable(number, region) else None
