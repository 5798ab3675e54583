"""The serializers that describe the customer endpoints' bodies for OpenAPI (drf-spectacular).

The views answer with the plain dicts of customers.representation; the serializers here only
describe those dicts (and the request bodies customers.validation accepts), field for field. The
customer's fields follow the table in customers.fields: one added there and not described here
fails at import. A test checks real responses against the generated schema, so a drift between the
two fails.
"""

from django.core.exceptions import ImproperlyConfigured
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.passwords import BARE_BCRYPT, DJANGO_FORMATS, MAX_PASSWORD_HASH_LENGTH
from customers.fields import CUSTOMER_FIELDS, READ_ONLY_FIELDS, REPRESENTATION_FIELDS
from customers.metadata import MAX_METADATA_KEYS, MAX_METADATA_VALUE_LENGTH
from customers.models import CustomerState, MarketingOptInLevel
from customers.phones import MAX_PHONE_INPUT_LENGTH
from customers.services.orders import MAX_PRICE, MAX_WISHLIST_ITEMS
from customers.validation import (
    ADDRESS_TEXT_FIELDS,
    COUNTRY_CODES,
    CURRENCY_CODES,
    MAX_ADDRESSES,
    MAX_NOTE_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    TAX_EXEMPTION_CODES,
)
from twc.api.errors import MAX_ITEM_ERRORS
from twc.api.schema import CONTROL_CLASS, MULTILINE_TEXT_PATTERN, NON_BLANK_TEXT_PATTERN, PLAIN_TEXT_PATTERN

OPT_IN_LEVELS = MarketingOptInLevel.values
TIMESTAMP_HELP = "ISO 8601 with an offset; a timestamp sent without one is read as UTC."
# What a client sends with an effect, in the representation's order.
INPUT_FIELDS = tuple(field.api_name for field in CUSTOMER_FIELDS if not field.read_only)
CURRENCIES = sorted(CURRENCY_CODES)
MAX_UPLOAD_ITEMS = 10_000


def _in_table_order(described: dict, names: tuple[str, ...]) -> dict:
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
class AddressSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    customer_id = serializers.CharField(allow_null=True, help_text="The customer's `id`.")
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    company = serializers.CharField(allow_blank=True)
    address1 = serializers.CharField(allow_blank=True)
    address2 = serializers.CharField(allow_blank=True)
    city = serializers.CharField(allow_blank=True)
    province = serializers.CharField(allow_blank=True)
    province_code = serializers.CharField(allow_blank=True)
    country = serializers.CharField(allow_blank=True)
    country_code = serializers.CharField(allow_blank=True)
    zip = serializers.CharField(allow_blank=True)
    phone = serializers.CharField(allow_blank=True)
    name = serializers.CharField(allow_blank=True)
    default = serializers.BooleanField()

    class Meta:
        ref_name = "Address"


def _customer_fields(required: bool) -> dict:
    """The fields of customer_to_dict, in its order."""
    r = {"required": required}
    described = {
        "id": serializers.CharField(help_text="The store's own reference for the customer.", **r),
        "twc_customer_id": serializers.UUIDField(**r),
        "admin_graphql_api_id": serializers.CharField(help_text="gid://twc/Customer/<twc_customer_id>", **r),
        "email": serializers.CharField(allow_null=True, **r),
        "phone": serializers.CharField(allow_null=True, help_text="E.164, e.g. +16135550100.", **r),
        "first_name": serializers.CharField(allow_blank=True, **r),
        "last_name": serializers.CharField(allow_blank=True, **r),
        "note": serializers.CharField(allow_blank=True, **r),
        "state": serializers.ChoiceField(choices=CustomerState.values, **r),
        "verified_email": serializers.BooleanField(**r),
        "accepts_marketing": serializers.BooleanField(**r),
        "accepts_marketing_updated_at": serializers.DateTimeField(allow_null=True, **r),
        "marketing_opt_in_level": serializers.ChoiceField(choices=OPT_IN_LEVELS, allow_null=True, **r),
        "multipass_identifier": serializers.CharField(allow_null=True, **r),
        "currency": schema_field(CURRENCY_OUTPUT, help_text="ISO 4217.", **r),
        "tax_exempt": serializers.BooleanField(**r),
        "tax_exemptions": serializers.ListField(
            child=serializers.ChoiceField(choices=sorted(TAX_EXEMPTION_CODES)), **r
        ),
        "tags": serializers.CharField(allow_blank=True, help_text='Tags joined by ", ".', **r),
        "metadata": MetadataField(help_text="The store's data on the customer. " + METADATA_HELP, **r),
        "private_metadata": MetadataField(
            help_text="Like `metadata`, but never shown to the customer (/api/me). " + METADATA_HELP, **r
        ),
        "addresses": AddressSerializer(many=True, **r),
        "default_address": AddressSerializer(allow_null=True, **r),
        "orders_count": serializers.IntegerField(**r),
        "total_spent": MoneyField(**r),
        "last_order_id": serializers.CharField(allow_null=True, **r),
        "last_order_name": serializers.CharField(allow_null=True, **r),
        "version": serializers.IntegerField(help_text="1 at creation, one more at each change; also the ETag.", **r),
        "created_at": serializers.DateTimeField(**r),
        "updated_at": serializers.DateTimeField(**r),
    }
    return _in_table_order(described, REPRESENTATION_FIELDS)


