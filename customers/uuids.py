"""Random (version 4) UUIDs for new customers, drawn from the OS in blocks.

uuid.uuid4() makes one getrandom system call per UUID, a large share of a bulk import's time
(docs/performance.md), and one call for 256 UUIDs costs about the same as one for one. The block is
thrown away in a forked child (import workers, gunicorn workers), so two processes never hand out
the same bytes.

The pool holds canonical text: the bulk write sends text to COPY and to its results, and building
a uuid.UUID only to print it again costs more than its validation of a whole field.
"""

import os
import re
import threading
import uuid

BLOCK = 256

_lock = threading.Lock()
_pool: list[str] = []


def _forget_pool() -> None:
    _pool.clear()


os.register_at_fork(after_in_child=_forget_pool)


# Byte maps setting the version (4) and variant (RFC 4122) bits of a whole block at once.
_VERSION_4 = bytes(b & 0x0F | 0x40 for b in range(256))
_RFC_4122_VARIANT = bytes(b & 0x3F | 0x80 for b in range(256))
_GROUPS = re.compile("(.{8})(.{4})(.{4})(.{4})(.{12})")


def _fill_pool() -> None:
    raw = bytearray(os.urandom(16 * BLOCK))
    raw[6::16] = raw[6::16].translate(_VERSION_4)
    raw[8::16] = raw[8::16].translate(_RFC_4122_VARIANT)
    _pool.extend(map("-".join, _GROUPS.findall(raw.hex())))


def new_uuid_text() -> str:
    """A new UUID in its canonical text form (lower-case hex, dashed)."""
    with _lock:
        if not _pool:
            _fill_pool()
        return _pool.pop()


def new_uuid() -> uuid.UUID:
    return uuid.UUID(new_uuid_text())
