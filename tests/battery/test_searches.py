"""Searches and statements: `q` takes at most 200 characters and 10 words (`400 InvalidField`,
field "q"), and every statement of a process serving HTTP runs under a statement timeout: a
statement that runs too long is cut, answered `503 ServiceUnavailable` with `Retry-After` in the
error shape, and the worker answers the next request. Management commands run uncut."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import requests
from django.db import OperationalError, connection

from customers.filters import MAX_Q_LENGTH, MAX_Q_WORDS
from customers.services.bulk import customers_upload
from tests.conftest import api_client, fetch_token
from tests.factories import store_credentials_make
from twc.api.exceptions import is_statement_timeout, to_api_error
from twc.statement_timeout import interrupt_slow_sqlite_statements

ROOT = Path(__file__).resolve().parents[2]
HTTP_PORTS = range(8540, 8550)
SEEDED = 2000
# A statement that takes a while on either database and touches no table.
SLOW_SQL = {
    "postgresql": "SELECT pg_sleep(0.5)",
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000) "
    "SELECT count(*) FROM n",
}


def seed(store, count: int = SEEDED) -> None:
    for start in range(0, count, 1000):
        items = [
            {"id": f"s-{i}", "email": f"shopper{i}@example.com", "first_name": f"Ann{i}", "last_name": "Smith"}
            for i in range(start, min(start + 1000, count))
        ]
        assert customers_upload(store=store, items=items)["created"] == len(items)


def field_errors(response) -> list:
    return [(e["code"], e.get("field")) for e in response.json()["errors"]]


def test_q_is_bounded_in_characters_and_words(api_a, store_a):
    seed(store_a, 50)
    cases = {
        "201 characters": ("a" * (MAX_Q_LENGTH + 1), 400),
        "11 words": (" ".join("abcdefghijk"), 400),
        "498 one-character words": (" ".join(["a"] * 498), 400),
        "200 characters of spaces around a word": (" " * 99 + "ann" + " " * 98, 200),
        "10 words": (" ".join(["ann"] * MAX_Q_WORDS), 200),
        "200 characters in one word": ("a" * MAX_Q_LENGTH, 200),
    }
    for name, (q, status) in cases.items():
        for path in ("/api/customers", "/api/customers/count"):
            response = api_a.get(path, {"q": q})
            assert response.status_code == status, (name, path, response.content[:300])
            if status == 400:
                assert field_errors(response) == [("InvalidField", "q")], name
                assert "at most 200 characters and 10 words" in response.json()["errors"][0]["message"]


def test_the_498_word_q_is_refused_at_once(api_a, store_a, monkeypatch):
    seed(store_a)
    q = " ".join(["a"] * 498)
    started = time.perf_counter()
    refused = api_a.get("/api/customers", {"q": q})
    refused_ms = (time.perf_counter() - started) * 1000
    assert refused.status_code == 400
    started = time.perf_counter()
    widest = api_a.get("/api/customers", {"q": " ".join(["n"] * MAX_Q_WORDS)})
    widest_ms = (time.perf_counter() - started) * 1000
    assert widest.status_code == 200
    # What the bound prevents: the same request with the bounds lifted.
    monkeypatch.setattr("customers.filters.MAX_Q_WORDS", 1000)
    monkeypatch.setattr("customers.filters.MAX_Q_LENGTH", 1000)
    started = time.perf_counter()
    unbounded = api_a.get("/api/customers", {"q": q})
    unbounded_ms = (time.perf_counter() - started) * 1000
    assert unbounded.status_code == 200
    print(
        f"\nsearches ({connection.vendor}, {SEEDED} customers): q of 498 one-character words {refused_ms:.0f} ms "
        f"(400; {unbounded_ms:.0f} ms when run unbounded), q of 10 words {widest_ms:.0f} ms (200)"
    )


def limit_statements(milliseconds: int | None) -> None:
    """The statement timeout of the test's own connection (None: none), as a served process has it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {milliseconds or 0}")
    else:
        connection.ensure_connection()
        seconds = None if milliseconds is None else milliseconds / 1000
        interrupt_slow_sqlite_statements(connection.connection, seconds=seconds)


