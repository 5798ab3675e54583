"""Single-customer requests through gunicorn on PostgreSQL, against a floor measured in the same run.

    make bench                         # every bench/*.py; this one takes about three minutes
    .venv/bin/python bench/single.py --duration 8 --rounds 2 --workers 3 --only get
    .venv/bin/python bench/single.py --profile get      # pyinstrument of 500 in-process requests

It creates a fresh database (twc_bench_single), seeds a realistic store (100,000 customers with one to
three addresses, soft-deleted ones, orders, a neighbour store), runs ANALYZE, starts gunicorn (sync
workers) and drives it with wrk at 16 connections:

- floor:  a bare Django view, one indexed SELECT, JSON out (bench/server/urls.py; mounted only here)
- get:    GET /api/customers/{ref} with a real OAuth token
- create: POST /api/customers (a new customer with one address per request)
- update: PUT /api/customers (a real change of a random customer per request)

and prints requests/s, p50 and p99 latency and the ratio ours/floor. Each scenario runs in slices
(4 x 3 s), each right after a slice of the floor, so a neighbour's load on a shared machine weighs
on both alike; the ratio is of the two means. It also prints the token check's cost in-process
(cache off and on) and the Python CPU per request of each kind in-process, which a busy machine
moves much less than throughput. The database is dropped at the end. Settings such as
CONN_MAX_AGE, DATABASE_POOL_MAX_SIZE or TOKEN_CACHE_SECONDS come from the environment as in
production, so variants can be compared: `TOKEN_CACHE_SECONDS=0 make bench`.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_DB", "twc_bench_single")
PORT = int(os.environ.get("BENCH_PORT", "8350"))
CONNECTIONS = 16
WRK_THREADS = 2
# The targets: ours/floor ratios and the p99 bound at 16 connections.
TARGET_RATIO = {"get": 0.7, "create": 0.5, "update": 0.5}
TARGET_P99_MS = 15.0


def default_workers() -> int:
    # Sync workers wait on PostgreSQL for part of each request, so one more worker than cores keeps
    # the CPUs busy; more only adds context switches on a machine that also runs PostgreSQL and wrk.
    return (os.cpu_count() or 2) + 1


# --- database --------------------------------------------------------------------------------


def admin_connection():
    import psycopg

    return psycopg.connect(f"{PG_URL}/postgres", autocommit=True)


def create_database() -> None:
    with admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def drop_database() -> None:
    from django.db import connections

    connections.close_all()
    with admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


SEED_CUSTOMERS = """
INSERT INTO customers_customer (
    twc_customer_id, store_id, ref, email, email_key, phone, first_name, last_name, note, state,
    verified_email, password, accepts_marketing, accepts_marketing_updated_at, marketing_opt_in_level,
    multipass_identifier, currency, tax_exempt, tax_exemptions, tags, orders_count, total_spent,
    last_order_id, last_order_name, version, created_at, updated_at, deleted_at, erased_at, disabled_by_staff)
SELECT gen_random_uuid(), %(store)s, %(prefix)s || g, 'Customer' || g || '@Example.com',
    'customer' || g || '@example.com', '+1416' || (2000000 + g), 'First' || g, 'Last' || g,
    CASE WHEN g %% 4 = 0 THEN 'Prefers email. Customer since ' || (2000 + g %% 25) ELSE '' END,
    (ARRAY['disabled', 'enabled', 'invited', 'declined'])[1 + g %% 4], g %% 2 = 0, '', g %% 3 = 0,
    CASE WHEN g %% 3 = 0 THEN now() END, CASE WHEN g %% 3 = 0 THEN 'single_opt_in' END, NULL, 'CAD',
    g %% 50 = 0, CASE WHEN g %% 50 = 0 THEN '["CA_STATUS_CARD_EXEMPTION"]'::jsonb ELSE '[]'::jsonb END,
    'segment-' || (g %% 20) || ', vip, newsletter', 0, 0, NULL, NULL, 1 + g %% 5,
    now() - make_interval(mins => g), now() - make_interval(secs => g),
    CASE WHEN %(deleted)s THEN now() END, NULL, false
FROM generate_series(1, %(count)s) AS g
"""

SEED_ADDRESSES = """
INSERT INTO customers_address (
    customer_id, first_name, last_name, company, address1, address2, city, province, province_code,
    country, country_code, zip, phone, name, is_default)
SELECT c.seq, c.first_name, c.last_name, '', a || ' King St W', 'Suite ' || a, 'Toronto', 'Ontario', 'ON',
    'Canada', 'CA', 'M5V 2T6', '', c.first_name || ' ' || c.last_name, a = 1
FROM customers_customer c, generate_series(1, 1 + c.seq % 3) AS a
"""

SEED_ORDERS = """
INSERT INTO customers_order (
    store_id, customer_id, name, email, email_key, phone, total_price, currency, test, archived, created_at)
SELECT c.store_id, c.seq, '#' || c.seq, c.email, c.email_key, c.phone, 10 + c.seq %% 90, 'CAD', false, false, now()
FROM customers_customer c WHERE c.seq %% 5 = 0
UNION ALL
SELECT %(store)s, NULL, '#u' || g, 'shopper' || g || '@example.net', 'shopper' || g || '@example.net', NULL,
    25, 'CAD', false, false, now()
FROM generate_series(1, 5000) AS g
"""


def seed(*, customers: int) -> dict:
    """The benchmark's store (and a neighbour), seeded in SQL; returns the store and a token."""
    from django.db import connection
    from django.test import Client

    from tenants.services import store_create

    creds = store_create(name="Bench Store", tenant_name="Bench Tenant", country="CA", currency="CAD")
    neighbour = store_create(name="Neighbour Store", tenant_name="Neighbour Tenant", country="CA", currency="CAD")
    with connection.cursor() as cursor:
        for store, prefix, count, deleted in (
            (creds.store.pk, "c-", customers, False),
            (creds.store.pk, "gone-", customers // 50, True),
            (neighbour.store.pk, "c-", customers // 5, False),
        ):
            cursor.execute(SEED_CUSTOMERS, {"store": store, "prefix": prefix, "count": count, "deleted": deleted})
        cursor.execute(SEED_ADDRESSES)
        cursor.execute(SEED_ORDERS, {"store": creds.store.pk})
        cursor.execute("ANALYZE")
    response = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials", "client_id": creds.client_id, "client_secret": creds.client_secret},
    )
    assert response.status_code == 200, response.content
    return {"store_id": creds.store.pk, "token": response.json()["access_token"]}


# --- server and load -------------------------------------------------------------------------


def server_env() -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.server.settings",
        DATABASE_URL=f"{PG_URL}/{DB_NAME}",
        DEBUG="0",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not listen on port {port} within {timeout:.0f} s")


def start_gunicorn(workers: int) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [
            str(gunicorn),
            "twc.wsgi:application",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--chdir",
            str(ROOT),
            "--log-level",
            "warning",
            "--graceful-timeout",
            "5",
        ],
        env=server_env(),
        start_new_session=True,
    )
    wait_for_port(PORT)
    return process


def stop_gunicorn(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing the Debian package", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, stdout=subprocess.DEVNULL, timeout=600)
        path = shutil.which("wrk")
    if not path:
        sys.exit("wrk is needed: apt-get install -y wrk (Debian/Ubuntu) or brew install wrk")
    return path


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def run_wrk(wrk: str, script: str, *, duration: int, env: dict) -> dict:
    """One wrk run; returns requests/s, p50 and p99 in ms, and the count of failed responses."""
    command = [
        wrk,
        f"-t{WRK_THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{duration}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(ROOT / "bench" / "wrk" / script),
        f"http://127.0.0.1:{PORT}",
    ]
    result = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, timeout=duration + 60, check=True
    )
    out = result.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50": p50,
        "p99": p99,
        "requests": requests,
        "failed": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


# --- in-process measures -----------------------------------------------------------------------


def measure_token_check(token: str, *, rounds: int = 3000) -> dict:
    """Microseconds per token check in-process: with the token cache off, and on."""
    from django.test import RequestFactory, override_settings

    from tenants.authentication import store_token_of
    from tenants.token_cache import token_cache

    request = RequestFactory().get("/api/customers/c-1", HTTP_AUTHORIZATION=f"Bearer {token}")
    figures = {}
    for name, seconds in (("uncached", 0), ("cached", 30)):
        with override_settings(TOKEN_CACHE_SECONDS=seconds):
            token_cache.clear()
            store_token_of(request)
            started = time.perf_counter()
            for _ in range(rounds):
                store_token_of(request)
            figures[name] = (time.perf_counter() - started) / rounds * 1e6
    token_cache.clear()
    return figures


def request_maker(kind: str, *, token: str, store_id: int, customers: int):
    """A function i -> response of one in-process request of `kind` (the full middleware stack)."""
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def one(i: int):
        ref = f"c-{1 + i * 7919 % customers}"
        if kind == "floor":
            return client.get(f"/bench/floor/{store_id}/{ref}")
        if kind == "get":
            return client.get(f"/api/customers/{ref}")
        if kind == "create":
            body = {
                "id": f"p-{i}",
                "email": f"p{i}@bench.example",
                "phone": f"+1 613 {300 + i // 10000:03d} {i % 10000:04d}",
                "first_name": "Ann",
                "tags": "vip, newsletter",
                "addresses": [{"address1": "1 Main St", "city": "Ottawa", "country_code": "CA"}],
            }
            return client.post("/api/customers", body, content_type="application/json")
        return client.put("/api/customers", {"id": ref, "note": f"in-process {i}"}, content_type="application/json")

    return one


def measure_in_process(store: dict, *, customers: int, rounds: int = 400) -> dict:
    """CPU microseconds of this Python process per request, by kind: the server-side Python cost
    without PostgreSQL's (another process) and, unlike wall time, barely moved by a busy machine."""
    figures = {}
    for offset, kind in enumerate(("floor", "get", "create", "update")):
        one = request_maker(kind, token=store["token"], store_id=store["store_id"], customers=customers)
        base = 200_000 + offset * 10_000
        for i in range(30):
            one(base + i)
        started = time.process_time()
        for i in range(rounds):
            response = one(base + 100 + i)
            assert response.status_code in (200, 201), response.content
        figures[kind] = (time.process_time() - started) / rounds * 1e6
    return figures


def profile(kind: str, store: dict, *, customers: int, count: int = 500) -> None:
    """pyinstrument over `count` in-process requests of one kind."""
    from pyinstrument import Profiler

    one = request_maker(kind, token=store["token"], store_id=store["store_id"], customers=customers)
    for i in range(50):  # warm up (connections, imports, caches)
        one(100000 + i)
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for i in range(count):
        response = one(i)
        assert response.status_code in (200, 201), response.content
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=os.environ.get("BENCH_PROFILE_ALL") == "1"))


# --- main ------------------------------------------------------------------------------------


def machine() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0].split()[0]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores, PostgreSQL {pg_version}, Python {sys.version.split()[0]}, load average {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--duration", type=int, default=int(os.environ.get("BENCH_DURATION", "12")), help="seconds per scenario"
    )
    parser.add_argument(
        "--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "4")), help="slices per scenario"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("BENCH_WORKERS", default_workers())),
        help="gunicorn sync workers (default: cores + 1)",
    )
    parser.add_argument("--customers", type=int, default=100_000, help="customers of the benchmark's store")
    parser.add_argument("--profile", choices=["get", "create", "update"])
    parser.add_argument("--only", nargs="*", choices=["get", "create", "update"], help="a subset of the scenarios")
    args = parser.parse_args()
    if args.profile:
        global DB_NAME
        DB_NAME = f"{DB_NAME}_profile"  # a profile may run beside a benchmark

    for name, value in server_env().items():
        if name in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DEBUG", "LOG_LEVEL"):
            os.environ[name] = value
    wrk = None if args.profile else ensure_wrk()
    create_database()
    try:
        import django
        from django.core.management import call_command

        django.setup()
        started = time.monotonic()
        call_command("migrate", verbosity=0)
        store = seed(customers=args.customers)
        print(f"seeded {args.customers:,} customers in {time.monotonic() - started:.0f} s; {machine()}", flush=True)
        if args.profile:
            profile(args.profile, store, customers=args.customers)
            return
        token_figures = measure_token_check(store["token"])
        bench(
            wrk,
            store,
            workers=args.workers,
            duration=args.duration,
            rounds=args.rounds,
            only=args.only,
            customers=args.customers,
        )
        print(
            "token check in-process: "
            + ", ".join(f"{name} {micros:.0f} us" for name, micros in token_figures.items())
            + " per request"
        )
        cpu = measure_in_process(store, customers=args.customers)
        print(
            "Python CPU per request in-process: "
            + ", ".join(f"{kind} {micros:.0f} us" for kind, micros in cpu.items())
            + "; floor/ours: "
            + ", ".join(f"{kind} {cpu['floor'] / cpu[kind]:.2f}" for kind in ("get", "create", "update"))
        )
    finally:
        drop_database()


