"""The machine's side of `deploy/cluster.py`: paths, the Debian packages it needs, and small probes
of processes, ports, databases, Redis and HTTP."""

import os
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import psycopg

CHECKOUT = Path(__file__).resolve().parent.parent
DEPLOY = CHECKOUT / "deploy"
PYTHON = CHECKOUT / ".venv" / "bin" / "python"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
# Binary -> Debian package, installed with apt-get when missing.
PACKAGES = {
    "/usr/bin/pg_autoctl": "pg-auto-failover-cli",
    "/usr/lib/postgresql/15/lib/pgautofailover.so": "postgresql-15-auto-failover",
    "/usr/sbin/haproxy": "haproxy",
    "/usr/sbin/pgbouncer": "pgbouncer",
    "/usr/bin/openssl": "openssl",
    "/usr/bin/psql": "postgresql-client-15",
}


def install_missing_packages(packages: dict[str, str] = PACKAGES) -> None:
    missing = sorted({package for binary, package in packages.items() if not Path(binary).exists()})
    if not missing:
        return
    print(f"apt-get install {' '.join(missing)}")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", *missing],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


def wait_until(condition, *, timeout: float, what: str, every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def can_connect(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2) as connection:
            connection.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def port_free(port: int) -> bool:
    """Free for a server: SO_REUSEADDR as the servers set it, so a port in TIME_WAIT counts as free."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def run_sql(url: str, sql: str) -> None:
    try:
        with psycopg.connect(url, connect_timeout=2, autocommit=True) as connection:
            connection.execute(sql)
    except psycopg.Error:
        pass


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def http_ok(url: str, cafile: Path | None = None) -> bool:
    context = ssl.create_default_context(cafile=str(cafile)) if cafile and cafile.exists() else None
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as response:
            return response.status == 200
    except (OSError, ValueError):
        return False


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass
