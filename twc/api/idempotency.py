"""`Idempotency-Key` on every POST under /api/ (a middleware, so a new POST endpoint has it too).

The first response for (store, key) is kept for IDEMPOTENCY_TTL_SECONDS and replayed, with
`Idempotent-Replayed: true`, to a retry that sends the same method, path and body. The same key with
another request is `422 IdempotencyKeyReused`; a retry while the first still runs is
`409 IdempotencyKeyInProgress`. Kept: 2xx and the 4xx a retry would get again; not kept (the key is
released so a retry runs afresh): 5xx and 503, and 401/403/429, which depend on the caller's
credentials or budget rather than on the request.

State is shared by every server process: Redis when `REDIS_URL` is set (SET NX with expiry), else the
`IdempotencyRecord` table (its unique (store, key) constraint decides who runs first). The store is
`request.store`, resolved by the store middleware (tenants.middleware.StoreMiddleware) before this one.
"""

import base64
import datetime as dt
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import redis
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone

from twc.api.errors import idempotency_key_in_progress, idempotency_key_reused, invalid_field, service_unavailable
from twc.api.middleware import GetResponse, answers_503_when_database_is_down, json_error_response
from twc.api.models import IdempotencyRecord
from twc.api.shared_state import redis_client, redis_key, use_redis

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("Content-Type", "ETag", "Location", "Link")
NOT_KEPT_STATUSES = frozenset({401, 403, 429})
_KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")


def is_kept(status: int) -> bool:
    return status < 500 and status not in NOT_KEPT_STATUSES


@dataclass
class Stored:
    status: int
    headers: dict[str, Any]
    body: bytes


@dataclass
class Claim:
    """What `begin` found: 'new' (run it; `owner` identifies this run), 'replay', 'mismatch', 'running'."""

    outcome: str
    owner: str = ""
    stored: Stored | None = None
    record_id: int | None = field(default=None)


# --- Redis --------------------------------------------------------------------------------------
# Delete or overwrite the key only while this run still owns it (a run that outlived its lock and
# was taken over must not clobber the newer run's state).
RELEASE_SCRIPT = """
local value = redis.call('GET', KEYS[1])
if value and cjson.decode(value)['owner'] == ARGV[1] then
  if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
  return redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
return 0
"""


def _redis_name(store_id: int, key: str) -> str:
    return redis_key("idem", store_id, hashlib.sha256(key.encode()).hexdigest())


def _redis_begin(store_id: int, key: str, fingerprint: str) -> Claim:
    client, name, owner = redis_client(), _redis_name(store_id, key), uuid.uuid4().hex
    running = json.dumps({"state": "running", "fp": fingerprint, "owner": owner})
    for _ in range(3):
        if client.set(name, running, nx=True, ex=settings.IDEMPOTENCY_LOCK_SECONDS):
            return Claim("new", owner=owner)
        raw = client.get(name)
        if raw is None:
            continue  # expired between the two calls
        value = json.loads(raw)
        if value["fp"] != fingerprint:
            return Claim("mismatch")
        if value["state"] == "running":
            return Claim("running")
        return Claim("replay", stored=Stored(value["status"], value["headers"], base64.b64decode(value["body"])))
    return Claim("running")


def _redis_finish(claim: Claim, store_id: int, key: str, fingerprint: str, stored: Stored | None) -> None:
    value = ""
    if stored is not None:
        value = json.dumps(
            {
                "state": "done",
                "fp": fingerprint,
                "owner": claim.owner,
                "status": stored.status,
                "headers": stored.headers,
                "body": base64.b64encode(stored.body).decode(),
            }
        )
    redis_client().eval(
        RELEASE_SCRIPT, 1, _redis_name(store_id, key), claim.owner, value, settings.IDEMPOTENCY_TTL_SECONDS
    )


