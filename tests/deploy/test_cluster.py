"""The production topology under a crash drill (deploy/cluster.py, docs/scaling.md "The cluster").

A cluster of its own (a temporary directory, ports from TEST_CLUSTER_PORT_BASE, default 55450):
HAProxy over TLS, two gunicorn servers, PgBouncer following the pg_auto_failover primary, a
primary and a synchronous standby. Under a bounded load of creates through the balancer, each
followed at once by a read of the customer (primary) and a filtered list (the standby when it has
replayed the write), one app server is killed with SIGKILL, then the primary is crashed.

Asserted: no 5xx but 503 (each with Retry-After); every create answered 201 is readable afterwards;
every read right after a 201 saw it; writes resume within 30 s of the crash; the old primary never
answers again. The figures are printed (run with -s to see them); on a failure, with the end of
every server's log (the cluster's directory is removed afterwards).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg
import pytest
import requests
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.cluster]

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
PORT_BASE = int(os.environ.get("TEST_CLUSTER_PORT_BASE", "55450"))
LOAD_THREADS = 3
PAUSE_BETWEEN_WRITES = 0.05  # bounded load: at most ~20 creates a second per thread
RESUME_WITHIN_SECONDS = 30
RETRY_PAUSE = 0.25  # the client retries a 503 sooner than its Retry-After, to measure the gap


def cannot_run(reason: str):
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI must run the cluster drill)")
    pytest.skip(reason)


def cluster_command(directory: Path, action: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [PYTHON, str(ROOT / "deploy" / "cluster.py"), action, "--dir", str(directory), "--port-base", str(PORT_BASE)],
        capture_output=True,
        text=True,
        timeout=timeout,
        # The tests' Redis (the cluster's keys carry its port base as prefix and go at `down`).
        env={**os.environ, "CLUSTER_REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/3")},
    )
    if done.returncode != 0:
        raise AssertionError(f"cluster.py {action} failed:\n{done.stdout}\n{done.stderr[-4000:]}")
    return done.stdout


@pytest.fixture
def cluster():
    """The cluster's env (KEY=value of <dir>/env) and directory; everything stopped afterwards,
    whatever happened."""
    if connection.vendor != "postgresql":
        pytest.skip("the cluster drill runs in the PostgreSQL pass")
    if os.geteuid() != 0:
        cannot_run("the cluster starts PostgreSQL as the postgres user: it needs root")
    for binary in ("/usr/bin/pg_autoctl", "/usr/sbin/haproxy", "/usr/sbin/pgbouncer"):
        if not Path(binary).exists():
            cannot_run(f"{binary} is missing (apt-get install pg-auto-failover-cli haproxy pgbouncer ...)")
    directory = Path(tempfile.mkdtemp(prefix="twc-cluster-"))
    try:
        cluster_command(directory, "up")
        env = dict(line.split("=", 1) for line in (directory / "env").read_text().splitlines())
        yield env, directory
    finally:
        try:
            cluster_command(directory, "down", timeout=60)
        finally:
            shutil.rmtree(directory, ignore_errors=True)


def token_for(env: dict[str, str]) -> str:
    created = subprocess.run(
        [PYTHON, "manage.py", "create_store", "--tenant", "Drill", "--json", "Drill Shop"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    credentials = json.loads(created.stdout)
    reply = requests.post(
        f"{env['URL']}/o/token/",
        data={"grant_type": "client_credentials", "scope": "customers:read customers:write"},
        auth=(credentials["client_id"], credentials["client_secret"]),
        verify=env["REQUESTS_CA_BUNDLE"],
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["access_token"]


class Load:
    """Creates through the balancer, each retried with its Idempotency-Key while answered 503, each
    acknowledged one read back at once twice: by reference and through the filtered list."""

    def __init__(self, env: dict[str, str], token: str):
        self.url, self.ca = env["URL"], env["REQUESTS_CA_BUNDLE"]
        self.headers = {"Authorization": f"Bearer {token}"}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.missing_retry_after = 0
        self.connection_errors: list[str] = []
        self.acknowledged: dict[str, float] = {}  # ref -> when its 201 arrived
        self.unresolved: list[str] = []
        self.interrupted: Counter[str] = Counter()  # 409 codes met when retrying after a 503
        self.stale_reads: list[tuple[str, str, int]] = []
        self.started = time.monotonic()

    def record(self, status: int, reply: requests.Response | None) -> None:
        with self.lock:
            self.statuses[status] += 1
            if status == 503 and reply is not None and not reply.headers.get("Retry-After"):
                self.missing_retry_after += 1

    def call(self, session: requests.Session, method: str, path: str, **kwargs) -> requests.Response | None:
        kwargs.setdefault("headers", self.headers)
        try:
            reply = session.request(method, self.url + path, verify=self.ca, timeout=40, **kwargs)
        except requests.RequestException as exc:
            self.record(0, None)  # the connection itself failed: counted, never taken for an answer
            with self.lock:
                self.connection_errors.append(f"{method} {path}: {exc!r}"[:300])
            return None
        self.record(reply.status_code, reply)
        return reply

    def create(self, session: requests.Session, ref: str) -> None:
        body = {"id": ref, "email": f"{ref}@drill.example.com"}
        headers = {**self.headers, "Idempotency-Key": ref}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            reply = self.call(session, "POST", "/api/customers", json=body, headers=headers)
            if reply is not None and reply.status_code == 201:
                with self.lock:
                    self.acknowledged[ref] = time.monotonic()
                self.read_back(session, ref)
                return
            if reply is not None and reply.status_code == 409:
                # An earlier attempt went through without its answer (the id exists), or the server
                # that ran it was killed holding its key: the outcome is known by reading it.
                code = reply.json()["errors"][0]["code"]
                with self.lock:
                    self.interrupted[code] += 1
                return
            if reply is not None and reply.status_code != 503:
                return  # counted; the assertions name it
            time.sleep(RETRY_PAUSE)
        with self.lock:
            self.unresolved.append(ref)

    def read_back(self, session: requests.Session, ref: str) -> None:
        by_ref = self.call(session, "GET", f"/api/customers/{ref}")
        listed = self.call(session, "GET", "/api/customers", params={"email": f"{ref}@drill.example.com"})
        for name, reply in (("by reference", by_ref), ("in the list", listed)):
            if reply is None or reply.status_code == 503:
                continue  # no answer is no stale answer
            found = reply.status_code == 200 and (name == "by reference" or len(reply.json()["customers"]) == 1)
            if not found:
                with self.lock:
                    self.stale_reads.append((ref, name, reply.status_code))

    def run(self, worker: int) -> None:
        session = requests.Session()
        n = 0
        while not self.stop.is_set():
            self.create(session, f"w{worker}-{n}-{uuid.uuid4().hex[:6]}")
            n += 1
            time.sleep(PAUSE_BETWEEN_WRITES)

    def acknowledged_after(self, moment: float) -> list[float]:
        with self.lock:
            return sorted(at for at in self.acknowledged.values() if at > moment)


def test_kill_an_app_server_then_crash_the_primary_under_load(cluster):
    env, directory = cluster
    load = Load(env, token_for(env))
    threads = [threading.Thread(target=load.run, args=(i,), daemon=True) for i in range(LOAD_THREADS)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(5)
        cluster_command(directory, "kill-app")
        killed_app_at = time.monotonic()
        time.sleep(5)
        old_primary_url = primary_url(env)
        crashed_at = time.monotonic()  # just before: the command returns once the standby is promoted
        promoted = cluster_command(directory, "failover").strip().splitlines()[-1]
        promoted_at = time.monotonic()
        # Writes resume when a create is acknowledged after the crash; then a few seconds more load.
        while time.monotonic() - crashed_at < RESUME_WITHIN_SECONDS + 15 and not load.acknowledged_after(promoted_at):
            time.sleep(0.2)
        time.sleep(5)
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(timeout=90)

    # The longest pause between two acknowledged writes is the write outage; writes resumed at its end.
    acks = load.acknowledged_after(load.started)
    gaps = [(later - earlier, later) for earlier, later in zip(acks, acks[1:], strict=False)]
    longest_pause, resumed_at = max(gaps) if gaps else (float("inf"), float("inf"))
    resume_seconds = resumed_at - crashed_at
    session = requests.Session()
    unreadable = [
        ref
        for ref in load.acknowledged
        if session.get(
            f"{env['URL']}/api/customers/{ref}", headers=load.headers, verify=load.ca, timeout=30
        ).status_code
        != 200
    ]
    elapsed = time.monotonic() - load.started
    figures = {
        "seconds of load": round(elapsed, 1),
        "acknowledged creates": len(load.acknowledged),
        "acknowledged after the app server was killed": len(load.acknowledged_after(killed_app_at)),
        "statuses": dict(sorted(load.statuses.items())),
        "failover": promoted,
        "longest pause between acknowledged writes (s)": round(longest_pause, 2),
        "writes resumed after the primary crashed (s)": round(resume_seconds, 2),
        "connection errors": load.connection_errors,
        "acknowledged but unreadable": len(unreadable),
        "reads right after a write that missed it": len(load.stale_reads),
        "creates never resolved": len(load.unresolved),
        "retries answered 409 (an attempt cut by the drill)": dict(load.interrupted),
    }
    print("\ncluster drill:", json.dumps(figures, indent=2))
    try:
        assert_drill_held(load, unreadable, resumed_at, crashed_at, resume_seconds, old_primary_url)
    except AssertionError:
        print_log_tails(directory)  # the directory goes at teardown: what the servers said, for the report
        raise


def assert_drill_held(load, unreadable, resumed_at, crashed_at, resume_seconds, old_primary_url) -> None:
    server_errors = {status: n for status, n in load.statuses.items() if status >= 500 and status != 503}
    assert server_errors == {}
    assert load.connection_errors == []
    assert load.missing_retry_after == 0
    assert load.statuses[503] > 0, "the drill should have been felt as 503s"
    assert unreadable == []
    assert load.stale_reads == []
    assert load.unresolved == []
    assert resumed_at > crashed_at, "the longest pause should be the failover's"
    assert resume_seconds <= RESUME_WITHIN_SECONDS
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(old_primary_url, connect_timeout=2)  # the old primary stays down


def print_log_tails(directory: Path, lines: int = 40) -> None:
    for log in sorted((directory / "logs").glob("*.log")):
        print(f"--- {log.name}", *log.read_text(errors="replace").splitlines()[-lines:], sep="\n")


def primary_url(env: dict[str, str]) -> str:
    with psycopg.connect(env["CLUSTER_MONITOR_URL"]) as monitor:
        (port,) = monitor.execute(
            "SELECT nodeport FROM pgautofailover.node WHERE reportedstate = 'primary' AND goalstate = 'primary'"
        ).fetchone()
    return f"postgres://postgres@127.0.0.1:{port}/twc"


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-s", "-q"]))
