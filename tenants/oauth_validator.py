"""django-oauth-toolkit's validator, with client authentication read one way and hashing bounded.

- The credentials are read by `tenants.oauth_credentials.client_credentials`, the same reading the
  limits count under; a Basic header is never followed by a second try with the body.
- Values no real client has (no secret, an id or a secret too long) fail without a lookup or a hash.
- Checking a hashed secret is the costly step: at most `OAUTH_HASH_CONCURRENCY` run at once in a
  process; a request that waits longer than `OAUTH_HASH_WAIT_SECONDS` for a slot is answered 503
  (tenants.oauth_views), so that a flood of token requests cannot take every core.
- What happened is written to `current_check` for the view that asked (its limits count failures).
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.common import Request

from tenants.oauth_credentials import ClientCredentials, basic_value, client_credentials, current_check


class HashCapacityExceeded(Exception):
    """No slot to check a secret became free in time."""


_slots_lock = threading.Lock()
_slots: tuple[int, threading.BoundedSemaphore] | None = None


def _semaphore() -> threading.BoundedSemaphore:
    global _slots
    size = max(1, int(settings.OAUTH_HASH_CONCURRENCY))
    with _slots_lock:
        if _slots is None or _slots[0] != size:
            _slots = (size, threading.BoundedSemaphore(size))
        return _slots[1]


@contextmanager
def hash_slot() -> Iterator[None]:
    semaphore = _semaphore()
    if not semaphore.acquire(timeout=float(settings.OAUTH_HASH_WAIT_SECONDS)):
        raise HashCapacityExceeded
    try:
        yield
    finally:
        semaphore.release()


class StoreOAuth2Validator(OAuth2Validator):
    def _extract_basic_auth(self, request: Request) -> str | None:
        return basic_value(request.headers.get("HTTP_AUTHORIZATION")) or None

    def authenticate_client(self, request: Request, *args: Any, **kwargs: Any) -> bool:
        credentials = client_credentials(
            authorization=request.headers.get("HTTP_AUTHORIZATION"),
            client_id=getattr(request, "client_id", None),
            client_secret=getattr(request, "client_secret", None),
        )
        check = current_check.get()
        if check is not None:
            check.client_id = credentials.client_id
        authenticated = self._authenticate(credentials, request)
        if check is not None:
            check.authenticated = authenticated
        return authenticated

    def _authenticate(self, credentials: ClientCredentials, request: Request) -> bool:
        if not credentials.usable:
            return False
        # _load_application returns the client it set as request.client, None when it found none.
        if self._load_application(credentials.client_id, request) is None or request.client is None:
            return False
        if request.client.client_id != credentials.client_id:
            return False
        verified = self._check_secret(credentials.secret, request.client.client_secret)
        check = current_check.get()
        if check is not None:
            check.secret_verified = verified
        return verified

    def _check_secret(self, provided_secret: str, stored_secret: str) -> bool:
        check = current_check.get()
        if check is not None:
            check.hashes += 1
        with hash_slot():
            matches: bool = super()._check_secret(provided_secret, stored_secret)  # DOT's is unannotated
            return matches