CustomerSerializer = type(
    "CustomerSerializer",
    (serializers.Serializer,),
    {**_customer_fields(True), "Meta": type("Meta", (), {"ref_name": "Customer"}), "__doc__": "A customer."},
)
PartialCustomerSerializer = type(
    "PartialCustomerSerializer",
    (serializers.Serializer,),
    {
        **_customer_fields(False),
        "Meta": type("Meta", (), {"ref_name": "CustomerFields"}),
        "__doc__": "A customer in a list: every field, or only those named by `fields=`.",
    },
)


class DeletedCustomerSerializer(serializers.Serializer):
    id = serializers.CharField()
    twc_customer_id = serializers.UUIDField()
    deleted = serializers.BooleanField()
    deleted_at = serializers.DateTimeField()

    class Meta:
        ref_name = "DeletedCustomer"


class UploadResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "updated", "skipped", "failed"])
    id = serializers.CharField(required=False, help_text="Unless failed.")
    twc_customer_id = serializers.UUIDField(required=False, help_text="Unless failed.")
    errors = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        max_length=MAX_ITEM_ERRORS,
        help_text=f"When failed: the item's errors (entries as in `Error`), at most {MAX_ITEM_ERRORS}.",
    )
    errorsOmitted = serializers.IntegerField(
        required=False, min_value=1, help_text="When failed: how many more errors the item had than `errors` lists."
    )

    class Meta:
        ref_name = "UploadResult"


class UploadReportSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    skipped = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = UploadResultSerializer(many=True)

    class Meta:
        ref_name = "UploadReport"


class OrderSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    email = serializers.CharField(allow_null=True)
    phone = serializers.CharField(allow_null=True)
    total_price = MoneyField()
    currency = schema_field(CURRENCY_OUTPUT, help_text="ISO 4217.")
    test = serializers.BooleanField()
    archived = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    customer_id = serializers.CharField(allow_null=True)

    class Meta:
        ref_name = "Order"


class WishlistSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    email = serializers.CharField(allow_null=True)
    phone = serializers.CharField(allow_null=True)
    items = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    customer_id = serializers.CharField(allow_null=True)

    class Meta:
        ref_name = "Wishlist"


CURSOR_HELP = "Opaque cursor of the next (previous) page, or null; also in the `Link` header."


class CustomerPageSerializer(serializers.Serializer):
    customers = PartialCustomerSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text=CURSOR_HELP)
    previous = serializers.CharField(allow_null=True, help_text=CURSOR_HELP)

    class Meta:
        ref_name = "CustomerPage"


class OrderPageSerializer(serializers.Serializer):
    orders = OrderSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text=CURSOR_HELP)
    previous = serializers.CharField(allow_null=True, help_text=CURSOR_HELP)

    class Meta:
        ref_name = "OrderPage"


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField()

    class Meta:
        ref_name = "Count"


class InviteSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="The single-use activation link.")
    expires_at = serializers.DateTimeField()
    emailed = serializers.BooleanField(help_text="Whether we sent the invite email.")

    class Meta:
        ref_name = "Invite"


