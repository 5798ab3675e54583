"""Reads from a real hot standby never miss the reader's own writes (twc/replica.py).

The test starts its own primary and streaming hot standby (initdb and pg_basebackup as the
`postgres` user, ports from TEST_REPLICA_PORT_BASE, default 55465), migrates the primary and
serves the project with gunicorn on DATABASE_URL (the primary) and DATABASE_REPLICA_URL (the
standby). Two OAuth applications of one store write and read through HTTP while the standby's
replay is paused with `pg_wal_replay_pause()`, which is replication lag held still.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from tests.perf.conftest import ServerClient
from twc.replica import PrimaryRouter, lsn_to_int

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PORT_BASE = int(os.environ.get("TEST_REPLICA_PORT_BASE", "55465"))
AS_POSTGRES = ["runuser", "-u", "postgres", "--"]

MAKE_TWO_APPLICATIONS = """
import json
from tenants.services import store_application_create, store_create
first = store_create(name="Replica Shop", tenant_name="Replica")
second = store_application_create(store=first.store)
print(json.dumps([[c.client_id, c.client_secret] for c in (first, second)]))
"""


def test_lsn_positions_compare_as_integers():
    assert lsn_to_int("0/3000060") == 0x3000060
    assert lsn_to_int("1/0") == 1 << 32
    assert lsn_to_int("1/0") > lsn_to_int("0/FFFFFFFF")


def test_the_router_writes_to_the_primary_and_migrates_only_it():
    router = PrimaryRouter()
    assert router.db_for_write(object) == "default"
    assert router.db_for_read(object) == "default"
    assert router.allow_migrate("replica", "customers") is False
    assert router.allow_migrate("default", "customers") is True


def pg(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*AS_POSTGRES, *args], check=True, capture_output=True, text=True, **kwargs)


def sql(port: int, statement: str):
    with psycopg.connect(f"postgres://postgres@127.0.0.1:{port}/twc", autocommit=True) as conn:
        return conn.execute(statement).fetchone()


@pytest.fixture(scope="module")
def primary_and_standby():
    if connection.vendor != "postgresql":
        pytest.skip("the standby test runs in the PostgreSQL pass")
    if os.geteuid() != 0 or not (PG_BIN / "pg_ctl").exists():
        if os.environ.get("CI"):
            pytest.fail("CI must run the standby test: it needs root and PostgreSQL 15's server binaries")
        pytest.skip("needs root and PostgreSQL 15's server binaries")
    root = Path(tempfile.mkdtemp(prefix="twc-replica-"))
    os.chmod(root, 0o755)
    primary, standby = root / "primary", root / "standby"
    primary_port, standby_port, http_port = PORT_BASE, PORT_BASE + 1, PORT_BASE + 2
    shutil.chown(root, "postgres", "postgres")
    server = None
    try:
        pg(str(PG_BIN / "initdb"), "-D", str(primary), "--auth", "trust", "-U", "postgres")
        options = f"-p {primary_port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        pg(str(PG_BIN / "pg_ctl"), "-D", str(primary), "-o", options, "-l", str(root / "primary.log"), "-w", "start")
        pg(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(primary_port), "twc")
        pg(
            str(PG_BIN / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(primary_port),
            "-D",
            str(standby),
            "-R",
            "--checkpoint=fast",
        )
        options = f"-p {standby_port} -k {root} -c listen_addresses=127.0.0.1 -c hot_standby=on"
        pg(str(PG_BIN / "pg_ctl"), "-D", str(standby), "-o", options, "-l", str(root / "standby.log"), "-w", "start")
        primary_url = f"postgres://postgres@127.0.0.1:{primary_port}/twc"
        env = {
            **os.environ,
            "DATABASE_URL": primary_url,
            "DATABASE_REPLICA_URL": f"postgres://postgres@127.0.0.1:{standby_port}/twc",
            "FAST_PASSWORD_HASHER": "1",
            "DEBUG": "0",
            "REDIS_URL": "",  # the positions in the database's WritePosition table
            "RATE_LIMIT_ENABLED": "0",
            # Cached as long as the test's pauses, so that each read shows the decision it made.
        }
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        made = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", MAKE_TWO_APPLICATIONS],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        credentials = json.loads(made.stdout.strip().splitlines()[-1])
        log = open(root / "gunicorn.log", "w")
        server = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "twc.wsgi:application",
                "--workers",
                "1",
                "--threads",
                "4",
                "--bind",
                f"127.0.0.1:{http_port}",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = ServerClient(f"http://127.0.0.1:{http_port}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if base.get("/readyz").status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        clients = [base.with_token(base.token_for(client_id, secret)) for client_id, secret in credentials]
        yield clients, primary_port, standby_port
    finally:
        if server is not None:
            os.killpg(server.pid, 9)
            server.wait()
        for data in (standby, primary):
            if (data / "postmaster.pid").exists():
                subprocess.run(
                    [*AS_POSTGRES, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                    capture_output=True,
                )
        shutil.rmtree(root, ignore_errors=True)


def listed(client: ServerClient, email: str) -> list[str]:
    reply = client.get(f"/api/customers?email={email}")
    assert reply.status == 200, reply.body
    return [customer["id"] for customer in reply.body["customers"]]


def wait_for_replay(primary_port: int, standby_port: int) -> None:
    (target,) = sql(primary_port, "SELECT pg_current_wal_lsn()::text")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        (replayed,) = sql(standby_port, "SELECT pg_last_wal_replay_lsn()::text")
        if lsn_to_int(replayed) >= lsn_to_int(target):
            time.sleep(0.3)  # past the app's cache of the standby's position
            return
        time.sleep(0.05)
    raise AssertionError("the standby did not catch up")


def test_own_writes_are_read_back_while_the_standby_lags_and_others_reads_use_it(primary_and_standby):
    (first, second), primary_port, standby_port = primary_and_standby
    # Given a customer written by the first application and replayed by the standby
    assert first.post("/api/customers", {"id": "early", "email": "early@example.com"}).status == 201
    wait_for_replay(primary_port, standby_port)
    assert listed(first, "early@example.com") == ["early"]

    # When the standby stops replaying and the second application writes
    sql(standby_port, "SELECT pg_wal_replay_pause()")
    try:
        assert second.post("/api/customers", {"id": "late", "email": "late@example.com"}).status == 201

        # Then the writer reads its write back, in the list, the count, the search, by reference
        assert listed(second, "late@example.com") == ["late"]
        assert second.get("/api/customers/count?email=late@example.com").body == {"count": 1}
        assert [
            c["id"] for c in second.get("/api/customers/search?query=email:late@example.com").body["customers"]
        ] == ["late"]
        assert second.get("/api/customers/late").status == 200
        # and the first application, whose own last write the standby has, reads the standby: it
        # does not see the other application's write yet (the proof that the standby answered)
        assert listed(first, "late@example.com") == []
        assert first.get("/api/customers/count?email=late@example.com").body == {"count": 0}
        # but a single customer is always read on the primary
        assert first.get("/api/customers/late").status == 200

        # When the first application writes too, its reads move to the primary at once
        assert first.post("/api/customers", {"id": "third", "email": "third@example.com"}).status == 201
        assert listed(first, "third@example.com") == ["third"]
        assert listed(first, "late@example.com") == ["late"]
    finally:
        sql(standby_port, "SELECT pg_wal_replay_resume()")

    # Once the standby has replayed everything, both read everything (from it)
    wait_for_replay(primary_port, standby_port)
    assert listed(first, "late@example.com") == ["late"]
    assert listed(second, "third@example.com") == ["third"]


def test_reads_fall_back_to_the_primary_while_the_standby_is_down(primary_and_standby):
    (first, second), primary_port, standby_port = primary_and_standby
    standby = standby_data_dir(standby_port)
    assert second.post("/api/customers", {"id": "during", "email": "during@example.com"}).status == 201
    pg(str(PG_BIN / "pg_ctl"), "-D", str(standby), "-m", "fast", "-w", "stop")
    try:
        # The first application's last write is old, so its reads would go to the standby: it is
        # gone, and they are answered by the primary instead of failing.
        time.sleep(0.3)
        assert listed(first, "during@example.com") == ["during"]
        assert first.get("/api/customers/count?email=during@example.com").body == {"count": 1}
    finally:
        options = f"-p {standby_port} -k {standby.parent} -c listen_addresses=127.0.0.1 -c hot_standby=on"
        pg(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(standby),
            "-o",
            options,
            "-l",
            str(standby.parent / "standby.log"),
            "-w",
            "start",
        )


def standby_data_dir(port: int) -> Path:
    (data,) = sql(port, "SHOW data_directory")
    return Path(data)
