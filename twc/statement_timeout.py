"""The statement timeout of the processes that serve HTTP (docs/operations.md).

`enable_statement_timeout()` is called by the WSGI application (`twc/wsgi.py`, loaded by gunicorn
and runserver alike) and the ASGI one: from then on every statement of the process is cut after
`DATABASE_STATEMENT_TIMEOUT_MS`, and the API answers `503` (twc.api.exceptions). Management
commands (the import, the erasure job, migrations) never load the WSGI application, so they run
uncut, however long their statements take.

- PostgreSQL: `statement_timeout` as a startup option of every connection (`-c statement_timeout=N`
  in `OPTIONS["options"]`), so it costs no round trip and holds for pooled connections too. Behind
  PgBouncer (DATABASE_PGBOUNCER=1) PgBouncer sets it on each server connection (its connect_query).
- SQLite has no statement timeout: a progress handler interrupts a statement that has run for
  longer than the limit (a trace callback marks when each statement starts).
"""

import re
import sqlite3
import time
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.backends.signals import connection_created

_PG_OPTION = re.compile(r"\s*-c\s*statement_timeout=\S*")
# SQLite calls the progress handler every this many virtual machine instructions.
_SQLITE_CHECK_EVERY = 1000

_sqlite_limit_seconds: float = 0.0


def enable_statement_timeout(milliseconds: int | None = None) -> None:
    """Cut every statement of the connections this process opens from now on after `milliseconds`
    (default `settings.DATABASE_STATEMENT_TIMEOUT_MS`; 0 or less: no timeout)."""
    global _sqlite_limit_seconds
    limit = settings.DATABASE_STATEMENT_TIMEOUT_MS if milliseconds is None else milliseconds
    if limit <= 0:
        return
    for alias in connections:
        connection = connections[alias]
        if connection.vendor == "postgresql" and settings.DATABASE_PGBOUNCER:
            continue  # PgBouncer refuses the `options` startup parameter: its connect_query sets it
        if connection.vendor == "postgresql":
            options = connection.settings_dict.setdefault("OPTIONS", {})
            others = _PG_OPTION.sub("", options.get("options") or "").strip()
            options["options"] = f"{others} -c statement_timeout={int(limit)}".strip()
            if alias in getattr(connection, "_connection_pools", {}):
                connection.close_pool()  # type: ignore[attr-defined]  # psycopg pool: Django's PostgreSQL backend only
        elif connection.vendor == "sqlite":
            _sqlite_limit_seconds = limit / 1000
            connection_created.connect(_on_sqlite_connection, dispatch_uid="twc.statement_timeout")
    connections.close_all()


def _on_sqlite_connection(sender: object, connection: Any, **kwargs: object) -> None:
    if connection.vendor == "sqlite" and _sqlite_limit_seconds > 0:
        interrupt_slow_sqlite_statements(connection.connection, seconds=_sqlite_limit_seconds)


def interrupt_slow_sqlite_statements(raw_connection: sqlite3.Connection, *, seconds: float | None) -> None:
    """On one sqlite3 connection: interrupt ("interrupted", an OperationalError) any statement
    running for longer than `seconds`; None removes the limit."""
    if seconds is None:
        raw_connection.set_progress_handler(None, 0)
        raw_connection.set_trace_callback(None)
        return
    started = time.monotonic()

    def statement_started(sql: str) -> None:
        nonlocal started
        started = time.monotonic()

    def too_long() -> bool:
        return time.monotonic() - started > seconds

    raw_connection.set_trace_callback(statement_started)
    raw_connection.set_progress_handler(too_long, _SQLITE_CHECK_EVERY)
