"""The feed: a store's events in an order a reader can follow with a cursor and never skip one.

A sequence is not commit order: an event numbered 10 by a long transaction commits after event 11 of
a short one, and a reader that has passed 11 would never see 10. So the feed's position is
(xid, seq), the writing transaction's id then the row's sequence number, and on PostgreSQL a page
only holds events whose transaction is older than the oldest still running,
`pg_snapshot_xmin(pg_current_snapshot())`: every such transaction has ended, so no event will ever
appear before the cursor again. A transaction still running holds back the events after it (an
event is in the feed once every transaction older than its own has ended). Transaction ids are
cluster-wide, so a long transaction in any database of the cluster holds the feed back too.

On SQLite writers are serialised (transaction_mode IMMEDIATE): a transaction's rows are numbered
after every committed row, `xid` is 0, and `seq` alone is commit order.

The cursor is `<xid>.<seq>` signed with the project's key: a forged or foreign one is 400.
"""

import uuid
from dataclasses import dataclass

from django.core import signing
from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from events.models import Event
from events.types import EVENT_TYPES
from tenants.models import Store
from twc.api import pagination
from twc.api.errors import invalid_field, not_found

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
START = (0, 0)

_signer = signing.Signer(salt="events.feed.cursor")


@dataclass(frozen=True)
class FeedPage:
    events: list[Event]
    next: str


def encode_cursor(position: tuple[int, int]) -> str:
    return _signer.sign(f"{position[0]}.{position[1]}")


def decode_cursor(raw: str) -> tuple[int, int]:
    try:
        xid, seq = _signer.unsign(raw).split(".")
        return int(xid), int(seq)
    except (signing.BadSignature, ValueError):
        raise invalid_field("after", "'after' is not a cursor of this feed: use the `next` of a page.") from None


def parse_types(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    names = list(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))
    unknown = [name for name in names if name not in EVENT_TYPES]
    if not names or unknown:
        shown = ", ".join(unknown)[:200] or raw[:50]
        raise invalid_field("types", f"'types' names unknown or no event types: {shown}.")
    return names


def parse_limit(raw: str | None) -> int:
    return pagination.parse_limit(raw, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)


def settled(queryset: QuerySet[Event]) -> QuerySet[Event]:
    """Only events no running transaction can still come before (PostgreSQL; all on SQLite)."""
    if connection.vendor != "postgresql":
        return queryset
    table = Event._meta.db_table
    return queryset.filter(
        RawSQL(f'"{table}"."xid" < pg_snapshot_xmin(pg_current_snapshot())::text::bigint', [], BooleanField())
    )


def after_position(queryset: QuerySet[Event], position: tuple[int, int]) -> QuerySet[Event]:
    """Events after `position` in feed order: one index range scan, at any depth."""
    table = Event._meta.db_table
    return queryset.filter(
        RawSQL(f'("{table}"."xid", "{table}"."seq") > (%s, %s)', [position[0], position[1]], BooleanField())
    )


def events_after(
    *,
    store_id: int | None,
    position: tuple[int, int],
    limit: int,
    types: list[str] | None = None,
    using: str = "default",
) -> list[Event]:
    """Settled events after `position`, in feed order (of one store, or of every store), from the
    database `using` names (the feed passes twc.replica's choice)."""
    events = Event.objects.using(using)
    queryset = events.all() if store_id is None else events.filter(store_id=store_id)
    queryset = settled(after_position(queryset, position))
    if types is not None:
        queryset = queryset.filter(type__in=types)
    return list(queryset.order_by("xid", "seq")[:limit])


def feed_head(*, store_id: int) -> tuple[int, int]:
    """The position of the store's last settled event: a new follower starts from here."""
    last = settled(Event.objects.filter(store_id=store_id)).order_by("-xid", "-seq").values_list("xid", "seq").first()
    return (last[0], last[1]) if last else START


def event_feed(
    *, store: Store, after: str | None, types: str | None, limit: str | None, using: str = "default"
) -> FeedPage:
    """GET /api/events: a page of the store's events after the cursor; `next` is never null."""
    position = decode_cursor(after) if after else START
    page = events_after(
        store_id=store.pk, position=position, limit=parse_limit(limit), types=parse_types(types), using=using
    )
    if page:
        position = (page[-1].xid, page[-1].seq)
    return FeedPage(events=page, next=encode_cursor(position))


def event_get(*, store: Store, event_id: str) -> Event:
    try:
        key = uuid.UUID(event_id)
    except ValueError:
        raise not_found("No event with this id in this store.") from None
    event = Event.objects.filter(store=store, event_id=key).first()
    if event is None:
        raise not_found("No event with this id in this store.")
    return event


def event_to_dict(event: Event) -> dict:
    return {
        "id": str(event.event_id),
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "data": event.data,
    }
