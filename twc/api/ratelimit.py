"""Rate limits: a token bucket per OAuth application for /api/, and the buckets that limits on
credentials (the OAuth endpoints, the admin's login) take from.

A bucket holds at most `burst` tokens and refills at `rate` tokens a second; each request takes one.
A limit that counts only failures takes its token before the expensive check (so that a refusal
costs no hash) and gives it back when the check succeeds (`take_each`, `give_back_each`).
The state is shared by every server process: an atomic Lua script in Redis when `REDIS_URL` is set,
else a row locked for the read-modify-write in the database.

An /api/ request need not reach the shared store each time: while an application's bucket holds
plenty (at least LOW_WATER_BATCHES times RATE_LIMIT_LOCAL_BATCH tokens), a process takes a batch of
RATE_LIMIT_LOCAL_BATCH tokens at once and spends them on its next requests within
RATE_LIMIT_LOCAL_SECONDS (`LocalAllotments`). Every request still spends a token taken from the
shared bucket, so no process, nor all together, ever exceeds the limit; what a process holds and
has not spent when its lease ends is lost (at most a batch less one, per process and lease, and only
while the bucket is far from empty). A bucket with fewer tokens is counted one request at a time.

DRF's throttles are not used: they key on `request.user`, which is None for client-credentials
tokens (they would fall back to the IP).

An /api/ request's store and token are read from `request.store` and `request.store_token`, which the
store middleware (tenants.middleware.StoreMiddleware, placed before this one) resolved.
"""

import functools
import logging
import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import redis
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from twc.api.errors import too_many_requests
from twc.api.middleware import GetResponse, answers_503_when_database_is_down, json_error_response
from twc.api.models import RateLimitBucket
from twc.api.shared_state import redis_client, redis_key, use_redis

logger = logging.getLogger("twc.api")

# A bucket holding fewer than this many batches is counted one token at a time.
LOW_WATER_BATCHES = 8

# KEYS[1] = bucket; ARGV = rate, burst, the batch wanted and LOW_WATER_BATCHES (one token is taken
# unless the bucket holds at least that many batches). Returns the tokens taken (0: refused) and those left. Redis's own
# clock, so every process agrees on "now".
TAKE_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3] or '1')
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local taken = 0
if tokens >= 1 then
  taken = 1
  if want > 1 and tokens >= want * tonumber(ARGV[4]) then
    taken = want
  end
  tokens = tokens - taken
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return {taken, tostring(tokens)}
"""

# The same bucket, one token given back (never above the burst); a bucket that expired stays full.
GIVE_BACK_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  return 0
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate + 1)
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return 1
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int

    def headers(self) -> dict[str, str]:
        headers = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining)}
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


def _decision(allowed: bool, tokens: float, rate: float, burst: int) -> Decision:
    retry_after = 0 if allowed else max(1, math.ceil((1 - tokens) / rate))
    return Decision(allowed, burst, max(0, math.floor(tokens)), retry_after)


@functools.lru_cache(maxsize=4)
def _script_of(client: redis.Redis) -> "redis.commands.core.Script":
    # A registered script is sent as its SHA (EVALSHA), and loaded only when Redis lacks it.
    return client.register_script(TAKE_SCRIPT)


def _take_script() -> "redis.commands.core.Script":
    return _script_of(redis_client())


def _take_redis(key: str, rate: float, burst: int, want: int) -> tuple[int, float]:
    taken, tokens = _take_script()(keys=[redis_key("rl", key)], args=[rate, burst, want, LOW_WATER_BATCHES])
    return int(taken), float(tokens)


def _refill(tokens: float, last: float, now: float, rate: float, burst: int) -> float:
    return min(float(burst), tokens + max(0.0, now - last) * rate)


def _take_database(key: str, rate: float, burst: int, want: int) -> tuple[int, float]:
    now = time.time()
    with transaction.atomic():
        # SQLite ignores FOR UPDATE, but its IMMEDIATE transactions already serialise writers.
        bucket = RateLimitBucket.objects.select_for_update().filter(key=key).first()
        if bucket is None:
            taken = want if want > 1 and burst >= want * LOW_WATER_BATCHES else 1
            try:
                with transaction.atomic():
                    RateLimitBucket.objects.create(key=key, tokens=burst - taken, updated_at=now)
                return taken, float(burst - taken)
            except IntegrityError:  # another process created it first
                bucket = RateLimitBucket.objects.select_for_update().get(key=key)
        tokens = _refill(bucket.tokens, bucket.updated_at, now, rate, burst)
        taken = 0
        if tokens >= 1:
            taken = want if want > 1 and tokens >= want * LOW_WATER_BATCHES else 1
            tokens -= taken
        RateLimitBucket.objects.filter(pk=bucket.pk).update(tokens=tokens, updated_at=now)
    return taken, tokens


# The slowest refill a bucket has (a rate of 0 would never refill it).
MIN_RATE = 0.001
# Buckets used within this long are kept whatever their limits: a margin for limits the
# retention job is not told of.
MIN_IDLE_SECONDS = 3600


def _bounds(rate: float, burst: int) -> tuple[float, int]:
    return max(rate, MIN_RATE), max(burst, 1)


@dataclass
class Allotment:
    """Tokens a process took from a shared bucket beyond the one its request needed."""

    rate: float
    burst: int
    spare: int
    remaining: int  # the budget a client is told: the bucket's tokens after the take, plus `spare`
    until: float  # time.monotonic() after which the spare tokens are dropped


class LocalAllotments:
    """The spare tokens of this process, per bucket (thread-safe: gthread workers share it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, Allotment] = {}

    def spend(self, key: str, rate: float, burst: int) -> Decision | None:
        """One spare token of `key` (its limits unchanged, its lease running), or None."""
        with self._lock:
            allotment = self._by_key.get(key)
            if allotment is None:
                return None
            if allotment.spare <= 0 or (allotment.rate, allotment.burst) != (rate, burst):
                del self._by_key[key]
                return None
            if time.monotonic() >= allotment.until:
                del self._by_key[key]
                return None
            allotment.spare -= 1
            allotment.remaining = max(0, allotment.remaining - 1)
            return Decision(True, burst, allotment.remaining, 0)

    def keep(self, key: str, allotment: Allotment) -> None:
        with self._lock:
            self._by_key[key] = allotment

    def clear(self) -> None:
        with self._lock:
            self._by_key.clear()


