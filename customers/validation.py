"""The customer's field rules, as plain functions shared by the API, the bulk upload and the importer.

`clean_customer(data, store=..., partial=...)` checks one incoming representation and returns the
model's field values, normalised (email key, E.164 phone, tags, currency), or raises
ValidationFailed listing every bad field. It touches no database: uniqueness is the constraints' job.
Each field has its cleaner (`CLEANERS`); the field list itself is customers.fields.
"""

from collections.abc import Callable
from itertools import repeat
from operator import le
from typing import Any

import pycountry
from django.core.exceptions import ValidationError as DjangoValidationError

from accounts.passwords import FORMATS_HELP, MAX_PASSWORD_HASH_LENGTH, stored_password_hash
from customers.emails import LOOKALIKE_CODE, email_key, normalize_email, validate_email
from customers.errors import LOOKALIKE_EMAIL, customer_not_an_object, email_or_phone_required_entry
from customers.field_checker import FieldChecker
from customers.fields import KNOWN_FIELDS
from customers.metadata import clean_metadata, clean_private_metadata
from customers.models import CustomerState, MarketingOptInLevel
from customers.phones import MAX_PHONE_INPUT_LENGTH, normalize_phone
from tenants.models import Store
from twc.api.errors import MAX_ERRORS, FieldError, invalid_field_entry
from twc.text import CONTROL_OR_BREAK

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


# A field's cleaner: reads data[its field], adds the model values to `cleaned` or fails on `check`.
Cleaner = Callable[[dict, dict, FieldChecker, Store, bool], None]


def _clean_id(data: dict, cleaned: dict, check: FieldChecker, store: Store, partial: bool) -> None:
    ref = data["id"]
    if ref is None:
        return  # a create: the service assigns the twc_customer_id; an update: the id is unchanged
    if not isinstance(ref, str) or not ref.strip() or len(ref) > 255 or CONTROL_OR_BREAK.search(ref):
        check.fail("id", "'id' must be a string of 1 to 255 printable characters.")
    else:
        cleaned["ref"] = ref.strip()


def _clean_email(data: dict, cleaned: dict, check: FieldChecker, store: Store, partial: bool) -> None:
    email = check.text(data, "email", 254, nullable_as=None)
    if email:
        try:
            validate_email(email)
        except DjangoValidationError as error:
            lookalike = error.code == LOOKALIKE_CODE
            check.fail("email", LOOKALIKE_EMAIL if lookalike else "'email' is not a valid email address.")
        else:
            cleaned["email"] = normalize_email(email)
            cleaned["email_key"] = email_key(email)
    elif email is not None or data["email"] is None:
        cleaned["email"] = cleaned["email_key"] = None


def _clean_phone(data: dict, cleaned: dict, check: FieldChecker, store: Store, partial: bool) -> None:
    phone = check.text(data, "phone", MAX_PHONE_INPUT_LENGTH, nullable_as=None)
    if phone:
        try:
            cleaned["phone"] = normalize_phone(phone, store.country)
        except ValueError:
            check.fail("phone", f"'phone' is not a dialable number (national numbers are read as {store.country}).")
    elif phone is not None or data["phone"] is None:
        cleaned["phone"] = None


def _text(field: str, max_length: int, *, multiline: bool = False) -> Cleaner:
    """The cleaner of a text field whose null means ""."""

    def clean_text(data: dict, cleaned: dict, check: FieldChecker, store: Store, partial: bool) -> None:
        value = check.text(data, field, max_length, multiline=multiline)
        if value is not None:
            cleaned[field] = value

    return clean_text


def _boolean(field: str) -> Cleaner:
    def clean_boolean(data: dict, cleaned: dict, check: FieldChecker, store: Store, partial: bool) -> None:
        value = check.boolean(data, field)
        if value is not None:
            cleaned[field] = value

    return clean_boolean


def _clean_multipass_identifier(data: dict, cleaned: dict, check: FieldChecker, store: Store, partial: bool) -> None:
    cleaned["multipass_identifier"] = check.text(data, "multipass_identifier", 255, nullable_as=None) or None


