"""A real webhook receiver on loopback (http.server in a thread), scripted per request."""

import http.server
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

PORTS = range(*(int(n) for n in os.environ.get("TEST_WEBHOOK_PORTS", "8600-8640").split("-")))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """`answer(received)` is called for each request and returns (status, headers, body) or a
    callable taking the handler (for misbehaving receivers)."""

    answer: Callable = lambda received: (200, {}, b"ok")
    received: list[Received] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


def start(receiver: Receiver) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            got = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
            receiver.received.append(got)
            answer = receiver.answer(got)
            if callable(answer):
                answer(self)
                return
            status, headers, body = answer
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = serve(Handler)
    receiver.port = server.server_address[1]
    return server


def serve(handler: type[http.server.BaseHTTPRequestHandler]) -> http.server.ThreadingHTTPServer:
    """`handler` served in a thread, on the first free port of PORTS."""
    for port in PORTS:
        try:
            server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
            break
        except OSError:
            continue
    else:
        raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def hang(seconds: float):
    def behave(handler):
        time.sleep(seconds)

    return behave


def trickle(handler):
    """Answers a status line, then one header byte every 0.2 s, forever."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    handler.wfile.flush()
    try:
        for _ in range(100):
            handler.wfile.write(b"X")
            handler.wfile.flush()
            time.sleep(0.2)
    except OSError:
        pass


def reset(handler):
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    handler.connection.close()
