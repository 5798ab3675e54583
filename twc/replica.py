"""Reads from the hot standby that never miss the client's own writes (docs/scaling.md, section 2).

With `DATABASE_REPLICA_URL` set there is a `replica` database alias. The list, count, search and
the event feed read through `read_alias(application_id)`, which names `replica` only when the
standby has replayed the last write of that OAuth application:

- after every unsafe /api/ request of an application (`WritePositionMiddleware`) the primary's WAL
  position, read after the commit (`pg_current_wal_lsn()`), is stored as the application's
  position in the shared state (Redis when configured, else the `WritePosition` table beside the
  rate limits), keeping the highest one when requests race;
- a read compares that position with the standby's replay position (`pg_last_wal_replay_lsn()`),
  which each process caches for `REPLICA_POSITION_CACHE_SECONDS`; when the cached position is
  behind, it is read once more, and if the standby is still behind the read goes to the primary;
  a standby that does not answer sends every read to the primary for the next 5 s. A read costs
  at most one shared-state lookup and one standby query.

Everything else reads and writes the primary (`PrimaryRouter`): the token lookup, single-customer
reads, every read inside a write. Positions are compared as integers (`0/3000060` -> 0x3000060).
"""

import logging
import threading
import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import Model
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from twc.api import shared_state
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


class _ReplayPosition:
    """The standby's replay position, read at most once per REPLICA_POSITION_CACHE_SECONDS per process
    unless a read needs a newer one. After a failover the `replica` alias may reach the new primary
    (no standby left): its own WAL position is then the answer."""

    SQL = "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text"

    # After the standby failed to answer, reads go to the primary for this long without asking it
    # again: a standby that is down can make each attempt wait (PgBouncer's query_wait_timeout).
    FAILURE_BACKOFF_SECONDS = 5.0

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.position = -1
        self.read_at = float("-inf")
        self.failed_at = float("-inf")

    def get(self, *, at_least: int) -> int:
        with self.lock:
            now = time.monotonic()
            if now - self.failed_at < self.FAILURE_BACKOFF_SECONDS:
                return -1
            fresh = now - self.read_at < settings.REPLICA_POSITION_CACHE_SECONDS
            if fresh and self.position >= at_least:
                return self.position
        position = self.read()
        with self.lock:
            self.position, self.read_at = position, time.monotonic()
            if position < 0:
                self.failed_at = self.read_at
        return position

    def read(self) -> int:
        try:
            with connections[REPLICA].cursor() as cursor:
                cursor.execute(self.SQL)
                value = cursor.fetchone()[0]
        except DatabaseError:
            # The standby is down or being replaced: read the primary until it answers again.
            connections[REPLICA].close()
            return -1
        return lsn_to_int(value) if value else -1


replay_position = _ReplayPosition()


def read_alias(application_id: int | None) -> str:
    """`replica` when the standby has replayed the application's last write, else `default`."""
    if not replica_configured() or application_id is None:
        return PRIMARY
    needed = last_write(application_id)
    return REPLICA if replay_position.get(at_least=needed) >= needed >= 0 else PRIMARY


class WritePositionMiddleware:
    """After an unsafe /api/ request of an application that succeeded, remember the primary's WAL
    position as that application's last write, before the client sees the answer. Placed after the
    middleware that resolves the token (it reads `request.store_token`); a no-op without a replica."""

    UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

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
