"""The customer's fields, declared once: what the API calls each one, where it is kept, who may write it.

Validation, the representation, the OpenAPI schema, the bulk write and the constraint mapping derive
their field lists from `CUSTOMER_FIELDS`; tests/customers/test_fields.py checks each against it and
the unique keys against the model's constraints.
"""

from dataclasses import dataclass
from enum import Enum


class Input(Enum):
    """What a value a client sends for the field does."""

    WRITTEN = "written"
    READ_ONLY = "read_only"  # accepted and ignored, so that a client may send back what it read
    PRECONDITION = "precondition"  # `version`: the update applies only to it; never written


@dataclass(frozen=True)
class CustomerField:
    """One field of the customer as the API knows it."""

    api_name: str
    # The Customer attribute that holds it; None when computed for the answer or kept elsewhere
    # (the addresses are rows of their own).
    column: str | None
    input: Input
    in_representation: bool = True  # False: only in one action's answer (send_invite's `invite`)
    shown_to_customer: bool = True  # in the customer's own view of itself (GET /api/me)
    customer_writable: bool = False  # the customer may change it (PATCH /api/me)
    # Unique among the store's live customers: the column the unique index covers, and its name.
    unique_key_column: str | None = None
    constraint_name: str | None = None

    @property
    def writable(self) -> bool:
        return self.input is Input.WRITTEN

    @property
    def read_only(self) -> bool:
        return self.input is Input.READ_ONLY


WRITTEN, READ_ONLY, PRECONDITION = Input.WRITTEN, Input.READ_ONLY, Input.PRECONDITION

# In the representation's order (customer_to_dict's keys).
CUSTOMER_FIELDS = (
    CustomerField(
        "id", "ref", WRITTEN, unique_key_column="ref", constraint_name="customers_customer_ref_per_store_uniq"
    ),
    CustomerField("twc_customer_id", "twc_customer_id", READ_ONLY),
    CustomerField("admin_graphql_api_id", None, READ_ONLY),
    CustomerField(
        "email",
        "email",
        WRITTEN,
        unique_key_column="email_key",  # email.lower(): unique case-insensitively
        constraint_name="customers_customer_email_per_store_uniq",
    ),
    CustomerField(
        "phone",
        "phone",
        WRITTEN,
        customer_writable=True,
        unique_key_column="phone",
        constraint_name="customers_customer_phone_per_store_uniq",
    ),
    CustomerField("first_name", "first_name", WRITTEN, customer_writable=True),
    CustomerField("last_name", "last_name", WRITTEN, customer_writable=True),
    CustomerField("note", "note", WRITTEN, shown_to_customer=False),
    CustomerField("state", "state", WRITTEN),
    CustomerField("verified_email", "verified_email", WRITTEN),
    CustomerField("accepts_marketing", "accepts_marketing", WRITTEN, customer_writable=True),
    CustomerField("accepts_marketing_updated_at", "accepts_marketing_updated_at", WRITTEN),
    CustomerField("marketing_opt_in_level", "marketing_opt_in_level", WRITTEN, customer_writable=True),
    CustomerField("multipass_identifier", "multipass_identifier", WRITTEN, shown_to_customer=False),
    CustomerField("currency", "currency", WRITTEN),
    CustomerField("tax_exempt", "tax_exempt", WRITTEN),
    CustomerField("tax_exemptions", "tax_exemptions", WRITTEN),
    CustomerField("tags", "tags", WRITTEN, shown_to_customer=False),
    CustomerField("addresses", None, WRITTEN, customer_writable=True),
    CustomerField("default_address", None, READ_ONLY),
    CustomerField("orders_count", "orders_count", READ_ONLY),
    CustomerField("total_spent", "total_spent", READ_ONLY),
    CustomerField("last_order_id", "last_order_id", READ_ONLY),
    CustomerField("last_order_name", "last_order_name", READ_ONLY),
    CustomerField("version", "version", PRECONDITION),
    CustomerField("created_at", "created_at", READ_ONLY),
    CustomerField("updated_at", "updated_at", READ_ONLY),
    CustomerField("invite", None, READ_ONLY, in_representation=False),
    # Write-only: an imported password hash (create, upload, import), never in any answer. Its
    # cleaner writes the `password` column, which no form and no update touches: no column here.
    CustomerField("password_hash", None, WRITTEN, in_representation=False, shown_to_customer=False),
)
# customer_to_dict's keys, in order: also what `fields=` may name.
REPRESENTATION_FIELDS = tuple(field.api_name for field in CUSTOMER_FIELDS if field.in_representation)
# Sent back by clients that PUT what they read; ignored.
READ_ONLY_FIELDS = frozenset(field.api_name for field in CUSTOMER_FIELDS if field.read_only)
# What a client sends with an effect, by API name: the written fields and the version.
WRITABLE_FIELDS = frozenset(field.api_name for field in CUSTOMER_FIELDS if not field.read_only)
KNOWN_FIELDS = WRITABLE_FIELDS | READ_ONLY_FIELDS
# The customer's own columns a client writes, in the representation's order.
WRITABLE_MODEL_FIELDS = tuple(field.column for field in CUSTOMER_FIELDS if field.writable and field.column)

# The customer's view of itself (/api/me): what it sees, and what of that it may change.
CUSTOMER_SHOWN_FIELDS = tuple(
    field.api_name for field in CUSTOMER_FIELDS if field.in_representation and field.shown_to_customer
)
CUSTOMER_WRITABLE_FIELDS = frozenset(field.api_name for field in CUSTOMER_FIELDS if field.customer_writable)


@dataclass(frozen=True)
class UniqueKey:
    """A field unique among the store's live customers."""

    api_name: str
    column: str  # the value a DuplicateField error shows
    key_column: str  # the value the unique index compares
    constraint_name: str


UNIQUE_KEYS = tuple(
    UniqueKey(field.api_name, field.column, field.unique_key_column, field.constraint_name)
    for field in CUSTOMER_FIELDS
    if field.unique_key_column and field.column and field.constraint_name
)
UNIQUE_KEY_BY_API_NAME = {key.api_name: key for key in UNIQUE_KEYS}