def _clean_password_hash(data: dict, cleaned: dict, check: FieldChecker, store: Store, partial: bool) -> None:
    value = data["password_hash"]
    if value is None or value == "":
        return  # no password: the customer gets one through an invite, a reset or Multipass
    stored = stored_password_hash(value) if isinstance(value, str) and len(value) <= MAX_PASSWORD_HASH_LENGTH else None
    if stored is None:
        check.fail("password_hash", f"'password_hash' must be {FORMATS_HELP}.")
    else:
        cleaned["password"] = stored


def _clean_state(data: dict, cleaned: dict, check: FieldChecker, store: Store, partial: bool) -> None:
    value = check.choice(data, "state", CustomerState.values)
    if value is not None:
        cleaned["state"] = value


def _clean_accepts_marketing_updated_at(
    data: dict, cleaned: dict, check: FieldChecker, store: Store, partial: bool
) -> None:
    value = check.timestamp(data, "accepts_marketing_updated_at")
    if value is not None or data["accepts_marketing_updated_at"] is None:
        cleaned["accepts_marketing_updated_at"] = value


def _clean_marketing_opt_in_level(data: dict, cleaned: dict, check: FieldChecker, store: Store, partial: bool) -> None:
    cleaned["marketing_opt_in_level"] = check.choice(
        data, "marketing_opt_in_level", MarketingOptInLevel.values, nullable=True
    )


def _clean_currency(data: dict, cleaned: dict, check: FieldChecker, store: Store, partial: bool) -> None:
    value = data["currency"]
    if value is None:
        cleaned["currency"] = store.currency
    elif not isinstance(value, str) or value.strip().upper() not in CURRENCY_CODES:
        check.fail("currency", "'currency' must be an ISO 4217 code such as 'CAD'.")
    else:
        cleaned["currency"] = value.strip().upper()


def _clean_tax_exemptions(data: dict, cleaned: dict, check: FieldChecker, store: Store, partial: bool) -> None:
    value = data["tax_exemptions"]
    if value is None:
        value = []
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        check.fail("tax_exemptions", "'tax_exemptions' must be an array of exemption codes.")
        return
    bad = [code for code in value if code not in TAX_EXEMPTION_CODES]
    if bad:
        check.fail("tax_exemptions", f"Unknown tax exemption code '{bad[0][:100]}'.")
    else:
        cleaned["tax_exemptions"] = list(dict.fromkeys(value))


def _clean_tags(data: dict, cleaned: dict, check: FieldChecker, store: Store, partial: bool) -> None:
    value = data["tags"]
    if value is None:
        value = ""
    if not isinstance(value, str) and not (isinstance(value, list) and all(isinstance(t, str) for t in value)):
        check.fail("tags", "'tags' must be a comma-separated string or an array of strings.")
        return
    if CONTROL_OR_BREAK.search(value if isinstance(value, str) else "".join(value)):
        check.fail("tags", "'tags' contains control characters.")
        return
    tags = normalize_tags(value)
    if len(tags) > MAX_TAGS:
        check.fail("tags", f"A customer can have at most {MAX_TAGS} tags.")
    elif max(map(len, tags), default=0) > MAX_TAG_LENGTH:
        check.fail("tags", f"A tag can have at most {MAX_TAG_LENGTH} characters.")
    elif "," in "".join(tags):
        check.fail("tags", "A tag cannot contain a comma.")
    else:
        cleaned["tags"] = join_tags(tags)


def _clean_address_list(data: dict, cleaned: dict, check: FieldChecker, store: Store, partial: bool) -> None:
    addresses = _clean_addresses(data["addresses"], check)
    if addresses is not None:
        cleaned["_addresses"] = addresses


def _clean_version(data: dict, cleaned: dict, check: FieldChecker, store: Store, partial: bool) -> None:
    value = data["version"]
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        check.fail("version", "'version' must be a positive integer.")
    else:
        cleaned["_version"] = value