# --- Database -----------------------------------------------------------------------------------
def _database_begin(store_id: int, key: str, fingerprint: str) -> Claim:
    owner = uuid.uuid4().hex
    for _ in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                created = IdempotencyRecord.objects.create(
                    store_id=store_id,
                    key=key,
                    fingerprint=fingerprint,
                    owner=owner,
                    locked_until=now + dt.timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS),
                    created_at=now,
                    expires_at=now + dt.timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS),
                )
            return Claim("new", owner=owner, record_id=created.pk)
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(store_id=store_id, key=key).first()
        if record is None:
            continue
        if record.expires_at <= now:
            IdempotencyRecord.objects.filter(pk=record.pk, expires_at=record.expires_at).delete()
            continue
        if record.fingerprint != fingerprint:
            return Claim("mismatch")
        if record.status is not None:
            return Claim("replay", stored=Stored(record.status, record.headers, bytes(record.body)))
        if record.locked_until is not None and record.locked_until > now:
            return Claim("running")
        # The first run's process died without an answer: this retry takes the key over.
        taken = IdempotencyRecord.objects.filter(pk=record.pk, owner=record.owner, status__isnull=True).update(
            owner=owner, locked_until=now + dt.timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS)
        )
        if taken:
            return Claim("new", owner=owner, record_id=record.pk)
    return Claim("running")


def expired_records_delete(*, store: Any = None) -> int:
    """Delete the stored responses past their expiry (they hold customers' data): the database
    backend only; Redis expires its keys by itself. The number deleted. `store`: a tenants.Store, or
    None for every store."""
    expired = IdempotencyRecord.objects.filter(expires_at__lt=timezone.now())
    if store is not None:
        expired = expired.filter(store=store)
    return expired.delete()[0]


def _database_finish(claim: Claim, stored: Stored | None) -> None:
    assert claim.record_id is not None  # a claim this backend made "new" names its row
    mine = IdempotencyRecord.objects.filter(pk=claim.record_id, owner=claim.owner, status__isnull=True)
    if stored is None:
        mine.delete()
    else:
        mine.update(status=stored.status, headers=stored.headers, body=stored.body, locked_until=None)


# --- The middleware -----------------------------------------------------------------------------
def fingerprint_of(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    # The query string too: ?on_conflict=skip and ?on_conflict=update are different requests.
    for part in ((request.method or "").encode(), request.get_full_path().encode(), request.body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def replay(stored: Stored) -> HttpResponse:
    response = HttpResponse(stored.body, status=stored.status)
    for name, value in stored.headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


class IdempotencyMiddleware:
    def __init__(self, get_response: GetResponse):
        self.get_response = get_response

    @answers_503_when_database_is_down
    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST" or not request.path_info.startswith("/api/"):
            return self.get_response(request)
        if not _KEY_PATTERN.fullmatch(key):
            return json_error_response(
                invalid_field(HEADER, f"'{HEADER}' must be 1 to 255 printable ASCII characters.")
            )
        store = getattr(request, "store", None)
        if store is None:
            return self.get_response(request)  # the view answers 401
        store_id = store.pk
        fingerprint = fingerprint_of(request)
        try:
            claim = (_redis_begin if use_redis() else _database_begin)(store_id, key, fingerprint)
        except redis.RedisError:
            outage = service_unavailable("Idempotency keys cannot be checked right now; retry later.")
            return json_error_response(outage)
        if claim.outcome == "replay":
            assert claim.stored is not None  # a "replay" claim carries what it replays
            return replay(claim.stored)
        if claim.outcome == "mismatch":
            reused = idempotency_key_reused(f"This {HEADER} was already used with a different request.")
            return json_error_response(reused)
        if claim.outcome == "running":
            return json_error_response(
                idempotency_key_in_progress(
                    f"A request with this {HEADER} is still running; retry later.", retry_after=1
                )
            )

        stored = None
        try:
            response = self.get_response(request)
            if is_kept(response.status_code) and isinstance(response, HttpResponse):  # not streamed
                headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
                stored = Stored(response.status_code, headers, response.content)
            return response
        finally:
            try:
                if use_redis():
                    _redis_finish(claim, store_id, key, fingerprint, stored)
                else:
                    _database_finish(claim, stored)
            except redis.RedisError:
                pass  # the running marker expires after IDEMPOTENCY_LOCK_SECONDS
