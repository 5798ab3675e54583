"""Lockouts after repeated failures (sign-in guessing), shared by every server process.

A key (one email of one store, one shopper address of one store) counts failures. Once it has
`max_failures` within `window` seconds it is locked for `first_wait` seconds, and every further
failure doubles the wait up to `max_wait`; the caller asks `locked_for` BEFORE doing the expensive
check (a password hash), so that a locked key costs nothing. A success `clear`s the key. A key with
no failure for `window` seconds (past the end of any lock) starts over.

The counter is one atomic increment: two failures racing for the last allowed attempt both count
(one lockout, not two lost counts). Redis when `REDIS_URL` is set (a Lua script on Redis's clock),
else a `RateLimitBucket` row locked for the read-modify-write (`tokens` is the failure count and
`updated_at` the time of the last failure).
"""

import logging
import math
import time
from dataclasses import dataclass

import redis
from django.db import IntegrityError, transaction

from twc.api.models import RateLimitBucket
from twc.api.shared_state import redis_client, redis_key, use_redis

logger = logging.getLogger("twc.api")


@dataclass(frozen=True)
class FailurePolicy:
    max_failures: int
    window: float  # seconds
    first_wait: float
    max_wait: float

    def wait(self, failures: int) -> float:
        """How long a key with this many failures stays locked after the last one."""
        if failures < self.max_failures:
            return 0.0
        return float(min(self.max_wait, self.first_wait * 2 ** min(failures - self.max_failures, 32)))

    def is_stale(self, failures: int, last: float, now: float) -> bool:
        return now - last > self.wait(failures) + self.window


# KEYS[1]; ARGV = max_failures, window, first_wait, max_wait, increment (1 or 0). Returns
# {failures, seconds since the last failure}.
_SCRIPT = """
local max_failures, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local first_wait, max_wait = tonumber(ARGV[3]), tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'failures', 'last')
local failures = tonumber(state[1]) or 0
local last = tonumber(state[2]) or now
local function wait(n)
  if n < max_failures then return 0 end
  return math.min(max_wait, first_wait * 2 ^ math.min(n - max_failures, 32))
end
if now - last > wait(failures) + window then failures = 0 end
if ARGV[5] == '1' then
  failures = failures + 1
  last = now
  redis.call('HSET', KEYS[1], 'failures', failures, 'last', tostring(now))
  redis.call('EXPIRE', KEYS[1], math.ceil(wait(failures) + window) + 1)
end
return {failures, tostring(now - last)}
"""


def _redis(key: str, policy: FailurePolicy, *, increment: bool) -> tuple[int, float]:
    failures, since_last = redis_client().eval(
        _SCRIPT,
        1,
        redis_key("fail", key),
        policy.max_failures,
        policy.window,
        policy.first_wait,
        policy.max_wait,
        "1" if increment else "0",
    )
    return int(failures), float(since_last)


def _database_read(key: str, policy: FailurePolicy) -> tuple[int, float]:
    now = time.time()
    row = RateLimitBucket.objects.filter(key=key).values_list("tokens", "updated_at").first()
    if row is None or policy.is_stale(int(row[0]), row[1], now):
        return 0, 0.0
    return int(row[0]), now - row[1]


def _database_increment(key: str, policy: FailurePolicy) -> None:
    now = time.time()
    with transaction.atomic():
        # SQLite ignores FOR UPDATE, but its IMMEDIATE transactions already serialise writers.
        row = RateLimitBucket.objects.select_for_update().filter(key=key).first()
        if row is None:
            try:
                with transaction.atomic():
                    RateLimitBucket.objects.create(key=key, tokens=1, updated_at=now)
                return
            except IntegrityError:  # another process counted the first failure at the same moment
                row = RateLimitBucket.objects.select_for_update().get(key=key)
        failures = 0 if policy.is_stale(int(row.tokens), row.updated_at, now) else int(row.tokens)
        RateLimitBucket.objects.filter(pk=row.pk).update(tokens=failures + 1, updated_at=now)


def locked_for(key: str, policy: FailurePolicy) -> int | None:
    """Seconds until `key` may be tried again (for Retry-After), or None when it may be now. A
    shared store that cannot be reached locks nothing (as the rate limits, it must not take the API
    down with it)."""
    try:
        failures, since_last = _redis(key, policy, increment=False) if use_redis() else _database_read(key, policy)
    except redis.RedisError:
        logger.warning("failure-limit store unreachable; attempt let through")
        return None
    remaining = policy.wait(failures) - since_last
    return max(1, math.ceil(remaining)) if remaining > 0 else None


def record_failure(key: str, policy: FailurePolicy) -> None:
    try:
        if use_redis():
            _redis(key, policy, increment=True)
        else:
            _database_increment(key, policy)
    except redis.RedisError:
        logger.warning("failure-limit store unreachable; failure not counted")


def clear(key: str) -> None:
    try:
        if use_redis():
            redis_client().delete(redis_key("fail", key))
        else:
            RateLimitBucket.objects.filter(key=key).delete()
    except redis.RedisError:
        logger.warning("failure-limit store unreachable; key not cleared")
