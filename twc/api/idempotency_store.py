"""Where `Idempotency-Key` state lives: Redis when `REDIS_URL` is set (SET NX with expiry), else the
`IdempotencyRecord` table (its unique (store, key) constraint decides who runs first).

`begin` claims a key (or finds its stored reply, another request's fingerprint, or a run under way);
`finish` stores the reply or releases the key, only while the run still owns it. A stored reply
names its data subjects (customers, by twc_customer_id): `stored_replies_forget` deletes the replies
that hold a subject when it is erased. twc.api.idempotency is the middleware that uses them.
"""

import base64
import datetime as dt
import hashlib
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import redis
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from twc.api.errors import service_unavailable
from twc.api.models import IdempotencyRecord, IdempotencySubject
from twc.api.shared_state import redis_client, redis_key, use_redis

REDIS = "redis"
DATABASE = "database"


@dataclass
class Stored:
    status: int
    headers: dict[str, Any]
    body: bytes


@dataclass
class Claim:
    """What `begin` found: 'new' (run it; `owner` identifies this run), 'replay', 'mismatch', 'running'."""

    outcome: str
    backend: str
    store_id: int
    key: str
    fingerprint: str
    owner: str = ""
    stored: Stored | None = None
    record_id: int | None = field(default=None)
    # time.monotonic() after which the lock has run out, and another run may take the key over.
    lock_deadline: float = 0.0


def begin(store_id: int, key: str, fingerprint: str) -> Claim:
    claim = (_redis_begin if use_redis() else _database_begin)(store_id, key, fingerprint)
    claim.lock_deadline = time.monotonic() + settings.IDEMPOTENCY_LOCK_SECONDS
    return claim


def finish(claim: Claim, stored: Stored | None, subjects: Iterable[str] = ()) -> None:
    """Store the reply (naming its subjects) or, with `stored` None, release the key: only while
    `claim` still owns the key (a run that outlived its lock and was taken over changes nothing)."""
    if claim.backend == REDIS:
        _redis_finish(claim, stored, subjects)
    else:
        _database_finish(claim, stored, subjects)


def stored_replies_forget(*, store: models.Model, subjects: Iterable[str]) -> int:
    """Delete the store's stored replies that hold any of these subjects (customers, by
    twc_customer_id), in the database and, when REDIS_URL is set, in Redis. The number deleted.

    Redis out of reach is `503 ServiceUnavailable`: the caller (an erasure) must not go on as if
    the replies were gone."""
    subjects = [str(subject) for subject in subjects]
    if not subjects:
        return 0
    records = IdempotencyRecord.objects.filter(store_id=store.pk, subjects__subject__in=subjects)
    deleted = IdempotencyRecord.objects.filter(pk__in=list(records.values_list("pk", flat=True))).delete()[1]
    removed = deleted.get(IdempotencyRecord._meta.label, 0)
    if use_redis():
        try:
            removed += _redis_forget(store.pk, subjects)
        except redis.RedisError:
            raise service_unavailable("Stored API replies cannot be deleted now: Redis is unreachable; retry later.")
    return removed


def expired_records_delete(*, store: models.Model | None = None) -> int:
    """Delete the stored responses past their expiry (they hold customers' data): the database
    backend only; Redis expires its keys by itself. The number deleted."""
    expired = IdempotencyRecord.objects.filter(expires_at__lt=timezone.now())
    if store is not None:
        expired = expired.filter(store_id=store.pk)
    return expired.delete()[1].get(IdempotencyRecord._meta.label, 0)


# --- Redis --------------------------------------------------------------------------------------
# KEYS[1] = the key, KEYS[2..] = the sets of its subjects; ARGV = owner, value ('' to release), ttl.
# Delete or overwrite the key only while this run still owns it (a run that outlived its lock and
# was taken over must not clobber the newer run's state); a stored reply joins its subjects' sets.
FINISH_SCRIPT = """
local value = redis.call('GET', KEYS[1])
if value and cjson.decode(value)['owner'] == ARGV[1] then
  if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  local member = ARGV[1] .. ' ' .. KEYS[1]
  for i = 2, #KEYS do
    redis.call('SADD', KEYS[i], member)
    redis.call('EXPIRE', KEYS[i], ARGV[3])
  end
  return 1
end
return 0
"""
# KEYS[1] = a key named by a subject's set; ARGV[1] = the owner of the reply that named it. The key
# is deleted only if it still holds that reply (it may have expired and been claimed again since).
FORGET_SCRIPT = """
local value = redis.call('GET', KEYS[1])
if value and string.find(value, '"owner": "' .. ARGV[1] .. '"', 1, true) then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _redis_name(store_id: int, key: str) -> str:
    return redis_key("idem", store_id, hashlib.sha256(key.encode()).hexdigest())


def _redis_subject_set(store_id: int, subject: str) -> str:
    return redis_key("idem-subject", store_id, subject)


def _redis_begin(store_id: int, key: str, fingerprint: str) -> Claim:
    client, name, owner = redis_client(), _redis_name(store_id, key), uuid.uuid4().hex
    running = json.dumps({"state": "running", "fp": fingerprint, "owner": owner})
    for _ in range(3):
        if client.set(name, running, nx=True, ex=settings.IDEMPOTENCY_LOCK_SECONDS):
            return Claim("new", REDIS, store_id, key, fingerprint, owner=owner)
        raw = client.get(name)
        if raw is None:
            continue  # expired between the two calls
        value = json.loads(raw)
        if value["fp"] != fingerprint:
            return Claim("mismatch", REDIS, store_id, key, fingerprint)
        if value["state"] == "running":
            return Claim("running", REDIS, store_id, key, fingerprint)
        stored = Stored(value["status"], value["headers"], base64.b64decode(value["body"]))
        return Claim("replay", REDIS, store_id, key, fingerprint, stored=stored)
    return Claim("running", REDIS, store_id, key, fingerprint)


def _redis_finish(claim: Claim, stored: Stored | None, subjects: Iterable[str]) -> None:
    value, sets = "", []
    if stored is not None:
        value = json.dumps(
            {
                # "owner" stays the third key: FORGET_SCRIPT finds it as '"owner": "<hex>"'.
                "state": "done",
                "fp": claim.fingerprint,
                "owner": claim.owner,
                "status": stored.status,
                "headers": stored.headers,
                "body": base64.b64encode(stored.body).decode(),
            }
        )
        sets = [_redis_subject_set(claim.store_id, subject) for subject in dict.fromkeys(subjects)]
    name = _redis_name(claim.store_id, claim.key)
    redis_client().eval(FINISH_SCRIPT, 1 + len(sets), name, *sets, claim.owner, value, settings.IDEMPOTENCY_TTL_SECONDS)


def _redis_forget(store_id: int, subjects: list[str]) -> int:
    client, removed = redis_client(), 0
    for subject in subjects:
        name = _redis_subject_set(store_id, subject)
        for member in client.smembers(name):
            text = member.decode() if isinstance(member, bytes) else member  # bytes: no decode_responses
            owner, _, key_name = text.partition(" ")
            removed += client.eval(FORGET_SCRIPT, 1, key_name, owner)
        client.delete(name)
    return removed


# --- Database -----------------------------------------------------------------------------------
def _database_begin(store_id: int, key: str, fingerprint: str) -> Claim:
    owner = uuid.uuid4().hex
    for _ in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    store_id=store_id,
                    key=key,
                    fingerprint=fingerprint,
                    owner=owner,
                    locked_until=now + dt.timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS),
                    created_at=now,
                    expires_at=now + dt.timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS),
                )
            return Claim("new", DATABASE, store_id, key, fingerprint, owner=owner, record_id=record.pk)
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(store_id=store_id, key=key).first()
        if existing is None:
            continue
        if existing.expires_at <= now:
            IdempotencyRecord.objects.filter(pk=existing.pk, expires_at=existing.expires_at).delete()
            continue
        if existing.fingerprint != fingerprint:
            return Claim("mismatch", DATABASE, store_id, key, fingerprint)
        if existing.status is not None:
            stored = Stored(existing.status, existing.headers, bytes(existing.body))
            return Claim("replay", DATABASE, store_id, key, fingerprint, stored=stored)
        if existing.locked_until is not None and existing.locked_until > now:
            return Claim("running", DATABASE, store_id, key, fingerprint)
        # The first run's process died without an answer: this retry takes the key over.
        taken = IdempotencyRecord.objects.filter(pk=existing.pk, owner=existing.owner, status__isnull=True).update(
            owner=owner, locked_until=now + dt.timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS)
        )
        if taken:
            return Claim("new", DATABASE, store_id, key, fingerprint, owner=owner, record_id=existing.pk)
    return Claim("running", DATABASE, store_id, key, fingerprint)


def _database_finish(claim: Claim, stored: Stored | None, subjects: Iterable[str]) -> None:
    if claim.record_id is None:
        return  # no record of this run's (only a 'new' claim has one): nothing to store or release
    mine = IdempotencyRecord.objects.filter(pk=claim.record_id, owner=claim.owner, status__isnull=True)
    if stored is None:
        mine.delete()
        return
    with transaction.atomic():
        if mine.update(status=stored.status, headers=stored.headers, body=stored.body, locked_until=None):
            IdempotencySubject.objects.bulk_create(
                [IdempotencySubject(record_id=claim.record_id, subject=subject) for subject in dict.fromkeys(subjects)],
                batch_size=1000,
            )