CustomerWithInviteSerializer = type(
    "CustomerWithInviteSerializer",
    (serializers.Serializer,),
    {
        **_customer_fields(True),
        "invite": InviteSerializer(),
        "Meta": type("Meta", (), {"ref_name": "CustomerWithInvite"}),
        "__doc__": "The invited customer, with the invite beside its fields.",
    },
)


# --- Requests -----------------------------------------------------------------------------------
AddressInputSerializer = type(
    "AddressInputSerializer",
    (serializers.Serializer,),
    {
        "id": serializers.IntegerField(
            required=False, allow_null=True, help_text="Keeps this address's id on an update."
        ),
        "default": serializers.BooleanField(required=False),
        "customer_id": serializers.JSONField(required=False, help_text="Ignored."),
        **{
            name: text(length, required=False, allow_null=True)
            for name, length in ADDRESS_TEXT_FIELDS.items()
            if name != "country_code"
        },
        "country_code": serializers.ChoiceField(
            choices=sorted(COUNTRY_CODES),
            required=False,
            allow_blank=True,
            allow_null=True,
            help_text="ISO 3166-1 alpha-2 (read case-insensitively).",
        ),
        "Meta": type("Meta", (), {"ref_name": "AddressInput"}),
    },
)


# Read-only fields that do more than be ignored when sent.
READ_ONLY_INPUT_HELP = {
    "twc_customer_id": "Read-only: ignored, except that it names the customer of PUT /api/customers without `id` "
    "(a string, then).",
}


def _customer_input_fields() -> dict:
    optional = {"required": False}
    described = {
        "id": text(
            255,
            pattern=NON_BLANK_TEXT_PATTERN,
            min_length=1,
            allow_null=True,
            help_text="The store's reference; the new twc_customer_id if omitted (null on an update: unchanged).",
            **optional,
        ),
        "email": serializers.EmailField(
            allow_null=True,
            allow_blank=True,
            max_length=254,
            help_text="Internationalised addresses in NFC are accepted; an address that NFKC changes, or that "
            "holds invisible, control or format characters or symbols, is 400.",
            **optional,
        ),
        "phone": text(
            MAX_PHONE_INPUT_LENGTH,
            allow_null=True,
            help_text="Any dialable format; national numbers in the store's country (an undialable one is 400).",
            **optional,
        ),
        "first_name": text(255, allow_null=True, **optional),
        "last_name": text(255, allow_null=True, **optional),
        "note": text(MAX_NOTE_LENGTH, pattern=MULTILINE_TEXT_PATTERN, allow_null=True, **optional),
        "state": serializers.ChoiceField(
            choices=CustomerState.values,
            help_text="On create or upload only; later the current state only.",
            **optional,
        ),
        "verified_email": serializers.BooleanField(**optional),
        "accepts_marketing": serializers.BooleanField(**optional),
        "accepts_marketing_updated_at": serializers.DateTimeField(
            allow_null=True, help_text=TIMESTAMP_HELP, **optional
        ),
        "marketing_opt_in_level": serializers.ChoiceField(choices=OPT_IN_LEVELS, allow_null=True, **optional),
        "multipass_identifier": text(255, allow_null=True, **optional),
        "currency": serializers.ChoiceField(
            choices=CURRENCIES, allow_null=True, help_text="ISO 4217; the store's by default.", **optional
        ),
        "tax_exempt": serializers.BooleanField(**optional),
        "tax_exemptions": serializers.ListField(
            child=serializers.ChoiceField(choices=sorted(TAX_EXEMPTION_CODES)), allow_null=True, **optional
        ),
        "tags": schema_field(
            TAGS_INPUT_SCHEMA,
            allow_null=True,
            help_text=f"A comma-separated string or an array of strings: at most {MAX_TAGS} tags of at most "
            f"{MAX_TAG_LENGTH} characters; null is no tags.",
            **optional,
        ),
        "metadata": MetadataInputField(
            help_text=METADATA_HELP + " A create sets them; an update (PUT, PATCH, upload) merges them key by key, "
            "and a key sent as null is removed.",
            **optional,
        ),
        "private_metadata": MetadataInputField(
            help_text="Like `metadata`; never shown to the customer (/api/me).", **optional
        ),
        "addresses": serializers.ListField(
            child=AddressInputSerializer(),
            allow_null=True,
            max_length=MAX_ADDRESSES,
            help_text="At most one marked `default` (400 otherwise); the first one is the default when none is.",
            **optional,
        ),
        "version": serializers.IntegerField(
            min_value=1,
            allow_null=True,
            help_text="On an update: applied only when it is the customer's current version (else 409).",
            **optional,
        ),
        "password_hash": schema_field(
            {"type": "string", "maxLength": MAX_PASSWORD_HASH_LENGTH, "pattern": PASSWORD_HASH_PATTERN},
            allow_null=True,
            write_only=True,
            help_text=(
                "Write-only, on create (and upload and import) only: an imported password hash, bcrypt "
                "($2a$, $2b$, $2y$) or Django's (argon2$, pbkdf2_sha256$, bcrypt_sha256$). Never returned."
            ),
            **optional,
        ),
    }
    return {
        **_in_table_order(described, INPUT_FIELDS),
        **{name: serializers.JSONField(help_text=help, **optional) for name, help in READ_ONLY_INPUT_HELP.items()},
        **{
            name: serializers.JSONField(help_text="Read-only: accepted and ignored.", **optional)
            for name in sorted(READ_ONLY_FIELDS - READ_ONLY_INPUT_HELP.keys())
        },
    }


