"""Slow clients against the production server: gunicorn started with deploy/gunicorn.conf.py.

Sockets trickle a request head a byte every half second while a probe asks `/healthz` over and over
on fresh connections. Four servers run side by side, each with four trickling sockets:

- the documented configuration as it is: the probes are answered throughout;
- the same with one worker of two threads (fewer threads than trickling sockets): the probes wait
  for the head deadline (GUNICORN_HEADER_TIMEOUT, 10 s), not for the trickle to end;
- the controls: gunicorn's plain `gthread` worker with one worker of two threads (two trickling
  sockets hold both threads for as long as they trickle), and the command the docs gave before, two
  `sync` workers (each held by a trickling socket until gunicorn's 30 s timeout kills it); neither
  answers a probe.

Everything is bounded: the trickle lasts WINDOW seconds, then the sockets close.
"""

import http.client
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
PORTS = range(*(int(p) for p in os.environ.get("TEST_SLOW_CLIENT_PORTS", "8560-8580").split("-")))
TRICKLING_SOCKETS = 4
TRICKLE_INTERVAL = 0.5
WINDOW = 12.0  # of the probes; longer than the head deadline, so that its end is seen
TRICKLE = WINDOW + 1.5  # the probes' window lies within the trickle
HEADER_TIMEOUT = 10.0  # the worker's default (twc/gunicorn_worker.py)


def free_port(taken: set[int]) -> int:
    for port in PORTS:
        if port in taken:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise RuntimeError(f"no free port in {PORTS}")


@dataclass
class Figures:
    name: str
    answered: int = 0  # probes answered 200 within the window
    other: list = field(default_factory=list)  # any other outcome of a probe
    waits: list[float] = field(default_factory=list)  # seconds each answered probe took
    closed_after: list[float] = field(default_factory=list)  # when the server ended each trickling socket
    got_408: int = 0

    @property
    def longest_wait(self) -> float:
        return max(self.waits, default=float("nan"))

    def line(self) -> str:
        closed = ", ".join(f"{t:.1f}" for t in sorted(self.closed_after)) or "none"
        return (
            f"{self.name:<40} probes answered {self.answered:>3} (other outcomes {len(self.other)}), longest wait "
            f"{self.longest_wait:5.2f} s; trickling sockets closed by the server at [{closed}] s, {self.got_408} x 408"
        )


def start_server(port: int, *args: str) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "GUNICORN_", "DEBUG"))}
    env.update(
        DJANGO_ENV="production", DJANGO_SECRET_KEY=secrets.token_urlsafe(64), DJANGO_SETTINGS_MODULE="twc.settings"
    )
    command = [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), "--bind", f"127.0.0.1:{port}", *args]
    process = subprocess.Popen(
        [*command, "twc.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn {args} exited with {process.returncode}")
        try:
            if get_healthz(port, timeout=2) == 200:
                return process
        except OSError:
            time.sleep(0.2)
    stop_server(process)
    raise RuntimeError(f"gunicorn {args} did not answer within 60 s")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=5)


def get_healthz(port: int, timeout: float) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/healthz", headers={"Connection": "close"})
        return connection.getresponse().status
    finally:
        connection.close()


def trickle(port: int, figures: Figures, started: threading.Event) -> None:
    """TRICKLING_SOCKETS connections sending one header byte each every TRICKLE_INTERVAL, for TRICKLE s."""
    sockets = []
    for _ in range(TRICKLING_SOCKETS):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        sockets.append(sock)
    begin = time.monotonic()
    started.set()
    open_sockets = list(sockets)
    try:
        while open_sockets and time.monotonic() - begin < TRICKLE:
            time.sleep(TRICKLE_INTERVAL)
            for sock in list(open_sockets):
                sock.setblocking(False)
                try:
                    answer = sock.recv(200)  # the server ended the connection (b"" or its 408)
                except BlockingIOError:
                    answer = None
                except OSError:
                    answer = b""
                if answer is None:
                    try:
                        sock.send(b"a")
                        continue
                    except OSError:
                        answer = b""
                figures.closed_after.append(time.monotonic() - begin)
                figures.got_408 += answer.startswith(b"HTTP/1.1 408")
                open_sockets.remove(sock)
    finally:
        for sock in sockets:
            sock.close()


def measure(name: str, port: int, *server_args: str) -> Figures:
    figures = Figures(name)
    server = start_server(port, *server_args)
    try:
        started = threading.Event()
        trickler = threading.Thread(target=trickle, args=(port, figures, started))
        trickler.start()
        started.wait(timeout=10)
        time.sleep(0.3)  # the trickling sockets' first bytes are in: each has (or waits for) a thread
        begin = time.monotonic()
        while (left := WINDOW - (time.monotonic() - begin)) > 0.2:
            asked = time.monotonic()
            try:
                status = get_healthz(port, timeout=left)
            except OSError as exc:  # no answer within the window (or a refusal)
                figures.other.append(type(exc).__name__)
                continue
            if status == 200:
                figures.answered += 1
                figures.waits.append(time.monotonic() - asked)
            else:
                figures.other.append(status)
            time.sleep(0.05)
        trickler.join(timeout=TRICKLE + 5)
    finally:
        stop_server(server)
    return figures


def test_slow_header_trickling_does_not_freeze_the_documented_server():
    taken: set[int] = set()
    runs = [
        ("documented config", free_port(taken)),
        ("documented config, 1 worker x 2 threads", free_port(taken), "--workers", "1", "--threads", "2"),
        (
            "control: plain gthread, 1 x 2 threads",
            free_port(taken),
            "-k",
            "gthread",
            "--workers",
            "1",
            "--threads",
            "2",
        ),
        ("control: sync, 2 workers", free_port(taken), "-k", "sync", "-w", "2", "--threads", "1"),
    ]
    with ThreadPoolExecutor(len(runs)) as pool:
        documented, outnumbered, control, sync = pool.map(lambda run: measure(*run), runs)
    print(
        f"\n{TRICKLING_SOCKETS} sockets trickling a header byte every {TRICKLE_INTERVAL} s for {TRICKLE} s, "
        f"/healthz asked for {WINDOW} s:"
    )
    for figures in (documented, outnumbered, control, sync):
        print("  " + figures.line())

    # Enough threads: every probe is answered while the trickle goes on, none waits for it.
    assert documented.answered > 0 and documented.other == [], documented.line()
    assert documented.longest_wait < HEADER_TIMEOUT, documented.line()
    # Fewer threads than trickling sockets: the head deadline frees them, probes are answered.
    assert outnumbered.answered > 0, outnumbered.line()
    assert outnumbered.longest_wait < HEADER_TIMEOUT + 5, outnumbered.line()
    # Both ended every trickling socket with a 408 at the deadline, not at the end of the trickle.
    for figures in (documented, outnumbered):
        assert figures.got_408 == TRICKLING_SOCKETS, figures.line()
        assert max(figures.closed_after) < WINDOW, figures.line()
    # gunicorn's gthread alone, and sync workers: the trickling sockets hold them; nothing is answered.
    for figures in (control, sync):
        assert figures.answered == 0 and figures.closed_after == [], figures.line()
