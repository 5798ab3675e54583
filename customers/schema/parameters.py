"""The OpenAPI parameters of the customer endpoints: the path's customer reference, If-Match, and
the query parameters of the lists (customers.filters and twc.api.pagination read them)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter

from customers.models import CustomerState
from customers.schema.serializers import TIMESTAMP_HELP
from twc.api.pagination import DEFAULT_LIMIT, MAX_LIMIT

REF_PARAMETER = OpenApiParameter(
    "ref",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The customer's `id` in the caller's store, or else its `twc_customer_id`.",
    examples=[OpenApiExample("A store's reference", value="c-1")],
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description='The version the update applies to, e.g. "3" (like the body\'s `version`).',
)
LIMIT = OpenApiParameter(
    "limit", OpenApiTypes.INT, description=f"Page size, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."
)
PAGE_INFO = OpenApiParameter(
    "page_info", OpenApiTypes.STR, description="A cursor from `next`/`previous` or the `Link` header."
)
CUSTOMER_FILTERS = [
    OpenApiParameter("ids", OpenApiTypes.STR, description="Comma-separated customer ids (at most 250)."),
    OpenApiParameter(
        "email",
        OpenApiTypes.STR,
        description="Exact email, compared case-insensitively; a look-alike address (see the field) is 400.",
    ),
    OpenApiParameter("phone", OpenApiTypes.STR, description="Any format; normalised as on write (store's country)."),
    OpenApiParameter("state", OpenApiTypes.STR, enum=CustomerState.values),
    OpenApiParameter("tag", OpenApiTypes.STR, description="Customers having this tag (case-insensitive, exact)."),
    OpenApiParameter("accepts_marketing", OpenApiTypes.BOOL),
    OpenApiParameter("created_at_min", OpenApiTypes.DATETIME, description="Created at or after. " + TIMESTAMP_HELP),
    OpenApiParameter("created_at_max", OpenApiTypes.DATETIME, description="Created at or before."),
    OpenApiParameter("updated_at_min", OpenApiTypes.DATETIME, description="Updated at or after."),
    OpenApiParameter("updated_at_max", OpenApiTypes.DATETIME, description="Updated at or before."),
    OpenApiParameter(
        "since_id", OpenApiTypes.STR, description="Only customers created after the customer with this id (or 400)."
    ),
    OpenApiParameter(
        "q",
        OpenApiTypes.STR,
        description="Words, each found in a name, the email, the phone or the id; at most 200 characters and 10 words.",
    ),
    OpenApiParameter(
        "metadata.KEY",
        OpenApiTypes.STR,
        description="Customers whose `metadata` has this value under KEY, exactly; KEY stands for any key "
        "(e.g. `metadata.loyalty.tier=gold`), and several keys may be given.",
    ),
    OpenApiParameter(
        "private_metadata.KEY",
        OpenApiTypes.STR,
        description="Like `metadata.KEY`, on `private_metadata`.",
    ),
]
CUSTOMER_LIST_PARAMETERS = [
    *CUSTOMER_FILTERS,
    OpenApiParameter(
        "fields", OpenApiTypes.STR, description="Comma-separated fields to return, e.g. `id,email,updated_at`."
    ),
    OpenApiParameter(
        "ordering",
        OpenApiTypes.STR,
        enum=["created_at", "-created_at", "updated_at", "-updated_at"],
        description="Default `created_at` (oldest first).",
    ),
    LIMIT,
    PAGE_INFO,
]
ORDER_LIST_PARAMETERS = [
    OpenApiParameter(
        "ordering", OpenApiTypes.STR, enum=["-created_at", "created_at"], description="Default `-created_at`."
    ),
    LIMIT,
    PAGE_INFO,
]

SEARCH_HELP = (
    "Terms separated by spaces must all hold; `OR` between two terms; `-term` or `NOT term` negates; "
    'parentheses group; `"quoted values"` hold spaces; `field:value`, and `field:<v`, `field:>v`, '
    "`field:<=v`, `field:>=v` on numbers and dates (a date alone is its whole UTC day); `value*` is a prefix; "
    "values are case-insensitive. Fields: `email`, `phone` (any format, read in the store's country), "
    "`first_name`, `last_name`, `id`, `state`, `tag`, `tag_not`, `accepts_marketing` (true/false), "
    "`country` (the default address's code or name), `province` (code or name), `city`, `orders_count`, "
    "`total_spent`, `created_at`, `updated_at`, `metadata.KEY`. A bare word matches the start of a word of "
    "the names, the email, the phone's digits or the `id`. Over 1,000 characters or 32 terms, an unknown "
    "field, a value of the wrong type or a syntax error is `400 InvalidField` on `query`, its message "
    "naming the character."
)
SEARCH_PARAMETERS = [
    OpenApiParameter(
        "query",
        OpenApiTypes.STR,
        description="The search (no query: every customer). " + SEARCH_HELP,
        examples=[
            OpenApiExample("Names and a tag", value="first_name:ann* tag:vip -state:disabled"),
            OpenApiExample("OR and comparators", value="(country:CA OR country:US) orders_count:>=3"),
            OpenApiExample("Dates", value="created_at:>=2024-01-01 created_at:<2024-02-01"),
        ],
    ),
    CUSTOMER_LIST_PARAMETERS[-4],  # fields
    LIMIT,
    PAGE_INFO,
]
