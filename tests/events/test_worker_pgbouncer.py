"""The delivery worker behind PgBouncer in transaction pooling, as production runs it: its pipelined
steps (BEGIN, the statements and COMMIT in one round trip, events.worker._step_transaction) and
its per-transaction settings go through a pooler that hands server connections from one
transaction to the next. Two `deliver_webhooks` processes race through one PgBouncer (deploy/
pgbouncer.ini, with a server pool smaller than their connections) to a receiver on loopback."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from events.models import WebhookAttempt, WebhookDelivery
from events.webhooks import webhook_create
from tests.events.test_feed import wait_settled
from tests.factories import customer_make

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
PGBOUNCER = "/usr/sbin/pgbouncer"


def cannot_run(reason: str):
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI must run the worker behind PgBouncer)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def pgbouncer():
    """A PgBouncer of the test's own (transaction pooling, 2 server connections) in front of the
    test database's server; yields the URL of the test database through it."""
    if connection.vendor != "postgresql":
        pytest.skip("PgBouncer pools PostgreSQL connections")
    if not Path(PGBOUNCER).exists():
        cannot_run(f"{PGBOUNCER} is missing (apt-get install pgbouncer)")
    if os.geteuid() != 0:
        cannot_run("PgBouncer is started as the postgres user (runuser): that needs root")
    params = connection.get_connection_params()
    port = free_port()
    directory = Path(tempfile.mkdtemp(prefix="twc-pgbouncer-"))
    (directory / "userlist.txt").write_text(f'"{params["user"]}" ""\n')
    (directory / "databases.ini").write_text(
        f"[databases]\n* = host={params.get('host', '127.0.0.1')} port={params.get('port', 5432)} pool_size=2\n"
    )
    template = (ROOT / "deploy" / "pgbouncer.ini").read_text()
    config = template.replace("$pgbouncer_port", str(port)).replace("$pgbouncer_dir", str(directory))
    (directory / "pgbouncer.ini").write_text(config)
    shutil.chown(directory, "postgres")
    for child in directory.iterdir():
        shutil.chown(child, "postgres")
    process = subprocess.Popen(
        ["runuser", "-u", "postgres", "--", PGBOUNCER, str(directory / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"postgres://{params['user']}@127.0.0.1:{port}/{params['dbname']}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                psycopg.connect(url, connect_timeout=1).close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline or process.poll() is not None:
                    log = directory / "pgbouncer.log"
                    raise AssertionError(f"PgBouncer did not start: {log.read_text() if log.exists() else ''}")
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.usefixtures("loopback_allowed")  # the subscription's loopback URL
def test_two_workers_behind_pgbouncer_deliver_every_event_once(store_a, receiver, pgbouncer):
    webhook_create(store=store_a, data={"url": receiver.url, "topics": ["*"]})
    for number in range(60):
        customer_make(store=store_a, id=f"c-{number}", email=f"c{number}@x.com")
    wait_settled()
    env = {
        **os.environ,
        "DATABASE_URL": pgbouncer,
        "DATABASE_PGBOUNCER": "1",
        "WEBHOOK_ALLOW_HTTP": "1",
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "1",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "deliver_webhooks", "--until-idle", "--concurrency", "3"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err[-3000:]
        assert "database unavailable" not in err, err[-3000:]
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(set(ids)) == 60
    assert len(ids) == 60  # two workers racing: each once
    assert list(WebhookDelivery.objects.values_list("state", flat=True).distinct()) == ["delivered"]
    assert WebhookAttempt.objects.filter(status_code=200).count() == 60
