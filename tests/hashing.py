"""A password hasher that counts its work, to prove a request made none (tests only)."""

import threading
from collections import Counter

from django.contrib.auth.hashers import MD5PasswordHasher

calls: Counter = Counter()
_lock = threading.Lock()


class CountingMD5Hasher(MD5PasswordHasher):
    """The tests' fast hasher (same `md5` algorithm, so it checks the hashes already stored),
    counting every hash it computes: `calls["verify"]`, `calls["encode"]`."""

    def verify(self, password, encoded):
        with _lock:
            calls["verify"] += 1
        return super().verify(password, encoded)

    def encode(self, password, salt):
        with _lock:
            calls["encode"] += 1
        return super().encode(password, salt)


def count_hashes(settings) -> Counter:
    """Install the counting hasher for this test; the counts start at zero."""
    settings.PASSWORD_HASHERS = ["tests.hashing.CountingMD5Hasher"]
    calls.clear()
    return calls