local_allotments = LocalAllotments()


def take(key: str, *, rate: float, burst: int, batch: int = 1) -> Decision | None:
    """Take one token from the bucket `key`; None when the shared store cannot be reached (the
    request is then let through: a limit must not take the API down with it).

    With `batch` > 1 the token may come from this process's spare tokens of `key`, and a take from
    the shared bucket takes `batch` tokens while the bucket holds at least LOW_WATER_BATCHES batches;
    the spare ones are spent within settings.RATE_LIMIT_LOCAL_SECONDS or lost."""
    rate, burst = _bounds(rate, burst)
    if batch > 1:
        spent = local_allotments.spend(key, rate, burst)
        if spent is not None:
            return spent
    want = max(1, batch)
    try:
        taken, tokens = _take_redis(key, rate, burst, want) if use_redis() else _take_database(key, rate, burst, want)
    except redis.RedisError:
        logger.warning("rate limit store unreachable; request let through")
        return None
    if taken == 0:
        return _decision(False, tokens, rate, burst)
    remaining = math.floor(tokens) + taken - 1
    if taken > 1:
        until = time.monotonic() + settings.RATE_LIMIT_LOCAL_SECONDS
        local_allotments.keep(key, Allotment(rate, burst, taken - 1, remaining, until))
    return Decision(True, burst, max(0, remaining), 0)


def _give_back_database(key: str, rate: float, burst: int) -> None:
    now = time.time()
    with transaction.atomic():
        bucket = RateLimitBucket.objects.select_for_update().filter(key=key).first()
        if bucket is None:
            return
        tokens = min(float(burst), _refill(bucket.tokens, bucket.updated_at, now, rate, burst) + 1)
        RateLimitBucket.objects.filter(pk=bucket.pk).update(tokens=tokens, updated_at=now)


def give_back(key: str, *, rate: float, burst: int) -> None:
    """Return the token a request took from `key` (its check succeeded: successes are not counted)."""
    rate, burst = _bounds(rate, burst)
    try:
        if use_redis():
            redis_client().eval(GIVE_BACK_SCRIPT, 1, redis_key("rl", key), rate, burst)
        else:
            _give_back_database(key, rate, burst)
    except redis.RedisError:
        logger.warning("rate limit store unreachable; token not given back")


@dataclass(frozen=True)
class Limit:
    key: str
    rate: float
    burst: int


