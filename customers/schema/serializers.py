"""The serializers that describe the customer endpoints' bodies for OpenAPI (drf-spectacular).

The views answer with the plain dicts of customers.representation; the serializers here only
describe those dicts (and the request bodies customers.validation accepts), field for field. The
customer's fields follow the table in customers.fields: one added there and not described here
fails at import. A test checks real responses against the generated schema, so a drift between the
two fails.
"""

from rest_framework import serializers

from customers.fields import REPRESENTATION_FIELDS
from customers.models import CustomerState
from customers.schema.fields import (
    CURRENCY_OUTPUT,
    METADATA_HELP,
    OPT_IN_LEVELS,
    MetadataField,
    MoneyField,
    in_table_order,
    schema_field,
)
from customers.validation import (
    TAX_EXEMPTION_CODES,
)
from twc.api.errors import MAX_ITEM_ERRORS


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
    return in_table_order(described, REPRESENTATION_FIELDS)


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