# Every field a client writes, by API name, in the order their errors are listed.
CLEANERS: tuple[tuple[str, Cleaner], ...] = (
    ("id", _clean_id),
    ("email", _clean_email),
    ("phone", _clean_phone),
    ("first_name", _text("first_name", 255)),
    ("last_name", _text("last_name", 255)),
    ("note", _text("note", MAX_NOTE_LENGTH, multiline=True)),
    ("multipass_identifier", _clean_multipass_identifier),
    ("state", _clean_state),
    ("verified_email", _boolean("verified_email")),
    ("accepts_marketing", _boolean("accepts_marketing")),
    ("tax_exempt", _boolean("tax_exempt")),
    ("accepts_marketing_updated_at", _clean_accepts_marketing_updated_at),
    ("marketing_opt_in_level", _clean_marketing_opt_in_level),
    ("currency", _clean_currency),
    ("tax_exemptions", _clean_tax_exemptions),
    ("tags", _clean_tags),
    ("metadata", clean_metadata),
    ("private_metadata", clean_private_metadata),
    ("addresses", _clean_address_list),
    ("version", _clean_version),
    ("password_hash", _clean_password_hash),
)


def clean_customer(data: Any, *, store: Store, partial: bool = False, max_errors: int = MAX_ERRORS) -> dict:
    """Validate one customer representation; return model field values for the fields it sent.

    Keys of the result are model field names (`ref` for the API's `id`, `email_key` beside
    `email`, `_addresses` for the address list, `_version` for the optimistic-lock version).
    The error lists at most `max_errors` entries and counts the others (a bulk item lists fewer).
    """
    if not isinstance(data, dict):
        raise customer_not_an_object()
    check = FieldChecker(limit=max_errors)
    check.unknown_fields(data, KNOWN_FIELDS)
    cleaned: dict[str, Any] = {}
    for field, clean in CLEANERS:
        if field in data:
            clean(data, cleaned, check, store, partial)
    if not partial and not cleaned.get("email") and not cleaned.get("phone"):
        if not check.failed_fields.intersection(("email", "phone")):
            check.add(email_or_phone_required_entry())
    check.raise_if_failed()
    return cleaned


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
        if not isinstance(item, dict):
            check.fail(f"addresses[{index}]", "An address must be a JSON object.")
            continue
        addresses.append(_clean_address(item, index, check))
    defaults = [a for a in addresses if a.get("is_default")]
    if len(defaults) > 1:
        check.fail("addresses", "At most one address can be the default.")
        return None
    if addresses and not defaults:
        addresses[0]["is_default"] = True  # the contract: the first one when none is marked
    return addresses


def _clean_address(item: dict, index: int, check: FieldChecker) -> dict:
    """One address's values (model field names); its errors name it by its position."""
    prefix = f"addresses[{index}]."
    inner = FieldChecker(prefix=prefix, limit=check.room)
    inner.unknown_fields(item, ADDRESS_FIELDS, lambda key: _unknown_address_field_entry(prefix, key))
    address = _address_texts(item, inner)
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
    check.merge(inner)
    return address


def _unknown_address_field_entry(prefix: str, key: Any) -> FieldError:
    shown = str(key)[:100]
    return invalid_field_entry(prefix + shown, f"Unknown address field '{shown}'.")


def _address_texts(item: dict, check: FieldChecker) -> dict[str, Any]:
    fields = list(item.keys() & ADDRESS_TEXT_FIELDS.keys())
    texts = list(map(item.__getitem__, fields))
    if _plain_texts(fields, texts, ADDRESS_TEXT_FIELDS):
        return dict(zip(fields, map(str.strip, texts), strict=True))
    address = {}  # field by field, to name each one at fault
    for key, max_length in ADDRESS_TEXT_FIELDS.items():
        if key in item:
            text = check.text(item, key, max_length)
            if text is not None:
                address[key] = text
    return address


def _plain_texts(fields: list[str], values: list[Any], max_lengths: dict[str, int]) -> bool:
    """Every value a string within its field's length, and no control character in any: what
    FieldChecker.text accepts, checked at once (in builtins, no Python loop) for the usual row."""
    return (
        all(map(isinstance, values, repeat(str)))
        and all(map(le, map(len, values), map(max_lengths.__getitem__, fields)))
        and CONTROL_OR_BREAK.search("".join(values)) is None
    )
