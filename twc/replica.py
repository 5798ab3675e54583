"""Reads from the hot standby that never miss the client's own writes (docs/scaling.md, section 2).

With `DATABASE_REPLICA_URL` set there is a `replica` database alias. The list, count, search and
the event feed read inside `replica_reads(application_id)`, which names `replica` only when the
standby has replayed the last write of that OAuth application:

- after every unsafe /api/ request of an application (`WritePositionMiddleware`) the primary's WAL
  position, read after the commit (`pg_current_wal_lsn()`), is stored as the application's
  position in the shared state (Redis when configured, else the `WritePosition` table beside the
  rate limits), keeping the highest one when requests race;
- a read compares that position with the standby's replay position (`pg_last_wal_replay_lsn()`),
  read in the transaction the read then runs in (so both reach one server, PgBouncer or not); if
  the standby is behind the read goes to the primary; a standby that does not answer sends every
  read to the primary for the next 5 s. A read costs one shared-state lookup and one standby query.

Everything else reads and writes the primary (`PrimaryRouter`): the token lookup, single-customer
reads, every read inside a write. Positions are compared as integers (`0/3000060` -> 0x3000060).
"""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import redis
from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import Model
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from twc.api import shared_state
from twc.api.middleware import answers_503_when_database_is_down
from twc.api.models import WritePosition

logger = logging.getLogger("twc.replica")

REPLICA = "replica"
PRIMARY = "default"
# An application's position outlives any replication lag worth waiting for; after it expires the
# application's reads go to the standby unconditionally.
POSITION_TTL_SECONDS = 3600

# Keep the highest position when two requests of one application finish out of order.
_KEEP_MAX = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 1
"""


class PrimaryRouter:
    """Every read and write on the primary unless the code asks for the replica with `.using()`."""

    def db_for_read(self, model: type[Model], **hints: object) -> str:
        instance = hints.get("instance")
        return getattr(getattr(instance, "_state", None), "db", None) or PRIMARY

    def db_for_write(self, model: type[Model], **hints: object) -> str:
        return PRIMARY

    def allow_relation(self, obj1: Model, obj2: Model, **hints: object) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: object) -> bool:
        return db == PRIMARY


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def lsn_to_int(lsn: str) -> int:
    high, low = lsn.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def _position_key(application_id: int) -> str:
    return shared_state.redis_key("wal", application_id)


def primary_position() -> int:
    """The primary's WAL position now: at or past the end of every transaction committed before."""
    with connections[PRIMARY].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return lsn_to_int(cursor.fetchone()[0])


def remember_write(application_id: int) -> None:
    """Store the primary's position as the application's last write (called after the commit)."""
    position = primary_position()
    if shared_state.use_redis():
        key = _position_key(application_id)
        shared_state.redis_client().eval(_KEEP_MAX, 1, key, position, POSITION_TTL_SECONDS)
        return
    table = WritePosition._meta.db_table
    with connections[PRIMARY].cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (application_id, position) VALUES (%s, %s) ON CONFLICT (application_id) "
            f"DO UPDATE SET position = GREATEST({table}.position, EXCLUDED.position)",
            [application_id, position],
        )


def last_write(application_id: int) -> int:
    if shared_state.use_redis():
        cached = shared_state.redis_client().get(_position_key(application_id))
        return int(cached) if cached else 0
    stored = WritePosition.objects.using(PRIMARY).filter(application_id=application_id).first()
    return stored.position if stored else 0


class _StandbyHealth:
    """Whether the standby failed to answer lately: while it did, reads go to the primary without
    asking it again (a standby that is down can make each attempt wait for PgBouncer's
    query_wait_timeout)."""

    FAILURE_BACKOFF_SECONDS = 5.0

    def __init__(self) -> None:
        self.failed_at = float("-inf")

    def failed_recently(self) -> bool:
        return time.monotonic() - self.failed_at < self.FAILURE_BACKOFF_SECONDS

    def failed(self) -> None:
        self.failed_at = time.monotonic()


standby_health = _StandbyHealth()
# After a failover the `replica` alias may reach the new primary (no standby left): its own WAL
# position is then the answer.
REPLAY_POSITION_SQL = (
    "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text"
)


def _end(reads: ExitStack) -> None:
    """End the standby transaction of a read that will not use it; a broken connection is dropped."""
    try:
        reads.close()
    except DatabaseError:
        connections[REPLICA].close()


@contextmanager
def replica_reads(application_id: int | None) -> Iterator[str]:
    """The database alias for the reads of the block: `replica` when the standby has replayed the
    application's last write, else the primary.

    The standby's position is checked inside the transaction that the block's reads then run in, so
    the check and the reads reach the same server: through PgBouncer's transaction pooling two
    statements outside one transaction may reach two servers (the switch to a standby that has just
    rejoined, and is behind, happens between any two of them)."""
    if not replica_configured() or application_id is None or standby_health.failed_recently():
        yield PRIMARY
        return
    needed = last_write(application_id)
    reads = ExitStack()
    alias = PRIMARY
    try:
        reads.enter_context(transaction.atomic(using=REPLICA))
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(REPLAY_POSITION_SQL)
            value = cursor.fetchone()[0]
        if value and lsn_to_int(value) >= needed:
            alias = REPLICA
    except DatabaseError:
        # The standby is down or being replaced: read the primary until it answers again.
        standby_health.failed()
        _end(reads)
        connections[REPLICA].close()
    if alias == PRIMARY:
        _end(reads)
    with reads:
        yield alias


class WritePositionMiddleware:
    """After an unsafe /api/ request of an application that succeeded, remember the primary's WAL
    position as that application's last write, before the client sees the answer. Placed after the
    middleware that resolves the token (it reads `request.store_token`); a no-op without a replica."""

    UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    # The primary can fail between the write's commit and the position's read: that is a 503 (the
    # client retries; its Idempotency-Key replays the write), never an answer whose position is lost.
    @answers_503_when_database_is_down
    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not replica_configured() or request.method not in self.UNSAFE or response.status_code >= 400:
            return response
        token = getattr(request, "store_token", None)
        if token is not None:
            try:
                remember_write(token.application_id)
            except redis.RedisError:
                # The write stands; the position is lost, so this application's next reads may lag.
                logger.warning("write position not stored: Redis unavailable")
        return response
