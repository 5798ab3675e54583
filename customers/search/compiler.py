"""A query's AST into ONE Django Q over Customer, applied to Customer.objects.for_store(store).

Text values compare case-insensitively (UPPER on both sides, as Django's i-lookups) with the
comparisons PostgreSQL's indexes of migration 0009 serve: `=` and prefix LIKE on btree
`text_pattern_ops`, regular expressions on trigram indexes (one per column, where LIKE patterns
would take one index scan each); SQLite answers the same way without them. Address fields go through
EXISTS subqueries, so that negations and ORs mean what they say and no customer shows twice. How a
page of the answer is read: customers.search.paging.
"""

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import connection
from django.db.models import Exists, F, Func, JSONField, OuterRef, Q, QuerySet, TextField, Value
from django.db.models.fields.json import DataContains, KeyTextTransform
from django.db.models.functions import Coalesce, Lower, Upper
from django.db.models.lookups import Exact, Regex, StartsWith

from customers.emails import email_key
from customers.filters import TRUE_VALUES
from customers.metadata import is_metadata_key
from customers.models import Address, Customer, CustomerState
from customers.phones import normalize_phone
from customers.search.errors import query_error
from customers.search.lexer import Token
from customers.search.parser import And, Node, Not, Term, parse
from tenants.models import Store
from twc.text import in_utc, parse_iso_datetime

DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
# Characters that start a new word inside an email address.
EMAIL_WORD_BREAKS = ".@_-+"
LOOKUPS = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


def _text_match(column: str, token: Token) -> Q:
    if token.prefix:
        return Q(**{f"{column}__istartswith": token.value})
    return Q(**{f"{column}__iexact": token.value})


def _upper_regex(column: str, pattern: str) -> Q:
    """UPPER(column) ~ UPPER(pattern): one trigram index scan (pg_trgm reads regular expressions)
    where the same test as LIKE patterns takes one scan per pattern. Both sides upper-cased by the
    database, as Django's i-lookups are (SQLite folds ASCII only, on both sides alike)."""
    return Q(Regex(Upper(column), Upper(Value(pattern, output_field=TextField()))))


def _word_start(column: str, word: str) -> Q:
    """`word` at the start of `column` or of one of its space-separated words."""
    return _upper_regex(column, f"(^| ){re.escape(word)}")


# The words of a customer a bare word looks in, as ONE text: its trigram index (migration 0009, the
# same expression) finds the customers holding every word of "mary joh" in one scan, where the
# columns' own indexes can only intersect two long lists. Only NOT NULL columns or COALESCEd.
WORDS = Func(
    F("first_name"),
    F("last_name"),
    Func(F("email_key"), template="COALESCE(%(expressions)s, '')"),
    F("ref"),
    Func(F("phone"), template="COALESCE(%(expressions)s, '')"),
    template="UPPER(%(expressions)s)",
    arg_joiner=" || ' ' || ",
    output_field=TextField(),
)


def _bare_word(token: Token, store: Store) -> Q:
    word = token.value
    condition = _word_start("first_name", word) | _word_start("last_name", word) | Q(ref__istartswith=word)
    key = email_key(word) or ""
    condition |= Q(email_key__regex=f"(^|[{re.escape(EMAIL_WORD_BREAKS)}]){re.escape(key)}")
    needles = [word, key]
    digits = re.sub(r"\D", "", word)
    if digits and not re.search(r"[^\d\s()+.\-]", word):
        # E.164 holds only digits after its "+": a phone's digits start at its country code or
        # inside the national number.
        condition |= Q(phone__contains=digits)
        needles.append(digits)
    # Implied by every arm above (each puts one of the needles in the customer's words).
    words = Q(Regex(WORDS, Upper(Value("|".join(re.escape(n) for n in dict.fromkeys(needles) if n)))))
    return words & condition


def _no_comparator(token: Token) -> None:
    if token.comparator != ":":
        raise query_error(f"'{token.field}' takes no comparator (only numbers and dates do)", token.position)


def _no_prefix(token: Token) -> None:
    if token.prefix:
        raise query_error(f"'{token.field}' takes no '*' prefix", token.value_position)


def _email(token: Token, store: Store) -> Q:
    _no_comparator(token)
    key = email_key(token.value) or ""
    return Q(email_key__startswith=key) if token.prefix else Q(email_key=key)


def _phone(token: Token, store: Store) -> Q:
    _no_comparator(token)
    if token.prefix:
        digits = re.sub(r"\D", "", token.value)
        if not digits:
            raise query_error("'phone' with '*' needs digits", token.value_position)
        return Q(phone__startswith="+" + digits)
    try:
        return Q(phone=normalize_phone(token.value, store.country))
    except ValueError:
        raise query_error("'phone' is not a phone number", token.value_position) from None


def _column(column: str) -> Callable[[Token, Store], Q]:
    def compile_text(token: Token, store: Store) -> Q:
        _no_comparator(token)
        return _text_match(column, token)

    return compile_text


def _state(token: Token, store: Store) -> Q:
    _no_comparator(token)
    _no_prefix(token)
    value = token.value.lower()
    if value not in CustomerState.values:
        raise query_error(f"'state' must be one of {', '.join(CustomerState.values)}", token.value_position)
    return Q(state=value)


def _tag(token: Token, store: Store) -> Q:
    _no_comparator(token)
    if "," in token.value:
        raise query_error("a tag holds no comma", token.value_position)
    # `tags` is the tags joined by ", ": a tag starts the text or follows ", ", and ends it or is
    # followed by ", " (unless a prefix). customers.filters.tag_condition says the same in four LIKEs.
    tag = re.escape(token.value if token.prefix else token.value.strip())
    return _upper_regex("tags", f"(^|, ){tag}" if token.prefix else f"(^|, ){tag}(, |$)")


def _tag_not(token: Token, store: Store) -> Q:
    return ~_tag(token, store)


def _accepts_marketing(token: Token, store: Store) -> Q:
    _no_comparator(token)
    _no_prefix(token)
    value = TRUE_VALUES.get(token.value.lower())
    if value is None:
        raise query_error("'accepts_marketing' must be true or false", token.value_position)
    return Q(accepts_marketing=value)


def _address(*columns: str) -> Callable[[Token, Store], Q]:
    """The default address's column (any of `columns`) matches."""

    def compile_address(token: Token, store: Store) -> Q:
        _no_comparator(token)
        match = Q()
        for column in columns:
            match |= _text_match(column, token)
        addresses = Address.objects.filter(match, customer=OuterRef("pk"), is_default=True)
        return Q(Exists(addresses))

    return compile_address


def _compare(column: str, token: Token, value: object) -> Q:
    if token.comparator == ":":
        return Q(**{column: value})
    return Q(**{f"{column}__{LOOKUPS[token.comparator]}": value})


def _number(column: str, *, whole: bool) -> Callable[[Token, Store], Q]:
    def compile_number(token: Token, store: Store) -> Q:
        _no_prefix(token)
        value: int | Decimal
        try:
            value = int(token.value) if whole else Decimal(token.value)
        except (ValueError, InvalidOperation):
            kind = "a whole number" if whole else "a number"
            raise query_error(f"'{token.field}' must be {kind}", token.value_position) from None
        if isinstance(value, Decimal) and (not value.is_finite() or abs(value) >= 10**12):
            raise query_error(f"'{token.field}' is out of range", token.value_position)
        if isinstance(value, int) and abs(value) >= 2**31:
            raise query_error(f"'{token.field}' is out of range", token.value_position)
        return _compare(column, token, value)

    return compile_number


def _timestamp(column: str) -> Callable[[Token, Store], Q]:
    def compile_timestamp(token: Token, store: Store) -> Q:
        _no_prefix(token)
        parsed = parse_iso_datetime(token.value)
        start = in_utc(parsed) if parsed is not None else None
        if start is None:
            raise query_error(
                f"'{token.field}' must be an ISO 8601 date or date and time such as 2024-01-31", token.value_position
            )
        if not DATE_ONLY.fullmatch(token.value):
            return _compare(column, token, start)
        # A date alone is its whole day (UTC): `:` within it, `<` before it, `<=` up to its end.
        try:
            end = start + dt.timedelta(days=1)
        except OverflowError:
            end = None
        day = {
            ":": Q(**{f"{column}__gte": start}) & (Q(**{f"{column}__lt": end}) if end else Q()),
            "<": Q(**{f"{column}__lt": start}),
            ">=": Q(**{f"{column}__gte": start}),
            "<=": Q(**{f"{column}__lt": end}) if end else Q(),
            ">": Q(**{f"{column}__gte": end}) if end else Q(pk__in=[]),
        }
        return day[token.comparator]

    return compile_timestamp


