"""The customer's field rules, as plain functions shared by the API, the bulk upload and the importer.

`clean_customer(data, store=..., partial=...)` checks one incoming representation and returns the
model's field values, normalised (email key, E.164 phone, tags, currency), or raises
ValidationFailed listing every bad field. It touches no database: uniqueness is the constraints' job.
"""

import datetime as dt
import re
from itertools import repeat
from operator import le
from typing import Any

import phonenumbers
import pycountry
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator
from django.utils.dateparse import parse_datetime

from customers.errors import customer_not_an_object, email_or_phone_required_entry
from customers.models import CustomerState, MarketingOptInLevel
from tenants.models import Store
from twc.api.errors import FieldError, ValidationFailed, invalid_field_entry, unknown_field_entry


class _EmailValidator(EmailValidator):
    """Django's email rules, its patterns compiled at import: Django compiles them lazily behind a
    proxy object, whose every use costs more than the match itself."""

    user_regex = re.compile(EmailValidator.user_regex.pattern, EmailValidator.user_regex.flags)
    domain_regex = re.compile(EmailValidator.domain_regex.pattern, EmailValidator.domain_regex.flags)
    literal_regex = re.compile(EmailValidator.literal_regex.pattern, EmailValidator.literal_regex.flags)


validate_email = _EmailValidator()

# Keep every compiled metadata pattern: each phone check matches several of them, and re's own
# cache lookup costs more than the match (about a quarter of a bulk row's validation).
phonenumbers.enable_pattern_cache()

CURRENCY_CODES = frozenset(currency.alpha_3 for currency in pycountry.currencies)
COUNTRY_CODES = frozenset(country.alpha_2 for country in pycountry.countries)

# The Canadian exemption codes Shopify's Customer resource accepts.
TAX_EXEMPTION_CODES = frozenset(
    {
        "CA_STATUS_CARD_EXEMPTION",
        "CA_DIPLOMAT_EXEMPTION",
        "CA_BC_RESELLER_EXEMPTION",
        "CA_MB_RESELLER_EXEMPTION",
        "CA_SK_RESELLER_EXEMPTION",
        "CA_BC_COMMERCIAL_FISHERY_EXEMPTION",
        "CA_MB_COMMERCIAL_FISHERY_EXEMPTION",
        "CA_NS_COMMERCIAL_FISHERY_EXEMPTION",
        "CA_PE_COMMERCIAL_FISHERY_EXEMPTION",
        "CA_SK_COMMERCIAL_FISHERY_EXEMPTION",
        "CA_BC_PRODUCTION_AND_MACHINERY_EXEMPTION",
        "CA_SK_PRODUCTION_AND_MACHINERY_EXEMPTION",
        "CA_BC_SUB_CONTRACTOR_EXEMPTION",
        "CA_SK_SUB_CONTRACTOR_EXEMPTION",
        "CA_BC_CONTRACTOR_EXEMPTION",
        "CA_SK_CONTRACTOR_EXEMPTION",
        "CA_ON_PURCHASE_EXEMPTION",
        "CA_MB_FARMER_EXEMPTION",
        "CA_NS_FARMER_EXEMPTION",
        "CA_SK_FARMER_EXEMPTION",
    }
)

# Sent back by clients that PUT what they read; ignored.
READ_ONLY_FIELDS = frozenset(
    {
        "twc_customer_id",
        "admin_graphql_api_id",
        "created_at",
        "updated_at",
        "orders_count",
        "total_spent",
        "last_order_id",
        "last_order_name",
        "default_address",
        "invite",  # in the answer of POST /api/customers/{id}/send_invite
    }
)
# The customer's own fields a client writes, by model field name (the API calls `ref` `id`).
WRITABLE_MODEL_FIELDS = (
    "ref",
    "email",
    "phone",
    "first_name",
    "last_name",
    "note",
    "state",
    "verified_email",
    "accepts_marketing",
    "accepts_marketing_updated_at",
    "marketing_opt_in_level",
    "multipass_identifier",
    "currency",
    "tax_exempt",
    "tax_exemptions",
    "tags",
)
# The API's names: `id` for `ref`, plus the address list and the optimistic-lock version.
WRITABLE_FIELDS = frozenset({"id" if name == "ref" else name for name in WRITABLE_MODEL_FIELDS}) | {
    "addresses",
    "version",
}
KNOWN_FIELDS = WRITABLE_FIELDS | READ_ONLY_FIELDS
ADDRESS_TEXT_FIELDS = {
    "first_name": 255,
    "last_name": 255,
    "company": 255,
    "address1": 255,
    "address2": 255,
    "city": 255,
    "province": 255,
    "province_code": 32,
    "country": 255,
    "country_code": 2,
    "zip": 32,
    "phone": 255,
    "name": 255,
}
ADDRESS_FIELDS = frozenset(ADDRESS_TEXT_FIELDS) | {"id", "default", "customer_id"}

MAX_TAGS = 250
MAX_TAG_LENGTH = 255
MAX_NOTE_LENGTH = 5000
MAX_ADDRESSES = 100

# C0/C1 control characters other than tab, newline and carriage return (allowed in notes).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_OR_BREAK = CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def normalize_email(raw: str) -> str:
    """Trimmed address; the key used for uniqueness is `email_key(...)`."""
    return raw.strip()


def email_key(email: str | None) -> str | None:
    """Case-insensitive identity of an address (casefold, so SQLite and PostgreSQL agree)."""
    return (email.strip().casefold() or None) if email else None


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


def _matches_desc(national: str, desc) -> bool:
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


def normalize_tags(raw: str | list) -> list[str]:
    """Split, trim, drop empties and case-insensitive duplicates (the first spelling wins)."""
    parts = raw.split(",") if isinstance(raw, str) else raw
    seen: set[str] = set()
    tags: list[str] = []
    for part in parts:
        tag = part.strip()
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    return tags


def join_tags(tags: list[str]) -> str:
    return ", ".join(tags)


class FieldChecker:
    """Collects every field error of one payload instead of stopping at the first."""

    def __init__(self, prefix: str = ""):
        self.errors: list[FieldError] = []
        self.prefix = prefix

    def fail(self, field: str, message: str) -> None:
        self.errors.append(invalid_field_entry(self.prefix + field, message))

    def text(self, data: dict, field: str, max_length: int, *, multiline: bool = False, nullable_as: Any = ""):
        value = data[field]
        if value is None:
            return nullable_as
        if not isinstance(value, str):
            self.fail(field, f"'{field}' must be a string.")
            return None
        if len(value) > max_length:
            self.fail(field, f"'{field}' is longer than {max_length} characters.")
            return None
        if (_CONTROL if multiline else _CONTROL_OR_BREAK).search(value):
            self.fail(field, f"'{field}' contains control characters.")
            return None
        return value.strip() if not multiline else value

    def boolean(self, data: dict, field: str):
        value = data[field]
        if not isinstance(value, bool):
            self.fail(field, f"'{field}' must be true or false.")
            return None
        return value

    def choice(self, data: dict, field: str, choices, *, nullable: bool = False):
        value = data[field]
        if value is None and nullable:
            return None
        if value not in choices:
            allowed = ", ".join(sorted(choices))
            self.fail(field, f"'{field}' must be one of: {allowed}.")
            return None
        return value

    def timestamp(self, data: dict, field: str):
        value = data[field]
        if value is None:
            return None
        parsed = None
        if isinstance(value, str) and len(value) <= 64:
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
        if parsed is None:
            self.fail(field, f"'{field}' must be an ISO 8601 date and time.")
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)  # the contract: no offset means UTC
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError:  # 0001-01-01T00:00:00+05:00 is before the first representable instant
            self.fail(field, f"'{field}' is out of range.")
            return None


