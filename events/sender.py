"""One webhook POST, safely: the connection goes to an address checked after resolution (the name is
resolved once per connection, and that address is the one connected to: no DNS-rebinding window),
TLS still checks the host's certificate and name, redirects are not followed, the whole exchange has
a deadline (a receiver that trickles its answer is cut off), and at most MAX_RESPONSE_BYTES of the
answer are read.

Connections are kept alive between deliveries (a new TCP and TLS handshake per POST halved the
throughput): after an answer read to its end, below the bound, without `Connection: close`, the
connection waits in a small pool keyed by (scheme, host, port). The name is resolved, and every
address checked, when a connection is opened; a pooled connection is reused only while its address
is still allowed (checked again before each POST, no resolution needed: the connection can only
reach that address) and for at most MAX_CONNECTION_AGE (so a changed DNS answer is followed). An
answer cut off, too large, timed out or failed closes its connection. A pooled connection the
receiver closed meanwhile is retried once on a fresh one, within the same deadline (at worst a
duplicate, which receivers deduplicate on `webhook-id`).

The deadline is kept by one watchdog thread for every POST in flight (a timer thread per POST cost
more than the POST's own Python): when a POST's 10 seconds pass, the watchdog shuts its socket down,
which wakes the read or write blocked on it.
"""

import functools
import heapq
import http.client
import itertools
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from events.ssrf import Target, UnsafeDestination, address_allowed, parse_target, safe_addresses

TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "TWC-Webhooks/1"

# Idle connections: below common receivers' keep-alive timeouts (Node 5 s), few per worker.
IDLE_SECONDS = 4.0
MAX_IDLE = 64
# A busy connection is never idle long enough to expire: after this long it is closed anyway, so
# the next one resolves the name again.
MAX_CONNECTION_AGE = 60.0

_tls = ssl.create_default_context()


@dataclass(frozen=True)
class Outcome:
    status: int | None  # None: no answer (error says why)
    error: str
    duration_ms: int
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to `address`, speaking to `target.host` (Host header, SNI, certificate)."""

    def __init__(self, target: Target, address: str, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self.target = target
        self.address = address
        self.opened_at = time.monotonic()

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.target.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.target.scheme == "https":
            self.sock = _tls.wrap_socket(self.sock, server_hostname=self.target.host)

    def abort(self) -> None:
        """From the watchdog: wake up a read or write blocked on the socket."""
        sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Watchdog:
    """The deadlines of the POSTs in flight, kept by one thread: `watch` returns a ticket, `release`
    ends the watch; a ticket whose deadline passes first has its connection aborted."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._deadlines: list[tuple[float, int]] = []
        self._watched: dict[int, list[PinnedConnection]] = {}
        self._tickets = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: float, current: list[PinnedConnection]) -> int:
        ticket = next(self._tickets)
        with self._lock:
            self._watched[ticket] = current
            earliest = not self._deadlines or deadline < self._deadlines[0][0]
            heapq.heappush(self._deadlines, (deadline, ticket))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="webhook-deadlines", daemon=True)
                self._thread.start()
            elif earliest:
                self._lock.notify()
        return ticket

    def release(self, ticket: int) -> None:
        with self._lock:
            self._watched.pop(ticket, None)

    def _run(self) -> None:
        while True:
            expired = []
            with self._lock:
                while self._deadlines and self._deadlines[0][1] not in self._watched:
                    heapq.heappop(self._deadlines)  # released in time
                if not self._deadlines:
                    self._lock.wait()
                    continue
                now = time.monotonic()
                while self._deadlines and self._deadlines[0][0] <= now:
                    _, ticket = heapq.heappop(self._deadlines)
                    current = self._watched.pop(ticket, None)
                    if current is not None:
                        expired.append(current[0])
                if not expired:
                    self._lock.wait(self._deadlines[0][0] - now)
            for connection in expired:
                connection.abort()


_watchdog = _Watchdog()

PoolKey = tuple[str, str, int]