def take_each(limits: list[Limit]) -> tuple[Decision | None, list[Limit]]:
    """Take one token from each bucket in turn, stopping at the first that refuses. Returns the
    refusing decision (None when every bucket allowed it) and the limits a token was taken from."""
    taken: list[Limit] = []
    for limit in limits:
        decision = take(limit.key, rate=limit.rate, burst=limit.burst)
        if decision is None:
            continue
        if not decision.allowed:
            return decision, taken
        taken.append(limit)
    return None, taken


def give_back_each(limits: list[Limit]) -> None:
    for limit in limits:
        give_back(limit.key, rate=limit.rate, burst=limit.burst)


class RateLimitedStore(Protocol):
    """What the limiter reads of a store (tenants.Store: twc/ imports no app)."""

    @property
    def rate_limit_per_second(self) -> float | None: ...
    @property
    def rate_limit_burst(self) -> int | None: ...


def application_limits(store: RateLimitedStore) -> tuple[float, int]:
    # A store's own values are checked when set (tenants.services.store_clean); one that is not
    # positive (set before that check, or by hand) means the default, never a store throttled for good.
    own_rate, own_burst = store.rate_limit_per_second, store.rate_limit_burst
    rate = own_rate if own_rate and own_rate > 0 else settings.RATE_LIMIT_PER_SECOND
    burst = own_burst if own_burst and own_burst > 0 else settings.RATE_LIMIT_BURST
    return float(rate), int(burst)


def refill_seconds(rate: float, burst: int) -> float:
    """How long an empty bucket takes to fill up again."""
    return max(burst, 1) / max(rate, MIN_RATE)


def idle_buckets_delete(*, limits: Iterable[tuple[float, int]] = ()) -> int:
    """Delete the database's buckets idle long enough to be full again, and at least
    MIN_IDLE_SECONDS; their count. The token endpoint's buckets (one per client IP and per client_id
    tried, so without bound) go by the token limits; the others (one per OAuth application) by the
    slowest limit in use: the default and `limits`, the stores' own.

    A missing bucket is a full one, so no client gains anything. Redis expires its keys itself (the
    EXPIRE of TAKE_SCRIPT: the same time to refill).
    """
    now = time.time()
    token_limits = {
        "token-ip:": (settings.TOKEN_RATE_LIMIT_PER_SECOND, settings.TOKEN_RATE_LIMIT_BURST),
        "token-client:": (settings.TOKEN_CLIENT_RATE_LIMIT_PER_SECOND, settings.TOKEN_CLIENT_RATE_LIMIT_BURST),
    }
    deleted = 0
    others = RateLimitBucket.objects.all()
    for prefix, (rate, burst) in token_limits.items():
        idle = max(MIN_IDLE_SECONDS, refill_seconds(rate, burst))
        deleted += RateLimitBucket.objects.filter(key__startswith=prefix, updated_at__lt=now - idle).delete()[0]
        others = others.exclude(key__startswith=prefix)
    slowest = [(settings.RATE_LIMIT_PER_SECOND, settings.RATE_LIMIT_BURST), *limits]
    idle = max(MIN_IDLE_SECONDS, *(refill_seconds(rate, burst) for rate, burst in slowest))
    deleted += others.filter(updated_at__lt=now - idle).delete()[0]
    return deleted


def over_the_limit(decision: Decision) -> HttpResponse:
    return json_error_response(too_many_requests(retry_after=decision.retry_after, headers=decision.headers()))


class RateLimitMiddleware:
    """429 TooManyRequests with Retry-After over the limit, and the budget on every /api/ response."""

    def __init__(self, get_response: GetResponse):
        self.get_response = get_response

    @answers_503_when_database_is_down
    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not settings.RATE_LIMIT_ENABLED:
            return self.get_response(request)
        if request.path_info.startswith("/api/"):
            return self.limit_api(request)
        return self.get_response(request)

    def limit_api(self, request: HttpRequest) -> HttpResponseBase:
        store = getattr(request, "store", None)
        if store is None:
            return self.get_response(request)  # the view answers 401; nothing to count against
        rate, burst = application_limits(store)
        token = request.store_token  # type: ignore[attr-defined]  # set with request.store
        decision = take(f"app:{token.application_id}", rate=rate, burst=burst, batch=settings.RATE_LIMIT_LOCAL_BATCH)
        if decision is None:
            return self.get_response(request)
        if not decision.allowed:
            return over_the_limit(decision)
        response = self.get_response(request)
        for name, value in decision.headers().items():
            response[name] = value
        return response