def test_a_cut_statement_is_a_503_with_retry_after(transactional_db):
    limit_statements(50)
    try:
        with pytest.raises(OperationalError) as caught, connection.cursor() as cursor:
            cursor.execute(SLOW_SQL[connection.vendor])
    finally:
        limit_statements(None)
    assert is_statement_timeout(caught.value)
    error = to_api_error(caught.value)
    assert (error.status, error.errors[0].code, error.headers["Retry-After"]) == (503, "ServiceUnavailable", "5")
    assert "took too long" in error.errors[0].message
    with connection.cursor() as cursor:  # the connection is still usable
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_listing_cut_by_the_timeout_is_a_503_and_the_next_request_is_answered(transactional_db):
    creds = store_credentials_make(name="Store A", tenant_name="Tenant A", country="CA", currency="CAD")
    seed(creds.store)
    client = api_client(fetch_token(creds.client_id, creds.client_secret))
    # Nine words every customer matches, then one none does: each row is read and compared.
    words = "Ann Smith shopper example com nn mit hop xam zz"
    limit_statements(1)
    try:
        started = time.perf_counter()
        cut = client.get("/api/customers", {"q": words})
        cut_ms = (time.perf_counter() - started) * 1000
    finally:
        limit_statements(None)
    assert cut.status_code == 503, cut.content[:300]
    assert cut.json()["statusCode"] == 503 and field_errors(cut) == [("ServiceUnavailable", None)]
    assert cut["Retry-After"] == "5"
    after = client.get("/api/customers", {"q": words})
    assert after.status_code == 200 and after.json()["customers"] == []
    print(
        f"\nstatement timeout ({connection.vendor}): a 1 ms limit cut the q listing in {cut_ms:.0f} ms; "
        "the next request answered 200"
    )


def subprocess_env() -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        url = f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    else:
        url = f"sqlite:///{db['NAME']}"
    env.update(DATABASE_URL=url, DATABASE_STATEMENT_TIMEOUT_MS="100", DJANGO_SETTINGS_MODULE="twc.settings")
    return env


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=120
    )


SLOW_STATEMENT = """
from django.db import connection
try:
    with connection.cursor() as cursor:
        cursor.execute({sql!r})
    print("finished")
except Exception as exc:
    print(type(exc).__name__, exc)
"""


def test_the_served_process_cuts_slow_statements_and_commands_do_not(db):
    """The WSGI application (gunicorn's and runserver's) applies the limit; a command's process never
    loads it, so the import and the erasure job run uncut whatever DATABASE_STATEMENT_TIMEOUT_MS says."""
    slow = SLOW_STATEMENT.format(sql=SLOW_SQL[connection.vendor])
    served = run_python("import twc.wsgi\n" + slow)
    command = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", slow],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert served.returncode == command.returncode == 0, served.stderr + command.stderr
    assert served.stdout.strip().startswith("OperationalError"), served.stdout
    assert command.stdout.strip().endswith("finished"), command.stdout


def free_port() -> int:
    for port in HTTP_PORTS:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    pytest.skip(f"no free port in {HTTP_PORTS.start}-{HTTP_PORTS.stop - 1}")


@pytest.mark.postgres
def test_gunicorn_answers_503_when_a_statement_waits_too_long_and_then_recovers(transactional_db):
    """A real server (gunicorn, one sync worker, a 300 ms limit): a listing blocked by a lock that
    another session holds is cut, answered 503, and the same worker answers the next request."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run by CI's PostgreSQL pass)")
    creds = store_credentials_make(name="Store A", tenant_name="Tenant A", country="CA", currency="CAD")
    seed(creds.store, 10)
    port = free_port()
    env = subprocess_env() | {"DATABASE_STATEMENT_TIMEOUT_MS": "300", "FAST_PASSWORD_HASHER": "1", "DEBUG": "0"}
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "twc.wsgi:application", "--workers", "1"]
        + ["--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{base}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.2)
        token = requests.post(
            f"{base}/o/token/",
            data={"grant_type": "client_credentials"},
            auth=(creds.client_id, creds.client_secret),
            timeout=30,
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{base}/api/customers", headers=headers, timeout=30).status_code == 200
        db = connection.settings_dict
        with psycopg.connect(
            host=db["HOST"] or "127.0.0.1",
            port=db["PORT"] or 5432,
            user=db["USER"],
            password=db["PASSWORD"] or None,
            dbname=db["NAME"],
        ) as locker:
            locker.execute("LOCK TABLE customers_customer IN ACCESS EXCLUSIVE MODE")
            started = time.perf_counter()
            cut = requests.get(f"{base}/api/customers", headers=headers, timeout=30)
            cut_s = time.perf_counter() - started
            locker.rollback()
        assert cut.status_code == 503, cut.text[:300]
        body = cut.json()
        assert body["statusCode"] == 503 and body["errors"][0]["code"] == "ServiceUnavailable"
        assert cut.headers["Retry-After"] == "5"
        started = time.perf_counter()
        after = requests.get(f"{base}/api/customers", headers=headers, timeout=30)
        after_s = time.perf_counter() - started
        assert after.status_code == 200 and len(after.json()["customers"]) == 10
        print(
            f"\nstatement timeout (gunicorn, 300 ms): a listing behind a table lock answered 503 after "
            f"{cut_s:.2f} s; the same worker answered the next listing 200 in {after_s * 1000:.0f} ms"
        )
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=20)