class _Pool:
    """Idle keep-alive connections; one delivery at a time uses a connection (taken, then given back)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[tuple[PoolKey, PinnedConnection, float]] = []

    def take(self, key: PoolKey) -> PinnedConnection | None:
        now = time.monotonic()
        found = None
        stale = []
        with self._lock:
            if self._idle and now - self._idle[0][2] > IDLE_SECONDS:
                stale = [entry for entry in self._idle if now - entry[2] > IDLE_SECONDS]
                self._idle = [entry for entry in self._idle if now - entry[2] <= IDLE_SECONDS]
            for i in range(len(self._idle) - 1, -1, -1):
                if self._idle[i][0] == key:
                    found = self._idle.pop(i)[1]
                    break
        for entry in stale:
            entry[1].close()
        return found

    def give(self, key: PoolKey, connection: PinnedConnection) -> None:
        with self._lock:
            self._idle.append((key, connection, time.monotonic()))
            extra, self._idle = self._idle[:-MAX_IDLE], self._idle[-MAX_IDLE:]
        for entry in extra:
            entry[1].close()

    def clear(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for entry in idle:
            entry[1].close()


_pool = _Pool()
close_idle = _pool.clear


@functools.lru_cache(maxsize=1024)
def _parsed(url: str, allow_http: bool) -> Target | str:
    """The URL's target, or why it is refused (cached: a worker sends to few URLs, many times)."""
    try:
        return parse_target(url)
    except UnsafeDestination as exc:
        return str(exc)


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


@functools.lru_cache(maxsize=1024)
def _allowed(address: str, allow_private: bool) -> bool:
    return address_allowed(address)


def _reusable(connection: PinnedConnection | None) -> bool:
    """A pooled connection may carry this POST: its address is still allowed, and it is young enough."""
    if connection is None:
        return False
    allowed = _allowed(connection.address, settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS)
    if time.monotonic() - connection.opened_at > MAX_CONNECTION_AGE or not allowed:
        connection.close()
        return False
    return True


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float = TIMEOUT_SECONDS) -> Outcome:
    """POST `body` to `url`; never raises for anything the receiver or the network does."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    target = _parsed(url, settings.WEBHOOK_ALLOW_HTTP)
    if isinstance(target, str):
        return Outcome(None, f"refused: {target}"[:200], took())
    key = (target.scheme, target.host, target.port)
    reused = _pool.take(key)
    if not _reusable(reused):
        reused = None
        try:
            address = safe_addresses(target)[0]
        except UnsafeDestination as exc:
            return Outcome(None, f"refused: {exc}"[:200], took())
    current = [reused or PinnedConnection(target, address, timeout)]
    if reused is not None and reused.sock is not None:
        reused.timeout = timeout
        reused.sock.settimeout(timeout)
    ticket = _watchdog.watch(started + timeout, current)
    keep = False
    try:
        try:
            response = exchange(current[0], target, body, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if reused is None or time.monotonic() - started >= timeout:
                raise
            # The receiver closed the idle connection meanwhile: once more on a fresh one.
            current[0].close()
            current[0] = PinnedConnection(target, reused.address, timeout)
            response = exchange(current[0], target, body, headers)
        response.read(MAX_RESPONSE_BYTES)  # bounded: the rest is never read
        status = response.status
        retry_after = _retry_after(response.getheader("Retry-After"))
        # Reusable only when the answer was read to its end and the receiver keeps the connection.
        keep = response.isclosed() and not response.will_close
    except (OSError, http.client.HTTPException, ValueError) as exc:
        timed_out = time.monotonic() - started >= timeout
        error = "timeout" if timed_out or isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        return Outcome(None, error[:200], took())
    finally:
        _watchdog.release(ticket)
        if time.monotonic() - started > timeout:
            keep = False
        if keep:
            _pool.give(key, current[0])
        else:
            current[0].close()
    if time.monotonic() - started > timeout:
        return Outcome(None, "timeout", took())
    return Outcome(status, "", took(), retry_after)


def exchange(
    connection: PinnedConnection, target: Target, body: bytes, headers: dict[str, str]
) -> http.client.HTTPResponse:
    connection.request(
        "POST",
        target.path,
        body=body,
        headers={**headers, "Content-Type": "application/json", "User-Agent": USER_AGENT},
    )
    return connection.getresponse()
