"""The OpenAPI parameters of the customer endpoints: the path's customer reference, If-Match, and
the query parameters of the lists (customers.filters and twc.api.pagination read them).

Each schema says what the server enforces (customers.filters.check_query_params, parse_limit,
parse_fields, ...): lengths, patterns, bounds; a parameter whose empty value means "no filter"
carries EMPTY_MEANS_ABSENT (allowEmptyValue in the document)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter

from customers.fields import REPRESENTATION_FIELDS
from customers.filters import MAX_IDS, MAX_PARAM_LENGTH, MAX_Q_LENGTH, MAX_Q_WORDS
from customers.schema.fields import TIMESTAMP_HELP
from twc.api.pagination import DEFAULT_LIMIT, MAX_CURSOR_LENGTH, MAX_LIMIT
from twc.api.schema import CONTROL_CLASS as _CONTROL
from twc.api.schema import EMPTY_MEANS_ABSENT, PLAIN_TEXT_PATTERN

_NAMES = "|".join(REPRESENTATION_FIELDS)
# Spaces: " " only, as \s in Python and in ECMA regexes differs, and holds control characters.
FIELDS_PATTERN = rf"^[ ,]*(?:{_NAMES})(?: *,[ ,]*(?:{_NAMES}))*[ ,]*$"
# Spaces only (read as no filter), or at least one id among the commas.
IDS_PATTERN = rf"^(?: *|[^{_CONTROL}]*[^\s,{_CONTROL}][^{_CONTROL}]*)$"
TAG_PATTERN = rf"^[^,{_CONTROL}]*$"
# What parse_if_match reads: a version, optionally quoted and weak (W/"3"), or nothing.
IF_MATCH_PATTERN = r'^(?:(?:W/)?"*[0-9]{1,18}"*)?$'
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
# At most MAX_Q_WORDS words between spaces.
_WORD = rf"[^\s{_CONTROL}]+"
Q_PATTERN = rf"^ *(?:{_WORD} +){{0,{MAX_Q_WORDS - 1}}}(?:{_WORD})? *$"


def _text(pattern: str = PLAIN_TEXT_PATTERN) -> dict:
    return {"type": "string", "maxLength": MAX_PARAM_LENGTH, "pattern": pattern}


def _filter(name: str, schema, description: str = "") -> OpenApiParameter:
    """A filter of the list and the count: an empty value is no filter."""
    return OpenApiParameter(name, schema, description=description, extensions={EMPTY_MEANS_ABSENT: True})


def ordering_parameter(names: list[str], description: str) -> OpenApiParameter:
    """`ordering`: its members named in generated clients (`-created_at` is CREATED_AT_DESC, not VALUE_0)."""
    varnames = [name.lstrip("-").upper() + ("_DESC" if name.startswith("-") else "") for name in names]
    return OpenApiParameter(
        "ordering",
        {"type": "string", "enum": names, "x-enum-varnames": varnames},
        description=description,
        extensions={EMPTY_MEANS_ABSENT: True},
    )


REF_PARAMETER = OpenApiParameter(
    "ref",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The customer's `id` in the caller's store, or else its `twc_customer_id`.",
    examples=[OpenApiExample("A store's reference", value="c-1")],
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    {"type": "string", "pattern": IF_MATCH_PATTERN},
    OpenApiParameter.HEADER,
    required=False,
    description='The version the update applies to, e.g. "3" (like the body\'s `version`).',
)
LIMIT = OpenApiParameter(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    description=f"Page size, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).",
    extensions={EMPTY_MEANS_ABSENT: True},
)
PAGE_INFO = OpenApiParameter(
    "page_info",
    {"type": "string", "minLength": 1, "maxLength": MAX_CURSOR_LENGTH, "pattern": CURSOR_PATTERN},
    description="A cursor from `next`/`previous` or the `Link` header (any other value is 400).",
)
_TIMESTAMP = {"type": "string", "format": "date-time", "maxLength": MAX_PARAM_LENGTH}
CUSTOMER_FILTERS = [
    _filter("ids", _text(IDS_PATTERN), f"Comma-separated customer ids (at most {MAX_IDS})."),
    _filter("email", _text(), "Exact email, compared case-insensitively; a look-alike address (see the field) is 400."),
    _filter("phone", _text(), "Any dialable format; normalised as on write (store's country); else 400."),
    _filter("state", {"$ref": "#/components/schemas/StateEnum"}),
    _filter("tag", _text(TAG_PATTERN), "Customers having this tag (case-insensitive, exact)."),
    _filter("accepts_marketing", OpenApiTypes.BOOL),
    _filter("created_at_min", _TIMESTAMP, "Created at or after. " + TIMESTAMP_HELP),
    _filter("created_at_max", _TIMESTAMP, "Created at or before."),
    _filter("updated_at_min", _TIMESTAMP, "Updated at or after."),
    _filter("updated_at_max", _TIMESTAMP, "Updated at or before."),
    _filter("since_id", _text(), "Only customers created after the customer with this id (else 400)."),
    _filter(
        "q",
        {"type": "string", "maxLength": MAX_Q_LENGTH, "pattern": Q_PATTERN},
        f"Words, each found in a name, the email, the phone or the id; at most {MAX_Q_LENGTH} characters and "
        f"{MAX_Q_WORDS} words.",
    ),
    OpenApiParameter(
        "metadata.KEY",
        _text(),
        description="Customers whose `metadata` has this value under KEY, exactly; KEY stands for any key "
        "(e.g. `metadata.loyalty.tier=gold`), and several keys may be given.",
    ),
    OpenApiParameter(
        "private_metadata.KEY",
        _text(),
        description="Like `metadata.KEY`, on `private_metadata`.",
    ),
]
FIELDS = OpenApiParameter(
    "fields",
    {**_text(FIELDS_PATTERN), "minLength": 1},
    description="Comma-separated fields to return, e.g. `id,email,updated_at` (an unknown one, or none, is 400).",
)
CUSTOMER_LIST_PARAMETERS = [
    *CUSTOMER_FILTERS,
    FIELDS,
    ordering_parameter(
        ["created_at", "-created_at", "updated_at", "-updated_at"], "Default `created_at` (oldest first)."
    ),
    LIMIT,
    PAGE_INFO,
]
ORDER_LIST_PARAMETERS = [ordering_parameter(["-created_at", "created_at"], "Default `-created_at`."), LIMIT, PAGE_INFO]

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
        _text(),
        description="The search (no query: every customer). " + SEARCH_HELP,
        examples=[
            OpenApiExample("Names and a tag", value="first_name:ann* tag:vip -state:disabled"),
            OpenApiExample("OR and comparators", value="(country:CA OR country:US) orders_count:>=3"),
            OpenApiExample("Dates", value="created_at:>=2024-01-01 created_at:<2024-02-01"),
            OpenApiExample("Bare words", value="mary joh"),
            OpenApiExample("Phone in any format", value='phone:"(613) 555-0101" OR phone:+44*'),
            OpenApiExample("Metadata and the address", value="metadata.loyalty_tier:gold city:Paris -country:CA"),
            OpenApiExample("Tags, marketing, money", value="tag_not:wholesale accepts_marketing:true total_spent:<100"),
        ],
    ),
    FIELDS,
    LIMIT,
    PAGE_INFO,
]
