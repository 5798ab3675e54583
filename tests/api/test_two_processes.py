"""Rate limits and idempotency hold across two server processes sharing one PostgreSQL database
(and Redis when REDIS_URL is set): the state lives in the shared store, not in a process."""

import hashlib
import os
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis
import requests
from django.db import connection

from customers.models import Customer
from tests.api.conftest import TEST_REDIS_URL, require_redis
from tests.conftest import fetch_token
from tests.factories import store_credentials_make
from twc.api.models import IdempotencyRecord

ROOT = Path(__file__).resolve().parents[2]
# This suite's own port range (one helper per range on shared machines); override with TWC_TEST_PORTS.
PORTS = [int(p) for p in os.environ.get("TWC_TEST_PORTS", "8330-8339").split("-")]


def free_ports(count: int) -> list[int]:
    found = []
    for port in range(PORTS[0], PORTS[-1] + 1):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                found.append(port)
        if len(found) == count:
            return found
    pytest.fail(f"no {count} free ports in {PORTS}")


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def two_servers(request):
    """Two `runserver --noreload` processes on one database (the test's), with or without Redis."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: two processes on one database (run by CI's PostgreSQL pass)")
    backend = request.param
    env = {**os.environ, "DATABASE_URL": database_url(), "DEBUG": "0", "RATE_LIMIT_ENABLED": "1", "REDIS_URL": ""}
    # The tests' fast hasher (the secrets were hashed with it) and a small budget of failed
    # client authentications for the OAuth test.
    env.update(FAST_PASSWORD_HASHER="1", TOKEN_CLIENT_RATE_LIMIT_BURST="4", TOKEN_CLIENT_RATE_LIMIT_PER_SECOND="0.001")
    prefix = f"twc-test:{uuid.uuid4().hex}:"
    if backend == "redis":
        require_redis()
        env.update(REDIS_URL=TEST_REDIS_URL, REDIS_KEY_PREFIX=prefix)
    processes, urls = [], []
    for port in free_ports(2):
        command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
        processes.append(
            subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        for url in urls:
            while True:
                try:
                    if requests.get(f"{url}/api/customers", timeout=2).status_code == 401:
                        break
                except requests.ConnectionError:
                    pass
                assert time.monotonic() < deadline, f"{url} did not start"
                time.sleep(0.2)
        yield SimpleNamespace(urls=urls, backend=backend, prefix=prefix)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)
        if backend == "redis":
            client = redis.Redis.from_url(TEST_REDIS_URL)
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)


def store_with_token(name: str, **limits) -> tuple:
    """A new store (with these Store fields set) and the Authorization header of a token of it."""
    creds = store_credentials_make(name=name, tenant_name=f"Tenant {name}", country="CA", currency="CAD")
    for field, value in limits.items():
        setattr(creds.store, field, value)
    creds.store.save()
    return creds.store, {"Authorization": f"Bearer {fetch_token(creds.client_id, creds.client_secret)}"}


def wait_until_claimed(servers, key: str) -> None:
    """Until the first request holds the key in the shared store (so the retry surely comes second)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if servers.backend == "redis":
            digest = hashlib.sha256(key.encode()).hexdigest()
            if any(redis.Redis.from_url(TEST_REDIS_URL).scan_iter(match=f"{servers.prefix}idem:*:{digest}")):
                return
        elif IdempotencyRecord.objects.filter(key=key).exists():
            return
        time.sleep(0.01)
    pytest.fail(f"the first request never claimed {key!r}")


BACKENDS = pytest.mark.parametrize("two_servers", ["redis", "database"], indirect=True)


@BACKENDS
@pytest.mark.django_db(transaction=True)
def test_rate_limit_is_shared_by_both_processes(two_servers):
    _, headers = store_with_token("Limited", rate_limit_per_second=0.001, rate_limit_burst=20)
    _, other = store_with_token("Other", rate_limit_per_second=0.001, rate_limit_burst=20)
    urls = two_servers.urls * 20

    def list_customers_on(url):
        return requests.get(f"{url}/api/customers?limit=1", headers=headers, timeout=30)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(list_customers_on, urls))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 20 and statuses.count(429) == 20, statuses
    limited = next(r for r in responses if r.status_code == 429)
    assert limited.json()["errors"][0]["code"] == "TooManyRequests"
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    remaining = sorted(int(r.headers["X-RateLimit-Remaining"]) for r in responses if r.status_code == 200)
    assert remaining == list(range(20))  # each token taken exactly once, whichever process took it
    # another store's application has its own budget on both processes
    assert [requests.get(f"{u}/api/customers", headers=other, timeout=30).status_code for u in two_servers.urls] == [
        200,
        200,
    ]


