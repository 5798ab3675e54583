"""A process-local cache of checked access tokens, so most API requests need no token query.

The token lookup (one query joining the token, its application, the store link and the store) is
the largest single piece of a GET by reference (docs/performance.md, docs/scaling.md). A token
found valid is kept for `TOKEN_CACHE_SECONDS` (default 30; 0 turns the cache off) with the store it
acts for. Its expiry is still checked on every request.

Revocation is honoured:
- immediately in the process that revokes or changes it: DOT's revoke deletes the AccessToken, and
  the signal receivers below evict it (deleting the application or the store link cascades to the
  tokens, which evicts them too; a change to a store or a store link empties the cache);
- within `TOKEN_CACHE_SECONDS` everywhere else (the other gunicorn workers and app servers), and for
  changes that bypass signals (`QuerySet.update`, raw SQL).
"""

import threading
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Model

if TYPE_CHECKING:
    from oauth2_provider.models import AccessToken

# Beyond this many live tokens in one process the cache starts over rather than grow without bound.
MAX_ENTRIES = 10_000


class TokenCache:
    def __init__(self, *, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self.clock = time.monotonic
        self._entries: dict[str, tuple[AccessToken, float]] = {}
        self._lock = threading.Lock()

    @property
    def ttl(self) -> float:
        return settings.TOKEN_CACHE_SECONDS

    def get(self, checksum: str) -> "AccessToken | None":
        """The token cached under `checksum`, or None when absent or older than the TTL."""
        entry = self._entries.get(checksum)
        if entry is None:
            return None
        token, stored_at = entry
        if self.clock() - stored_at >= self.ttl:
            self._entries.pop(checksum, None)
            return None
        return token

    def put(self, checksum: str, token: "AccessToken") -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[checksum] = (token, self.clock())

    def evict(self, checksum: str) -> None:
        self._entries.pop(checksum, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


token_cache = TokenCache()


def evict_token(sender: type[Model], instance: "AccessToken", **kwargs: Any) -> None:
    """post_save/post_delete of an AccessToken: a revoked or changed token is checked afresh."""
    if instance.token_checksum:
        token_cache.evict(instance.token_checksum)


def forget_all_tokens(sender: type[Model], **kwargs: Any) -> None:
    """post_save/post_delete of a Store or StoreApplication: cached tokens may carry stale stores."""
    token_cache.clear()


def connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save
    from oauth2_provider.models import get_access_token_model

    from tenants.models import Store, StoreApplication

    access_token = get_access_token_model()
    post_save.connect(evict_token, sender=access_token, dispatch_uid="tenants.token_cache.save")
    post_delete.connect(evict_token, sender=access_token, dispatch_uid="tenants.token_cache.delete")
    for model in (Store, StoreApplication):
        post_save.connect(forget_all_tokens, sender=model, dispatch_uid=f"tenants.token_cache.{model.__name__}.save")
        post_delete.connect(
            forget_all_tokens, sender=model, dispatch_uid=f"tenants.token_cache.{model.__name__}.delete"
        )
