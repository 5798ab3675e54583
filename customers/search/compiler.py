"""A query's AST into ONE Django Q over Customer, applied to Customer.objects.for_store(store).

Text values compare case-insensitively with LIKE patterns that PostgreSQL's trigram indexes serve
(migration 0008) and SQLite answers the same way; address fields go through EXISTS subqueries, so
that negations and ORs mean what they say and no customer shows twice.
"""

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from django.db.models import Exists, OuterRef, Q, QuerySet, TextField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce
from django.db.models.lookups import IExact, IStartsWith

from customers.emails import email_key
from customers.filters import TRUE_VALUES, tag_condition
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


def _word_start(column: str, word: str) -> Q:
    """`word` at the start of `column` or of one of its space-separated words."""
    return Q(**{f"{column}__istartswith": word}) | Q(**{f"{column}__icontains": f" {word}"})


def _bare_word(token: Token, store: Store) -> Q:
    word = token.value
    condition = _word_start("first_name", word) | _word_start("last_name", word) | Q(ref__istartswith=word)
    key = email_key(word) or ""
    condition |= Q(email_key__startswith=key)
    for separator in EMAIL_WORD_BREAKS:
        condition |= Q(email_key__contains=separator + key)
    digits = re.sub(r"\D", "", word)
    if digits and not re.search(r"[^\d\s()+.\-]", word):
        # E.164 holds only digits after its "+": a phone's digits start at its country code or
        # inside the national number.
        condition |= Q(phone__contains=digits)
    return condition


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
    if token.prefix:
        return Q(tags__istartswith=token.value) | Q(tags__icontains=f", {token.value}")
    return tag_condition(token.value.strip())


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
    value = Coalesce(KeyTextTransform(key, "metadata"), Value(""), output_field=TextField())
    return Q(IStartsWith(value, token.value) if token.prefix else IExact(value, token.value))


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


def search_condition(query: str, *, store: Store) -> Q:
    """The Q of `query` (an empty query: every customer); a bad query is `400 InvalidField`."""
    tree = parse(query)
    return Q() if tree is None else _compile(tree, store)


def search_customers(queryset: QuerySet[Customer], *, query: str, store: Store) -> QuerySet[Customer]:
    return queryset.filter(search_condition(query, store=store))
