"""The request bodies of the customer endpoints for OpenAPI: what customers.validation accepts,
field for field (the customer's input fields follow the table in customers.fields)."""

from rest_framework import serializers

from accounts.passwords import MAX_PASSWORD_HASH_LENGTH
from customers.fields import READ_ONLY_FIELDS
from customers.models import CustomerState
from customers.phones import MAX_PHONE_INPUT_LENGTH
from customers.schema.fields import (
    CURRENCIES,
    INPUT_FIELDS,
    METADATA_HELP,
    OPT_IN_LEVELS,
    PASSWORD_HASH_PATTERN,
    TAGS_INPUT_SCHEMA,
    TIMESTAMP_HELP,
    MetadataInputField,
    in_table_order,
    schema_field,
    text,
)
from customers.services.orders import MAX_PRICE, MAX_WISHLIST_ITEMS
from customers.validation import (
    ADDRESS_TEXT_FIELDS,
    COUNTRY_CODES,
    MAX_ADDRESSES,
    MAX_NOTE_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    TAX_EXEMPTION_CODES,
)
from twc.api.schema import MULTILINE_TEXT_PATTERN, NON_BLANK_TEXT_PATTERN

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
        **in_table_order(described, INPUT_FIELDS),
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


def keep_choice(help_text: str = "") -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=["into", "from"], required=False, help_text=help_text or None)


class MergeKeepSerializer(serializers.Serializer):
    """Per field, whose value wins when both customers have one (`into` by default)."""

    email = keep_choice()
    phone = keep_choice()
    first_name = keep_choice()
    last_name = keep_choice()
    note = keep_choice("One customer's note instead of both joined.")
    default_address = keep_choice()
    accepts_marketing = keep_choice()
    metadata = keep_choice()
    private_metadata = keep_choice()
    account = keep_choice("Whose password and state survive; required when both customers have a password.")

    class Meta:
        ref_name = "MergeKeep"


class MergeInputSerializer(serializers.Serializer):
    into = serializers.CharField(max_length=255, help_text="The customer that survives (its id or twc_customer_id).")
    # `from` is a Python keyword: the field is renamed in the schema.
    from_ = serializers.CharField(max_length=255, help_text="The customer merged away (then deleted).")
    keep = MergeKeepSerializer(required=False)

    class Meta:
        ref_name = "MergeInput"

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields
