"""Load test: the service as it runs in production (gunicorn, several workers, PostgreSQL) under a
bounded mix of creates, reads and updates from a fixed number of clients on loopback, for a fixed
time. Prints throughput and p50/p99 latency; exits 1 on any error.

    make bench                      # every bench/*.py
    .venv/bin/python bench/load.py  # this one

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/twc_bench, created if
missing), BENCH_SECONDS (20), BENCH_CLIENTS (8), BENCH_WORKERS (gunicorn workers, 3), BENCH_PORT (8345).
"""

import contextlib
import http.client
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/twc_bench")
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
WARMUP_SECONDS = 2.0
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "3"))
PORT = int(os.environ.get("BENCH_PORT", "8345"))
SEED_CUSTOMERS = 2000
MIX = [("get", 0.6), ("create", 0.2), ("update", 0.2)]
EXPECTED = {"get": 200, "create": 201, "update": 200}


def ensure_database(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urllib.parse.urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def call(method: str, path: str, body=None, headers=None, form=False) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    try:
        headers = dict(headers or {})
        payload = None
        if form:
            payload = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    ensure_database(DATABASE_URL)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_"))}
    env.update(DATABASE_URL=DATABASE_URL, DJANGO_SECRET_KEY=secrets.token_urlsafe(50), LOG_LEVEL="WARNING")
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True)
    store_name = f"Bench {time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    created = subprocess.run(
        [*manage, "create_store", store_name, "--tenant", "Bench", "--country", "CA", "--json"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    creds = json.loads(created.stdout)
    gunicorn = [sys.executable, "-m", "gunicorn", "twc.wsgi", "-w", str(WORKERS), "-b", f"127.0.0.1:{PORT}"]
    server = subprocess.Popen(gunicorn, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError):
                if call("GET", "/healthz")[0] == 200:
                    break
            time.sleep(0.1)
        form = {"grant_type": "client_credentials", "client_id": creds["client_id"]}
        form["client_secret"] = creds["client_secret"]
        status, raw = call("POST", "/o/token/", form, form=True)
        assert status == 200, raw
        auth = {"Authorization": f"Bearer {json.loads(raw)['access_token']}"}

        seed = [{"id": f"seed-{n}", "email": f"seed-{n}@bench.test", "tags": "bench"} for n in range(SEED_CUSTOMERS)]
        status, raw = call("POST", "/api/upload-customers", seed, auth)
        assert status == 200 and json.loads(raw)["created"] == SEED_CUSTOMERS, raw[:300]
        with psycopg.connect(DATABASE_URL.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
            conn.execute("ANALYZE customers_customer")

        latencies: dict[str, list[float]] = {op: [] for op, _ in MIX}
        errors: list[tuple[str, int, bytes]] = []
        lock = threading.Lock()
        started = time.monotonic()
        measure_from, stop_at = started + WARMUP_SECONDS, started + WARMUP_SECONDS + SECONDS

        def client(number: int) -> None:
            rng = random.Random(number)
            sequence = 0
            while (now := time.monotonic()) < stop_at:
                op = rng.choices([op for op, _ in MIX], [weight for _, weight in MIX])[0]
                if op == "get":
                    request = ("GET", f"/api/customers/seed-{rng.randrange(SEED_CUSTOMERS)}", None)
                elif op == "create":
                    sequence += 1
                    ref = f"load-{number}-{sequence}-{secrets.token_hex(3)}"
                    request = ("POST", "/api/customers", {"id": ref, "email": f"{ref}@bench.test"})
                else:
                    body = {"id": f"seed-{rng.randrange(SEED_CUSTOMERS)}", "note": f"note {rng.random()}"}
                    request = ("PUT", "/api/customers", body)
                begun = time.perf_counter()
                try:
                    status, raw = call(*request, headers=auth)
                except OSError as exc:
                    status, raw = 0, repr(exc).encode()
                elapsed = time.perf_counter() - begun
                if now < measure_from:
                    continue
                with lock:
                    latencies[op].append(elapsed)
                    if status != EXPECTED[op]:
                        errors.append((op, status, raw[:200]))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        every = [value for values in latencies.values() for value in values]
        cores = os.cpu_count()
        print(
            f"load: gunicorn {WORKERS} sync workers on PostgreSQL, {CLIENTS} clients on loopback, {SECONDS:.0f} s "
            f"(after {WARMUP_SECONDS:.0f} s warm-up), {cores} CPU cores shared with the load generator"
        )
        print(
            f"load: {len(every)} requests, {len(errors)} errors, {len(every) / SECONDS:.0f} req/s, "
            f"p50 {percentile(every, 0.5) * 1000:.1f} ms, p99 {percentile(every, 0.99) * 1000:.1f} ms"
        )
        for op, values in latencies.items():
            if values:
                print(
                    f"load:   {op:<6} {len(values):>6} requests, {len(values) / SECONDS:>6.0f} req/s, "
                    f"p50 {statistics.median(values) * 1000:.1f} ms, p99 {percentile(values, 0.99) * 1000:.1f} ms"
                )
        for error in errors[:5]:
            print(f"load: error {error}")
        return 1 if errors else 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
