"""`Idempotency-Key` on every POST under /api/ (a middleware, so a new POST endpoint has it too).

The first response for (store, key) is kept for IDEMPOTENCY_TTL_SECONDS and replayed, with
`Idempotent-Replayed: true`, to a retry that sends the same method, path and body. The same key with
another request is `422 IdempotencyKeyReused`; a retry while the first still runs is
`409 IdempotencyKeyInProgress`. Kept: 2xx and the 4xx a retry would get again; not kept (the key is
released so a retry runs afresh): 5xx and 503 (or an exception), 401/403/429, which depend on the
caller's credentials or budget rather than on the request, a reply over MAX_STORED_REPLY_BYTES, and
every reply of a view marked `RepliesNotStored` (its answer carries a link a retry must not get twice).

A replay goes only to a token with the scope the request needs (`request.store_token_has_scope`, set
by the store middleware, tenants.middleware.StoreMiddleware, which runs before this one and resolves
`request.store`): any other token goes on to the view, which refuses it, and claims nothing.

A stored reply names the customers it holds (`reply_holds`), so that erasing one of them deletes it
(twc.api.idempotency_store.stored_replies_forget). Where the state lives: twc.api.idempotency_store.
"""

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis
from django.db import DatabaseError, connections
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from twc.api.errors import idempotency_key_in_progress, idempotency_key_reused, invalid_field, service_unavailable
from twc.api.idempotency_store import Claim, Stored, begin, finish
from twc.api.middleware import GetResponse, answers_503_when_database_is_down, json_error_response

logger = logging.getLogger("twc.api")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("Content-Type", "ETag", "Location", "Link")
NOT_KEPT_STATUSES = frozenset({401, 403, 429})
# The contract: a larger reply is answered, not stored (and its key released).
MAX_STORED_REPLY_BYTES = 16 * 1024 * 1024
SUBJECTS_ATTRIBUTE = "idempotency_subjects"
# Set on the request by process_view for a view marked RepliesNotStored.
NOT_STORED_ATTRIBUTE = "idempotency_not_stored"
# A finish that could not reach the database or Redis is retried this often until the lock runs out.
FINISH_RETRY_SECONDS = 0.5
_KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")


def is_kept(status: int) -> bool:
    return status < 500 and status not in NOT_KEPT_STATUSES


class RepliesNotStored:
    """A view mixin: its answers carry a link or a secret (send_invite's activation link), so none is
    stored. The key still refuses a second concurrent run; once the first has answered, a retry runs
    again, and its new link voids the old one."""

    idempotency_stores_replies = False


def reply_holds(response: HttpResponse, subjects: Iterable[object]) -> HttpResponse:
    """Name the customers (by twc_customer_id) whose data `response` holds: a stored replay of it is
    deleted when one of them is erased."""
    setattr(response, SUBJECTS_ATTRIBUTE, [str(subject) for subject in subjects])
    return response


def fingerprint_of(request: HttpRequest) -> str:
    assert request.method is not None  # a request from Django's handler always has one
    digest = hashlib.sha256()
    # The query string too: ?on_conflict=skip and ?on_conflict=update are different requests.
    for part in (request.method.encode(), request.get_full_path().encode(), request.body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def replay(stored: Stored) -> HttpResponse:
    response = HttpResponse(stored.body, status=stored.status)
    for name, value in stored.headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def reply_to_store(request: HttpRequest, response: HttpResponseBase) -> Stored | None:
    """What of `response` is kept for the key, or None to release the key."""
    if not is_kept(response.status_code) or response.streaming or getattr(request, NOT_STORED_ATTRIBUTE, False):
        return None
    if not isinstance(response, HttpResponse):
        return None  # not streaming, yet no HttpResponse: it has no `content` to keep
    if len(response.content) > MAX_STORED_REPLY_BYTES:
        return None
    headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
    return Stored(response.status_code, headers, response.content)


class IdempotencyMiddleware:
    def __init__(self, get_response: GetResponse) -> None:
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
        if store is None or not getattr(request, "store_token_has_scope", False):
            return self.get_response(request)  # the view answers 401 or 403; nothing is claimed
        try:
            claim = begin(store.pk, key, fingerprint_of(request))
        except redis.RedisError:
            outage = service_unavailable("Idempotency keys cannot be checked right now; retry later.")
            return json_error_response(outage)
        if claim.outcome == "replay":
            assert claim.stored is not None  # begin gives every replay its stored reply
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

        stored: Stored | None = None
        subjects: Iterable[str] = ()
        try:
            response = self.get_response(request)
            stored = reply_to_store(request, response)
            subjects = getattr(response, SUBJECTS_ATTRIBUTE, ())
            return response
        finally:
            finish_or_defer(claim, stored, subjects)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponseBase],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        # DRF's as_view() gives the view class as `cls`, Django's as `view_class`.
        view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
        if getattr(view_class, "idempotency_stores_replies", True) is False:
            setattr(request, NOT_STORED_ATTRIBUTE, True)
        return None


# --- Finishing later ----------------------------------------------------------------------------
def finish_or_defer(claim: Claim, stored: Stored | None, subjects: Iterable[str]) -> None:
    """Store the reply or release the key now; if the database or Redis cannot be reached (an
    outage that began while the request ran), leave it to the background finisher, so that the
    answer still goes out and the key is not held until its lock runs out."""
    subjects = list(subjects)
    try:
        finish(claim, stored, subjects)
    except (DatabaseError, redis.RedisError) as exc:
        logger.warning("idempotency key not finished (%s): retrying in the background", exc.__class__.__name__)
        deferred_finishes.add(claim.lock_deadline, lambda: finish(claim, stored, subjects))


@dataclass
class _Job:
    deadline: float
    run: Callable[[], None]


class DeferredFinishes:
    """Finishes retried in one background thread every FINISH_RETRY_SECONDS, each until it succeeds
    or its lock runs out (then another run may take the key over anyway). The thread ends when none
    is left."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: list[_Job] = []
        self._running = 0  # taken out of _jobs by the thread, not yet done
        self._thread: threading.Thread | None = None

    def add(self, deadline: float, run: Callable[[], None]) -> None:
        with self._lock:
            self._jobs.append(_Job(deadline, run))
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="idempotency-finisher", daemon=True)
                self._thread.start()

    def pending(self) -> int:
        with self._lock:
            return len(self._jobs) + self._running

    def _work(self) -> None:
        try:
            while True:
                time.sleep(FINISH_RETRY_SECONDS)
                with self._lock:
                    jobs, self._jobs = self._jobs, []
                    self._running = len(jobs)
                left = [job for job in jobs if job.deadline > time.monotonic() and not self._done(job)]
                with self._lock:
                    self._jobs.extend(left)
                    self._running = 0
                    if not self._jobs:
                        self._thread = None  # under the lock: the next add starts a new thread
                        return
        except BaseException:
            with self._lock:
                self._thread, self._running = None, 0
            raise
        finally:
            connections.close_all()

    @staticmethod
    def _done(job: _Job) -> bool:
        try:
            job.run()
        except (DatabaseError, redis.RedisError):
            connections.close_all()  # reconnect on the next attempt
            return False
        except Exception:
            logger.exception("idempotency key: a deferred finish failed")
        return True


deferred_finishes = DeferredFinishes()