FIELDS: dict[str, Callable[[Token, Store], Q]] = {
    "email": _email,
    "phone": _phone,
    "first_name": _column("first_name"),
    "last_name": _column("last_name"),
    "id": _column("ref"),
    "state": _state,
    "tag": _tag,
    "tag_not": _tag_not,
    "accepts_marketing": _accepts_marketing,
    "country": _address("country_code", "country"),
    "province": _address("province_code", "province"),
    "city": _address("city"),
    "orders_count": _number("orders_count", whole=True),
    "total_spent": _number("total_spent", whole=False),
    "created_at": _timestamp("created_at"),
    "updated_at": _timestamp("updated_at"),
}


def _metadata(token: Token, store: Store) -> Q:
    """`metadata.KEY:value`: the key's value, case-insensitively (a prefix with `*`); no comparator.
    The key is any metadata key, dots included (`loyalty.tier`), so it is no ORM path."""
    assert token.field is not None
    key = token.field.removeprefix("metadata.")
    if not is_metadata_key(key):
        raise query_error("a metadata key is 1 to 64 characters of A-Z, a-z, 0-9, '_', '.' and '-'", token.position)
    _no_comparator(token)
    # A customer without the key reads as "", so that `-metadata.KEY:v` keeps it (NULL would not).
    value = Lower(Coalesce(KeyTextTransform(key, "metadata"), Value(""), output_field=TextField()))
    wanted = Lower(Value(token.value, output_field=TextField()))
    if token.prefix:
        return Q(StartsWith(value, wanted))
    match = Q(Exact(value, wanted))
    if connection.vendor == "postgresql" and token.value:
        # Implied by the match, and served by the GIN index of the folded values (migration 0009),
        # which no expression on one key can use.
        folded = Func(F("metadata"), function="customers_metadata_folded", output_field=JSONField())
        pair = Func(Value(key), wanted, function="jsonb_build_object", output_field=JSONField())
        match = Q(DataContains(folded, pair)) & match
    return match


def _compile(node: Node, store: Store) -> Q:
    if isinstance(node, Term):
        token = node.token
        if token.field is None:
            return _bare_word(token, store)
        if token.field.startswith("metadata."):
            return _metadata(token, store)
        compile_field = FIELDS.get(token.field)
        if compile_field is None:
            raise query_error(f"unknown field '{token.field[:50]}'", token.position)
        return compile_field(token, store)
    if isinstance(node, Not):
        return ~_compile(node.operand, store)
    combined = Q()
    for operand in node.operands:
        condition = _compile(operand, store)
        combined = combined & condition if isinstance(node, And) else combined | condition
    return combined


@dataclass(frozen=True)
class Search:
    """A compiled query: its condition, and whether a page is read in two bounded steps
    (customers.search.paging) or left to the planner (no condition, or one on created_at)."""

    condition: Q
    stepped: bool


# The listing's own order: its index serves a range in order, and a window would cut across it.
ORDER_FIELDS = {"created_at"}


def _fields(node: Node) -> set[str | None]:
    if isinstance(node, Term):
        return {node.token.field}
    if isinstance(node, Not):
        return _fields(node.operand)
    return set().union(*(_fields(operand) for operand in node.operands))


def compile_search(query: str, *, store: Store) -> Search:
    """`query` compiled for `store`; a bad query is `400 InvalidField`."""
    tree = parse(query)
    if tree is None:
        return Search(Q(), stepped=False)
    return Search(_compile(tree, store), stepped=not (_fields(tree) & ORDER_FIELDS))


def search_condition(query: str, *, store: Store) -> Q:
    """The Q of `query` (an empty query: every customer); a bad query is `400 InvalidField`."""
    return compile_search(query, store=store).condition


def search_customers(queryset: QuerySet[Customer], *, query: str, store: Store) -> QuerySet[Customer]:
    return queryset.filter(search_condition(query, store=store))
