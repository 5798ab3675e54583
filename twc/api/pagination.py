"""Keyset (cursor) pagination: stable and fast on millions of rows, no COUNT(*) per page.

A page is read as `WHERE (key, tiebreak) > (cursor's key, cursor's tiebreak) ORDER BY key, tiebreak
LIMIT n + 1` (the comparison flipped for descending orderings and for the previous page). The
tiebreak is the row's monotonic primary key (`Customer.seq`, `Order.id`), so two rows never share a
position: rows inserted while a client pages never make it see a row twice or skip one.

The cursor is opaque to clients (base64url of a small JSON document): the ordering it belongs to, the
position of the row it continues from and the direction. It only narrows a query that is already
confined to the caller's store, so a forged cursor can at most return fewer of the caller's own rows.
"""

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from django.utils.encoding import escape_uri_path

from twc.api.errors import ValidationFailed, invalid_field
from twc.text import in_utc, parse_iso_datetime

DEFAULT_LIMIT = 50
MAX_LIMIT = 250
CURSOR_PARAM = "page_info"
MAX_CURSOR_LENGTH = 500


@dataclass(frozen=True)
class Ordering:
    """One whitelisted ordering: the public name, the model field, the direction, the tiebreak field."""

    name: str
    field: str
    descending: bool
    tiebreak: str

    def order_by(self, *, reverse: bool = False) -> list[str]:
        descending = self.descending != reverse
        sign = "-" if descending else ""
        return [f"{sign}{self.field}", f"{sign}{self.tiebreak}"]


def orderings(fields: list[str], *, tiebreak: str) -> dict[str, Ordering]:
    """`created_at` and `-created_at` for each field, with the model's primary key as tiebreak."""
    result: dict[str, Ordering] = {}
    for field in fields:
        result[field] = Ordering(field, field, False, tiebreak)
        result[f"-{field}"] = Ordering(f"-{field}", field, True, tiebreak)
    return result


def parse_limit(raw: str | None, *, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    """A page size from the query string: `default` when absent, else a whole number 1 to `maximum`."""
    if raw is None or raw == "":
        return default
    # isascii: str.isdigit() also holds for "²", which int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= maximum:
        raise invalid_field("limit", f"'limit' must be a whole number from 1 to {maximum}.")
    return int(raw)


def encode_cursor(ordering: Ordering, value: object, tiebreak: int, direction: str) -> str:
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    document = json.dumps({"o": ordering.name, "v": value, "t": tiebreak, "d": direction}, separators=(",", ":"))
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


def _bad_cursor() -> ValidationFailed:
    return invalid_field(CURSOR_PARAM, f"'{CURSOR_PARAM}' is not a cursor of this listing: follow the Link header.")


def decode_cursor(raw: str, ordering: Ordering) -> tuple[dt.datetime, int, str]:
    """(key value, tiebreak, direction 'next'|'previous') of a cursor made for `ordering`."""
    if len(raw) > MAX_CURSOR_LENGTH:
        raise _bad_cursor()
    try:
        document = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _bad_cursor() from None
    if not isinstance(document, dict) or document.get("o") != ordering.name:
        raise _bad_cursor()
    value, tiebreak, direction = document.get("v"), document.get("t"), document.get("d")
    parsed = parse_iso_datetime(value) if isinstance(value, str) else None
    # In UTC: PostgreSQL refuses offsets past 15:59 and Python cannot shift year 1 or 9999 out of
    # range; a cursor we wrote is always in UTC-representable range.
    parsed = in_utc(parsed) if parsed is not None and parsed.tzinfo is not None else None
    if (
        parsed is None
        or type(tiebreak) is not int
        or not 0 <= tiebreak < 2**63
        or direction not in ("next", "previous")
    ):
        raise _bad_cursor()
    return parsed, tiebreak, direction


def _after(ordering: Ordering, value: object, tiebreak: int, *, backwards: bool) -> Q:
    """Rows strictly after (value, tiebreak) in the ordering's direction (before it when backwards)."""
    greater = ordering.descending == backwards
    op = "gt" if greater else "lt"
    strictly_after = Q(**{f"{ordering.field}__{op}": value}) | Q(
        **{ordering.field: value, f"{ordering.tiebreak}__{op}": tiebreak}
    )
    # The redundant bound lets the database start an index range scan at the cursor instead of
    # filtering every row before it, so that a page deep in the listing costs what the first one does.
    return Q(**{f"{ordering.field}__{op}e": value}) & strictly_after


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None
    previous_cursor: str | None


def first_rows(queryset: QuerySet[Any], count: int) -> list[Any]:
    return list(queryset[:count])


def paginate(
    queryset: QuerySet[Any],
    *,
    ordering: Ordering,
    limit: int,
    cursor: str | None,
    fetch: Callable[[QuerySet[Any], int], list[Any]] = first_rows,
) -> Page:
    """One page of `queryset` in `ordering`, at most `limit` rows, with the cursors around it.

    `fetch(ordered, count)` reads the first `count` rows of `queryset` after the cursor, in the
    page's order; a listing whose filter the planner misjudges reads them its own way (the search).
    """
    if cursor is None:
        rows = fetch(queryset.order_by(*ordering.order_by()), limit + 1)
        has_more = len(rows) > limit
        items = rows[:limit]
        return Page(items, _cursor_of(ordering, items[-1], "next") if has_more else None, None)

    value, tiebreak, direction = decode_cursor(cursor, ordering)
    backwards = direction == "previous"
    rows = fetch(
        queryset.filter(_after(ordering, value, tiebreak, backwards=backwards)).order_by(
            *ordering.order_by(reverse=backwards)
        ),
        limit + 1,
    )
    has_more = len(rows) > limit
    items = rows[:limit]
    if backwards:
        items.reverse()
        # We came back from the page after this one, so it exists.
        next_cursor: str | None = (
            _cursor_of(ordering, items[-1], "next") if items else encode_cursor(ordering, value, tiebreak, "next")
        )
        previous_cursor = _cursor_of(ordering, items[0], "previous") if has_more else None
    else:
        next_cursor = _cursor_of(ordering, items[-1], "next") if has_more else None
        # An empty page past the end still leads back to where the client came from.
        previous_cursor = (
            _cursor_of(ordering, items[0], "previous")
            if items
            else encode_cursor(ordering, value, tiebreak, "previous")
        )
    return Page(items, next_cursor, previous_cursor)


def _cursor_of(ordering: Ordering, row: Model, direction: str) -> str:
    return encode_cursor(ordering, getattr(row, ordering.field), getattr(row, ordering.tiebreak), direction)


def link_header(request: HttpRequest, page: Page, *, path: str | None = None) -> str | None:
    """Shopify's `Link: <url>; rel="next", <url>; rel="previous"`; the URLs keep the request's other
    query parameters (filters, fields, ordering, limit).

    `path` is the listing's path, already percent-encoded (a view whose path holds an id encodes it
    as one segment); by default the request's, encoded again: Django decoded it, and a `?`, `#` or
    space taken from an id would end or break the URL.
    """
    base = request.build_absolute_uri(path if path is not None else escape_uri_path(request.path))
    links = []
    for rel, cursor in (("previous", page.previous_cursor), ("next", page.next_cursor)):
        if cursor is None:
            continue
        params = [(key, value) for key, values in request.GET.lists() if key != CURSOR_PARAM for value in values]
        params.append((CURSOR_PARAM, cursor))
        url = base + "?" + urlencode(params)
        links.append(f'<{url}>; rel="{rel}"')
    return ", ".join(links) or None