def clean_customer(data: Any, *, store: Store, partial: bool = False) -> dict:
    """Validate one customer representation; return model field values for the fields it sent.

    Keys of the result are model field names (`ref` for the API's `id`, `email_key` beside
    `email`, `_addresses` for the address list, `_version` for the optimistic-lock version).
    """
    if not isinstance(data, dict):
        raise customer_not_an_object()
    check = FieldChecker()
    unknown = [key for key in data if key not in KNOWN_FIELDS] if data.keys() - KNOWN_FIELDS else ()
    for key in unknown:
        check.errors.append(unknown_field_entry(key))
    cleaned: dict[str, Any] = {}

    if "id" in data:
        ref = data["id"]
        if ref is None and not partial:
            pass  # the service assigns the twc_customer_id
        elif not isinstance(ref, str) or not ref.strip() or len(ref) > 255 or _CONTROL_OR_BREAK.search(ref):
            check.fail("id", "'id' must be a string of 1 to 255 printable characters.")
        else:
            cleaned["ref"] = ref.strip()

    if "email" in data:
        email = check.text(data, "email", 254, nullable_as=None)
        if email:
            try:
                validate_email(email)
            except DjangoValidationError:
                check.fail("email", "'email' is not a valid email address.")
            else:
                cleaned["email"] = normalize_email(email)
                cleaned["email_key"] = email_key(email)
        elif email is not None or data["email"] is None:
            cleaned["email"] = cleaned["email_key"] = None

    if "phone" in data:
        phone = check.text(data, "phone", 64, nullable_as=None)
        if phone:
            try:
                cleaned["phone"] = normalize_phone(phone, store.country)
            except ValueError:
                check.fail("phone", f"'phone' is not a dialable number (national numbers are read as {store.country}).")
        elif phone is not None or data["phone"] is None:
            cleaned["phone"] = None

    for field in ("first_name", "last_name"):
        if field in data:
            value = check.text(data, field, 255)
            if value is not None:
                cleaned[field] = value
    if "note" in data:
        value = check.text(data, "note", MAX_NOTE_LENGTH, multiline=True)
        if value is not None:
            cleaned["note"] = value
    if "multipass_identifier" in data:
        value = check.text(data, "multipass_identifier", 255, nullable_as=None)
        cleaned["multipass_identifier"] = value or None

    if "state" in data:
        value = check.choice(data, "state", CustomerState.values)
        if value is not None:
            cleaned["state"] = value
    for field in ("verified_email", "accepts_marketing", "tax_exempt"):
        if field in data:
            value = check.boolean(data, field)
            if value is not None:
                cleaned[field] = value
    if "accepts_marketing_updated_at" in data:
        value = check.timestamp(data, "accepts_marketing_updated_at")
        if value is not None or data["accepts_marketing_updated_at"] is None:
            cleaned["accepts_marketing_updated_at"] = value
    if "marketing_opt_in_level" in data:
        cleaned["marketing_opt_in_level"] = check.choice(
            data, "marketing_opt_in_level", MarketingOptInLevel.values, nullable=True
        )

    if "currency" in data:
        value = data["currency"]
        if value is None:
            cleaned["currency"] = store.currency
        elif not isinstance(value, str) or value.strip().upper() not in CURRENCY_CODES:
            check.fail("currency", "'currency' must be an ISO 4217 code such as 'CAD'.")
        else:
            cleaned["currency"] = value.strip().upper()

    if "tax_exemptions" in data:
        value = data["tax_exemptions"]
        if value is None:
            value = []
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
            check.fail("tax_exemptions", "'tax_exemptions' must be an array of exemption codes.")
        else:
            bad = [code for code in value if code not in TAX_EXEMPTION_CODES]
            if bad:
                check.fail("tax_exemptions", f"Unknown tax exemption code '{bad[0][:100]}'.")
            else:
                cleaned["tax_exemptions"] = list(dict.fromkeys(value))

    if "tags" in data:
        value = data["tags"]
        if value is None:
            value = ""
        if not isinstance(value, (str, list)) or (
            isinstance(value, list) and not all(isinstance(t, str) for t in value)
        ):
            check.fail("tags", "'tags' must be a comma-separated string or an array of strings.")
        elif (
            isinstance(value, str)
            and _CONTROL_OR_BREAK.search(value)
            or isinstance(value, list)
            and _CONTROL_OR_BREAK.search("".join(value))
        ):
            check.fail("tags", "'tags' contains control characters.")
        else:
            tags = normalize_tags(value)
            if len(tags) > MAX_TAGS:
                check.fail("tags", f"A customer can have at most {MAX_TAGS} tags.")
            elif max(map(len, tags), default=0) > MAX_TAG_LENGTH:
                check.fail("tags", f"A tag can have at most {MAX_TAG_LENGTH} characters.")
            elif "," in "".join(tags):
                check.fail("tags", "A tag cannot contain a comma.")
            else:
                cleaned["tags"] = join_tags(tags)

    if "addresses" in data:
        addresses = _clean_addresses(data["addresses"], check)
        if addresses is not None:
            cleaned["_addresses"] = addresses

    if "version" in data:
        value = data["version"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            check.fail("version", "'version' must be a positive integer.")
        elif value is not None:
            cleaned["_version"] = value

    if not partial and not cleaned.get("email") and not cleaned.get("phone"):
        if not any(e.field in ("email", "phone") for e in check.errors):
            check.errors.append(email_or_phone_required_entry())

    if check.errors:
        raise ValidationFailed(check.errors)
    return cleaned


def _plain_texts(fields: list[str], values: list[Any], max_lengths: dict[str, int]) -> bool:
    """Every value a string within its field's length, and no control character in any: what
    FieldChecker.text accepts, checked at once (in builtins, no Python loop) for the usual row."""
    return (
        all(map(isinstance, values, repeat(str)))
        and all(map(le, map(len, values), map(max_lengths.__getitem__, fields)))
        and _CONTROL_OR_BREAK.search("".join(values)) is None
    )


def _clean_addresses(value: Any, check: FieldChecker) -> list[dict] | None:
    if value is None:
        return []
    if not isinstance(value, list):
        check.fail("addresses", "'addresses' must be an array of address objects.")
        return None
    if len(value) > MAX_ADDRESSES:
        check.fail("addresses", f"A customer can have at most {MAX_ADDRESSES} addresses.")
        return None
    addresses = []
    for index, item in enumerate(value):
        inner = FieldChecker(prefix=f"addresses[{index}].")
        if not isinstance(item, dict):
            check.fail(f"addresses[{index}]", "An address must be a JSON object.")
            continue
        if item.keys() - ADDRESS_FIELDS:
            for key in item:
                if key not in ADDRESS_FIELDS:
                    inner.fail(str(key)[:100], f"Unknown address field '{str(key)[:100]}'.")
        fields = list(item.keys() & ADDRESS_TEXT_FIELDS.keys())
        texts = list(map(item.__getitem__, fields))
        if _plain_texts(fields, texts, ADDRESS_TEXT_FIELDS):
            address: dict[str, Any] = dict(zip(fields, map(str.strip, texts), strict=True))
        else:  # field by field, to name each one at fault
            address = {}
            for key, max_length in ADDRESS_TEXT_FIELDS.items():
                if key in item:
                    text = inner.text(item, key, max_length)
                    if text is not None:
                        address[key] = text
        if address.get("country_code"):
            code = address["country_code"].upper()
            if code not in COUNTRY_CODES:
                inner.fail("country_code", "'country_code' must be an ISO 3166-1 alpha-2 code.")
            address["country_code"] = code
        if "default" in item:
            default = inner.boolean(item, "default")
            address["is_default"] = bool(default)
        if "id" in item and item["id"] is not None:
            if isinstance(item["id"], bool) or not isinstance(item["id"], int):
                inner.fail("id", "An address 'id' must be an integer.")
            else:
                address["id"] = item["id"]
        check.errors.extend(inner.errors)
        addresses.append(address)
    defaults = [a for a in addresses if a.get("is_default")]
    if len(defaults) > 1:
        check.fail("addresses", "At most one address can be the default.")
        return None
    if addresses and not defaults:
        addresses[0]["is_default"] = True  # the contract: the first one when none is marked
    return addresses
