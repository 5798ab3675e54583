"""gunicorn's threaded worker with a deadline on the request head (deploy/gunicorn.conf.py uses it).

gunicorn's `gthread` worker accepts connections in its event loop and hands each one to a thread as
soon as its first byte arrives; the thread then reads the request line and headers from a blocking
socket with no time limit. A client that trickles its headers a byte at a time holds that thread for
as long as it keeps sending, and the worker's heartbeat never stops, so gunicorn's `timeout` never
ends it: `workers x threads` such clients stall the server for good. This worker gives every
request head `GUNICORN_HEADER_TIMEOUT` seconds (default 10) from the moment its connection is
accepted (or becomes readable again between kept-alive requests); what arrived in time is read
however long the request waited for a thread. Past the deadline the client gets
`408 Request Timeout` and the connection is closed. Bodies are not bounded here: a buffering proxy
in front (docs/operations.md) is the defence for those.
"""

import os
import socket
import time
from typing import TYPE_CHECKING, Any

from gunicorn.workers.gthread import TConn, ThreadWorker

if TYPE_CHECKING:
    from gunicorn.http.message import Request

REQUEST_TIMEOUT_RESPONSE = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


def header_timeout() -> float:
    return float(os.environ.get("GUNICORN_HEADER_TIMEOUT", "10"))


class HeadDeadlineSocket:
    """A client socket whose reads give up at `deadline` (time.monotonic()) while it is set.

    Everything but `recv` goes to the socket itself, so gunicorn's poller, parser and response
    writer use it as they would the socket.
    """

    __slots__ = ("_sock", "deadline", "expired")

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self.deadline: float | None = None
        self.expired = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if self.deadline is None:
            return self._sock.recv(bufsize, flags)
        if not self.expired:
            # Past the deadline the timeout is 0: bytes that arrived in time are still read.
            self._sock.settimeout(max(0.0, self.deadline - time.monotonic()))
            try:
                return self._sock.recv(bufsize, flags)
            except (TimeoutError, BlockingIOError):
                self._expire()
            finally:
                self._sock.settimeout(None)
        return b""  # the end of the stream, as far as gunicorn's parser is concerned

    def _expire(self) -> None:
        self.expired = True
        try:
            self._sock.send(REQUEST_TIMEOUT_RESPONSE)
        except OSError:
            pass
        try:
            # Closed for reading too: gunicorn's graceful close then drains nothing.
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class HeaderTimeoutThreadWorker(ThreadWorker):
    """gthread, with `GUNICORN_HEADER_TIMEOUT` seconds for each request head."""

    def init_process(self) -> None:
        self.header_timeout = header_timeout()
        super().init_process()

    def enqueue_req(self, conn: TConn) -> None:
        # On the event loop's thread: when a connection is accepted or readable again.
        if not isinstance(conn.sock, HeadDeadlineSocket):
            conn.sock = HeadDeadlineSocket(conn.sock)
        conn.sock.deadline = time.monotonic() + self.header_timeout
        super().enqueue_req(conn)

    def handle(self, conn: TConn) -> object:
        # What gthread's handle returns: whether to keep the connection, or its _DEFER sentinel.
        result = super().handle(conn)
        if getattr(conn.sock, "expired", False):
            self.log.warning(
                "Closed a connection from %s: no complete request head within %ss (408).",
                conn.client,
                self.header_timeout,
            )
        return result

    def handle_request(self, req: "Request", conn: TConn) -> bool:
        conn.sock.deadline = None  # the head is in; the body and the response are not bounded here
        keep_alive: bool = super().handle_request(req, conn)  # gunicorn's own code is unannotated
        return keep_alive
