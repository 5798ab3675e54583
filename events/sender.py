"""One webhook POST, safely: the connection goes to an address checked after resolution (the name is
resolved once, and that address is the one connected to: no DNS-rebinding window), TLS still checks
the host's certificate and name, redirects are not followed, the whole exchange has a deadline (a
receiver that trickles its answer is cut off), and at most MAX_RESPONSE_BYTES of the answer are read.
"""

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from events.ssrf import Target, UnsafeDestination, parse_target, safe_addresses

TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "TWC-Webhooks/1"

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

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.target.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.target.scheme == "https":
            self.sock = _tls.wrap_socket(self.sock, server_hostname=self.target.host)

    def abort(self) -> None:
        """From the deadline's timer: wake up a read or write blocked on the socket."""
        sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float = TIMEOUT_SECONDS) -> Outcome:
    """POST `body` to `url`; never raises for anything the receiver or the network does."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = parse_target(url)
        address = safe_addresses(target)[0]
    except UnsafeDestination as exc:
        return Outcome(None, f"refused: {exc}"[:200], took())
    connection = PinnedConnection(target, address, timeout)
    deadline = threading.Timer(timeout, connection.abort)
    deadline.daemon = True
    deadline.start()
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)  # bounded: the rest is never read
        status = response.status
        retry_after = _retry_after(response.getheader("Retry-After"))
    except (OSError, http.client.HTTPException, ValueError) as exc:
        timed_out = time.monotonic() - started >= timeout
        error = "timeout" if timed_out or isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        return Outcome(None, error[:200], took())
    finally:
        deadline.cancel()
        connection.close()
    if time.monotonic() - started > timeout:
        return Outcome(None, "timeout", took())
    return Outcome(status, "", took(), retry_after)