@BACKENDS
@pytest.mark.django_db(transaction=True)
def test_idempotency_holds_across_both_processes(two_servers):
    first_server, second_server = two_servers.urls
    store, headers = store_with_token("Idem")
    _, headers_b = store_with_token("Idem B")
    body = {"id": "c-1", "email": "a@x.com"}

    def post_customer_with_key(url, json, key, auth=headers):
        return requests.post(f"{url}/api/customers", json=json, headers={**auth, "Idempotency-Key": key}, timeout=60)

    # ten retries racing on both processes: one runs, the others replay it or are told it is running
    with ThreadPoolExecutor(max_workers=10) as pool:
        racing = list(pool.map(lambda url: post_customer_with_key(url, body, "race"), two_servers.urls * 5))
    assert Customer.objects.filter(store=store).count() == 1
    originals = [r for r in racing if r.status_code == 201 and "Idempotent-Replayed" not in r.headers]
    assert len(originals) == 1
    for response in racing:
        if response.status_code == 409:
            assert response.json()["errors"][0]["code"] == "IdempotencyKeyInProgress"
        else:
            assert response.status_code == 201 and response.content == originals[0].content
    replay = post_customer_with_key(second_server, body, "race")
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.content == originals[0].content
    assert replay.headers["ETag"] == originals[0].headers["ETag"]
    reused = post_customer_with_key(first_server, {"id": "c-2", "email": "b@x.com"}, "race")
    assert (reused.status_code, reused.json()["errors"][0]["code"]) == (422, "IdempotencyKeyReused")
    # the same key in another store is another request
    other_store = post_customer_with_key(second_server, body, "race", auth=headers_b)
    assert other_store.status_code == 201 and "Idempotent-Replayed" not in other_store.headers

    # a long upload on one process: its retry on the other is 409 until it ends, then the replay
    items = [{"id": f"u-{i}", "email": f"u{i}@x.com"} for i in range(3000)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        upload = pool.submit(
            requests.post, f"{first_server}/api/upload-customers", json=items,
            headers={**headers, "Idempotency-Key": "upload"}, timeout=120,
        )  # fmt: skip
        wait_until_claimed(two_servers, "upload")
        retries = []
        while not upload.done() or not retries:
            retries.append(
                requests.post(
                    f"{second_server}/api/upload-customers", json=items,
                    headers={**headers, "Idempotency-Key": "upload"}, timeout=120,
                ).status_code
            )  # fmt: skip
            time.sleep(0.05)
        first = upload.result()
    assert first.status_code == 200 and first.json()["created"] == 3000
    assert 409 in retries, retries
    last = requests.post(
        f"{second_server}/api/upload-customers",
        json=items,
        headers={**headers, "Idempotency-Key": "upload"},
        timeout=120,
    )
    assert last.headers["Idempotent-Replayed"] == "true" and last.content == first.content
    assert Customer.objects.filter(store=store).count() == 3001


@BACKENDS
@pytest.mark.django_db(transaction=True)
def test_failed_client_authentications_are_counted_across_both_processes(two_servers):
    creds = store_credentials_make(name="Guessed", tenant_name="Tenant Guessed")

    def token_on(url, secret):
        form = {"grant_type": "client_credentials", "client_id": creds.client_id, "client_secret": secret}
        return requests.post(f"{url}/o/token/", data=form, timeout=30)

    guesses = [token_on(url, f"guess-{n}").status_code for n, url in enumerate(two_servers.urls * 4)]
    assert guesses == [401, 401, 401, 401, 429, 429, 429, 429]  # one budget of 4, whichever process
    assert [token_on(url, creds.client_secret).status_code for url in two_servers.urls] == [200, 200]