CustomerInputSerializer = type(
    "CustomerInputSerializer",
    (serializers.Serializer,),
    {
        **_customer_input_fields(),
        "Meta": type("Meta", (), {"ref_name": "CustomerInput"}),
        "__doc__": (
            "A customer as clients send it. Read-only fields of the representation (created_at, orders_count, ...) "
            "are accepted and ignored, so a client may send back what it read; any other unknown field is 400."
        ),
    },
)


SHOPPER_HELP = {
    "email": "The shopper's email, as the store has it (not checked as an address).",
    "phone": "Any dialable format (an undialable one is 400).",
    "customer_id": "The customer's `id` (an unknown one is 400); else the customer with the email, else phone.",
}


class OrderInputSerializer(serializers.Serializer):
    name = text(255, pattern=NON_BLANK_TEXT_PATTERN, min_length=1, help_text="Like #1001; unique in the store.")
    email = text(254, required=False, allow_null=True, help_text=SHOPPER_HELP["email"])
    phone = text(MAX_PHONE_INPUT_LENGTH, required=False, allow_null=True, help_text=SHOPPER_HELP["phone"])
    total_price = schema_field(
        {"type": "number", "minimum": 0, "maximum": float(MAX_PRICE)},
        required=False,
        help_text="Two decimals are kept; 0 by default.",
    )
    currency = serializers.ChoiceField(
        choices=CURRENCIES,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="ISO 4217; the store's when null or empty.",
    )
    test = serializers.BooleanField(required=False)
    archived = serializers.BooleanField(required=False)
    created_at = serializers.DateTimeField(required=False, allow_null=True, help_text=TIMESTAMP_HELP)
    customer_id = text(255, min_length=1, required=False, allow_null=True, help_text=SHOPPER_HELP["customer_id"])

    class Meta:
        ref_name = "OrderInput"


WISHLIST_ITEM_SCHEMA = {
    "oneOf": [
        {"type": "string", "minLength": 1, "maxLength": 255, "pattern": NON_BLANK_TEXT_PATTERN},
        {"type": "integer"},
    ]
}


class WishlistInputSerializer(serializers.Serializer):
    name = text(255, required=False, allow_null=True)
    email = text(254, required=False, allow_null=True, help_text=SHOPPER_HELP["email"])
    phone = text(MAX_PHONE_INPUT_LENGTH, required=False, allow_null=True, help_text=SHOPPER_HELP["phone"])
    items = serializers.ListField(
        child=schema_field(WISHLIST_ITEM_SCHEMA),
        required=False,
        max_length=MAX_WISHLIST_ITEMS,
        help_text="Product references: non-blank strings (or integers, stored as strings).",
    )
    created_at = serializers.DateTimeField(required=False, allow_null=True, help_text=TIMESTAMP_HELP)
    customer_id = text(255, min_length=1, required=False, allow_null=True, help_text=SHOPPER_HELP["customer_id"])

    class Meta:
        ref_name = "WishlistInput"


class SendInviteInputSerializer(serializers.Serializer):
    send_email = serializers.BooleanField(
        required=False, default=True, help_text="false when the store's systems send the email themselves."
    )

    class Meta:
        ref_name = "SendInviteInput"
