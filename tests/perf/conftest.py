"""Real app servers for tests that need more than one process: `app_servers` starts gunicorn
processes on their own ports against the test database (PostgreSQL only), and `ServerClient`
talks plain HTTP to one of them. Reusable for any cross-server case (uniqueness, rate limits,
idempotency keys): pass extra environment to `app_servers(count, env={...})`."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
# Ports of the servers, in order; override when they collide with something on the machine.
SERVER_PORTS = [int(port) for port in os.environ.get("TEST_SERVER_PORTS", "8351,8352,8353").split(",")]


@dataclass
class Reply:
    status: int
    body: dict | None
    headers: dict


class ServerClient:
    """A bearer-token HTTP client of one app server."""

    def __init__(self, base_url: str, token: str | None = None):
        self.base_url = base_url
        self.token = token

    def with_token(self, token: str) -> "ServerClient":
        return ServerClient(self.base_url, token)

    def request(self, method: str, path: str, body=None, headers: dict | None = None) -> Reply:
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json"} if data is not None else {}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        all_headers.update(headers or {})
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw, reply_headers = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, raw, reply_headers = error.code, error.read(), dict(error.headers)
        return Reply(status, json.loads(raw) if raw else None, reply_headers)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self.request("PUT", path, body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def token_for(self, client_id: str, client_secret: str) -> str:
        """A token from this server's POST /o/token/."""
        data = f"grant_type=client_credentials&client_id={client_id}&client_secret={client_secret}".encode()
        request = urllib.request.Request(self.base_url + "/o/token/", data=data, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["access_token"]


def _wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app server on port {port} exited:\n{log.read_text()[-3000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"app server on port {port} did not start:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def app_server_pool(django_db_setup):
    """Starts gunicorn servers (2 sync workers each) on the test database, once per test module;
    stopped at the module's end, before the test database is dropped."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run by CI's PostgreSQL pass)")
    started: dict[tuple, list[ServerClient]] = {}
    processes: list[subprocess.Popen] = []
    logs = tempfile.TemporaryDirectory(prefix="twc-app-servers-")
    settings = connection.settings_dict
    database_url = (
        f"postgres://{settings['USER']}:{settings['PASSWORD'] or ''}@{settings['HOST'] or '127.0.0.1'}:"
        f"{settings['PORT'] or 5432}/{settings['NAME']}"
    )

    def start(count: int = 2, env: dict | None = None) -> list[ServerClient]:
        key = (count, tuple(sorted((env or {}).items())))
        if key in started:
            return started[key]
        for process in processes:  # other servers were asked for: start afresh
            _stop(process)
        processes.clear()
        started.clear()
        clients = []
        for port in SERVER_PORTS[:count]:
            log = Path(logs.name) / f"server-{port}.log"
            server_env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "twc.settings",
                "DATABASE_URL": database_url,
                "FAST_PASSWORD_HASHER": "1",
                "DEBUG": "0",
                **(env or {}),
            }
            with log.open("w") as output:
                process = subprocess.Popen(
                    [
                        str(Path(sys.executable).with_name("gunicorn")),
                        "twc.wsgi:application",
                        "--workers",
                        "2",
                        "--bind",
                        f"127.0.0.1:{port}",
                        "--chdir",
                        str(ROOT),
                    ],
                    env=server_env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            processes.append(process)
            _wait_for_port(port, process, log)
            clients.append(ServerClient(f"http://127.0.0.1:{port}"))
        if len(clients) < count:
            raise RuntimeError(f"only {len(SERVER_PORTS)} ports in TEST_SERVER_PORTS")
        started[key] = clients
        return clients

    yield start
    # Before the test database is dropped: the servers' connections would block it.
    for process in processes:
        _stop(process)
    logs.cleanup()


@pytest.fixture
def app_servers(app_server_pool, transactional_db):
    """`app_servers(count, env={...})`: clients of `count` app servers (separate gunicorn processes)
    on the test database, which this test uses with committed transactions so the servers see its
    data. Servers are shared by the tests of a module that ask for the same count and env."""
    return app_server_pool