def bench(
    wrk: str, store: dict, *, workers: int, duration: int, rounds: int, only: list[str] | None, customers: int
) -> None:
    """Each scenario runs in `rounds` slices, each right after a slice of the floor of the same
    length: a neighbour's load on a shared machine then weighs on both alike, and the ratio is
    of the two means. p50 is the median of the slices' p50, p99 the worst slice's p99."""
    env = {"BENCH_TOKEN": store["token"], "BENCH_CUSTOMERS": str(customers)}
    floor_env = {**env, "BENCH_PATH": f"/bench/floor/{store['store_id']}/", "BENCH_TOKEN": ""}
    scenarios = [
        ("get", "get.lua", {**env, "BENCH_PATH": "/api/customers/"}),
        ("create", "create.lua", env),
        ("update", "update.lua", env),
    ]
    scenarios = [s for s in scenarios if not only or s[0] in only]
    slice_seconds = max(2, round(duration / rounds))
    slices: dict[str, list[dict]] = {name: [] for name, _, _ in scenarios}
    floors: dict[str, list[dict]] = {name: [] for name, _, _ in scenarios}
    server = start_gunicorn(workers)
    try:
        run_wrk(wrk, "get.lua", duration=2, env=floor_env)
        for _name, script, script_env in scenarios:
            run_wrk(wrk, script, duration=2, env={**script_env, "BENCH_RUN": "0"})
        for round_number in range(1, rounds + 1):
            for name, script, script_env in scenarios:
                floors[name].append(run_wrk(wrk, "get.lua", duration=slice_seconds, env=floor_env))
                # BENCH_RUN keeps the customers a create slice makes unique across slices.
                run_env = {**script_env, "BENCH_RUN": str(round_number)}
                slices[name].append(run_wrk(wrk, script, duration=slice_seconds, env=run_env))
    finally:
        stop_gunicorn(server)

    print(
        f"\ngunicorn {workers} sync workers, wrk {WRK_THREADS} threads x {CONNECTIONS} connections; "
        f"{rounds} slices of {slice_seconds} s per scenario, each right after a floor slice"
    )
    print(
        f"{'scenario':<10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'floor req/s':>13}{'floor p99':>11}"
        f"{'ours/floor':>12}{'target':>14}{'failed':>8}"
    )
    for name, _, _ in scenarios:
        ours, floor = slices[name], floors[name]
        rps = statistics.mean(r["rps"] for r in ours)
        floor_rps = statistics.mean(r["rps"] for r in floor)
        p50 = statistics.median(r["p50"] for r in ours)
        p99 = max(r["p99"] for r in ours)
        ratio = rps / floor_rps
        met = ratio >= TARGET_RATIO[name] and p99 < TARGET_P99_MS
        target = f">= {TARGET_RATIO[name]} {'ok' if met else 'MISS'}"
        failed = sum(r["failed"] for r in ours)
        errors = "; ".join(r["socket_errors"] for r in ours if r["socket_errors"])
        print(
            f"{name:<10}{rps:>9.0f}{p50:>9.2f}{p99:>9.2f}{floor_rps:>13.0f}{max(r['p99'] for r in floor):>11.2f}"
            f"{ratio:>12.2f}{target:>14}{failed:>8}" + (f"  socket errors: {errors}" if errors else "")
        )
    print(f"targets: ratio as shown and p99 < {TARGET_P99_MS:.0f} ms at {CONNECTIONS} connections")


if __name__ == "__main__":
    main()
