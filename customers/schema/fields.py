"""The building blocks of the customer endpoints' OpenAPI serializers: field types, patterns and
helpers shared by the responses (customers.schema.serializers) and the requests
(customers.schema.inputs)."""

from django.core.exceptions import ImproperlyConfigured
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.passwords import BARE_BCRYPT, DJANGO_FORMATS
from customers.fields import CUSTOMER_FIELDS
from customers.metadata import MAX_METADATA_KEYS, MAX_METADATA_VALUE_LENGTH
from customers.models import MarketingOptInLevel
from customers.validation import (
    CURRENCY_CODES,
    MAX_TAG_LENGTH,
    MAX_TAGS,
)
from twc.api.schema import CONTROL_CLASS, PLAIN_TEXT_PATTERN

OPT_IN_LEVELS = MarketingOptInLevel.values
TIMESTAMP_HELP = "ISO 8601 with an offset; a timestamp sent without one is read as UTC."
# What a client sends with an effect, in the representation's order.
INPUT_FIELDS = tuple(field.api_name for field in CUSTOMER_FIELDS if not field.read_only)
CURRENCIES = sorted(CURRENCY_CODES)
MAX_UPLOAD_ITEMS = 10_000


def in_table_order(described: dict, names: tuple[str, ...]) -> dict:
    """The serializer fields of `described` in the order of `names` (customers.fields), which they
    must match exactly: a field added to the table and not documented here fails at import."""
    if described.keys() != set(names):
        raise ImproperlyConfigured(
            f"customers.schema.serializers documents {sorted(described)}, customers.fields lists {names}"
        )
    return {name: described[name] for name in names}


def schema_field(schema: dict, **kwargs) -> serializers.Field:
    """A field that this raw JSON Schema documents; `kwargs` (help_text, required, allow_null) add
    the rest. For the rules a DRF field cannot state (a pattern on a text that may be blank)."""
    return extend_schema_field(schema)(type("DescribedField", (serializers.Field,), {}))(**kwargs)


def text(max_length: int, *, pattern: str = PLAIN_TEXT_PATTERN, min_length: int = 0, **kwargs) -> serializers.Field:
    """A one-line text (FieldChecker.text): at most `max_length` characters, no control character."""
    schema = {"type": "string", "maxLength": max_length, "pattern": pattern}
    if min_length:
        schema["minLength"] = min_length
    return schema_field(schema, **kwargs)


# A tag: no comma, no control character; the string form joins at most MAX_TAGS of them with commas.
_TAG = rf"[^,{CONTROL_CLASS}]{{0,{MAX_TAG_LENGTH}}}"
TAGS_STRING_PATTERN = rf"^{_TAG}(?:,{_TAG})*$"
TAGS_INPUT_SCHEMA = {
    "oneOf": [
        {"type": "string", "pattern": TAGS_STRING_PATTERN},
        {
            "type": "array",
            "maxItems": MAX_TAGS,
            "items": {"type": "string", "maxLength": MAX_TAG_LENGTH, "pattern": rf"^[^,{CONTROL_CLASS}]*$"},
        },
    ]
}


@extend_schema_field(OpenApiTypes.NUMBER)
class MoneyField(serializers.Field):
    """A JSON number with two decimals."""


METADATA_HELP = (
    f"String values (at most {MAX_METADATA_VALUE_LENGTH} characters) by key (1 to 64 characters of "
    f"A-Z a-z 0-9 _ . -), at most {MAX_METADATA_KEYS} keys."
)


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "string", "maxLength": MAX_METADATA_VALUE_LENGTH},
        "maxProperties": MAX_METADATA_KEYS,
    }
)
class MetadataField(serializers.Field):
    """The store's data on the customer (customers.metadata)."""


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "additionalProperties": {"type": "string", "nullable": True, "maxLength": MAX_METADATA_VALUE_LENGTH},
    }
)
class MetadataInputField(serializers.Field):
    """Keys to set; on an update merged key by key, a null value removing its key."""


CURRENCY_OUTPUT = {"type": "string", "pattern": "^[A-Z]{3}$"}
# The imported hash formats (accounts.passwords), or none ("").
PASSWORD_HASH_PATTERN = f"^(?:|{BARE_BCRYPT.pattern}|{DJANGO_FORMATS.pattern})$"


# --- Responses ----------------------------------------------------------------------------------
