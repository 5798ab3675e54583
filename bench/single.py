"""Single-customer requests through gunicorn on PostgreSQL, against a floor measured in the same run.

    make bench                         # every bench/*.py; this one takes about three minutes
    .venv/bin/python bench/single.py --duration 8 --rounds 2 --workers 3 --only get
    .venv/bin/python bench/single.py --profile get      # pyinstrument of 500 in-process requests

It creates a fresh database (twc_bench_single), seeds a realistic store (100,000 customers with one to
three addresses, soft-deleted ones, orders, a neighbour store, a signed-in customer), runs ANALYZE,
starts two gunicorns with the same number of sync workers on the same database, the service and its
floor, and drives them with wrk at 16 connections:

- get:    GET /api/customers/{ref} with a real OAuth token
- create: POST /api/customers (a new customer with one address per request)
- update: PUT /api/customers (a real change of a random customer per request)
- me:     GET /api/me with a customer token

The floor of each is a bare Django application (bench/floor/: its own settings, no middleware, no
DRF, no authentication) doing the SQL a competent hand would write for the same request: the
customer and its addresses; the customer and its address inserted in one transaction; one
`UPDATE ... RETURNING` and the addresses; the customer a token names and its addresses.

The service runs as in production: JSON request logs on (LOG_LEVEL=INFO, to /dev/null), rate
limits and idempotency keys in Redis when REDIS_URL is set (`make bench` sets it, with limits high
enough not to throttle the one application: the limiter's cost is still paid), the events outbox
written by every write. It prints requests/s, p50 and p99 latency and the ratio ours/floor. Each
scenario runs in slices (4 x 3 s), each right after a slice of its floor, so a neighbour's load on
a shared machine weighs on both alike; the ratio is the median of the slices' ratios. It also prints
the token check's cost in-process (cache off and on) and the Python CPU per request of each kind
in-process, which a busy machine moves much less than throughput. The database is dropped at the
end. Settings such as CONN_HEALTH_CHECKS, DATABASE_POOL_MAX_SIZE or TOKEN_CACHE_SECONDS come from
the environment as in production, so variants can be compared: `TOKEN_CACHE_SECONDS=0 make bench`.
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
FLOOR_PORT = int(os.environ.get("BENCH_FLOOR_PORT", str(PORT + 1)))
CONNECTIONS = 16
WRK_THREADS = 2
# Issue 16's targets: ours/floor (median of the slices), and p99 at most this many times the floor's.
TARGET_RATIO = {"get": 0.6, "create": 0.5, "update": 0.5, "me": 0.5}
TARGET_P99_FACTOR = 2.0
KINDS = ("get", "create", "update", "me")


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
    last_order_id, last_order_name, version, created_at, updated_at, deleted_at, erased_at, disabled_by_staff,
    metadata, private_metadata)
SELECT gen_random_uuid(), %(store)s, %(prefix)s || g, 'Customer' || g || '@Example.com',
    'customer' || g || '@example.com', '+1416' || (2000000 + g), 'First' || g, 'Last' || g,
    CASE WHEN g %% 4 = 0 THEN 'Prefers email. Customer since ' || (2000 + g %% 25) ELSE '' END,
    (ARRAY['disabled', 'enabled', 'invited', 'declined'])[1 + g %% 4], g %% 2 = 0, '', g %% 3 = 0,
    CASE WHEN g %% 3 = 0 THEN now() END, CASE WHEN g %% 3 = 0 THEN 'single_opt_in' END, NULL, 'CAD',
    g %% 50 = 0, CASE WHEN g %% 50 = 0 THEN '["CA_STATUS_CARD_EXEMPTION"]'::jsonb ELSE '[]'::jsonb END,
    'segment-' || (g %% 20) || ', vip, newsletter', 0, 0, NULL, NULL, 1 + g %% 5,
    now() - make_interval(mins => g), now() - make_interval(secs => g),
    CASE WHEN %(deleted)s THEN now() END, NULL, false, '{}'::jsonb, '{}'::jsonb
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
    """The benchmark's store (and a neighbour), seeded in SQL; returns the store, a store token and
    the token of a signed-in customer (c-1)."""
    from django.db import connection
    from django.test import Client

    from accounts.services.tokens import customer_token_issue
    from customers.models import Customer
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
    Customer.objects.filter(store_id=creds.store.pk, ref="c-1").update(state="enabled")
    customer_token = customer_token_issue(customer=Customer.objects.get(store_id=creds.store.pk, ref="c-1")).token
    return {"store_id": creds.store.pk, "token": response.json()["access_token"], "customer_token": customer_token}


# --- server and load -------------------------------------------------------------------------


def server_env() -> dict:
    """The service's environment: production posture (JSON request logs at INFO; REDIS_URL and
    the limits as the caller's environment sets them)."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="twc.settings",
        DATABASE_URL=f"{PG_URL}/{DB_NAME}",
        DEBUG="0",
        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "INFO"),
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


def start_gunicorn(workers: int, *, app: str = "twc.wsgi:application", port: int = PORT) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    env = server_env()
    if app.startswith("bench.floor"):
        env["DJANGO_SETTINGS_MODULE"] = "bench.floor.settings"
    process = subprocess.Popen(
        [
            str(gunicorn),
            app,
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--chdir",
            str(ROOT),
            "--log-level",
            "warning",
            "--graceful-timeout",
            "5",
        ],
        env=env,
        start_new_session=True,
        # The request log's lines are written (their cost is paid) and thrown away.
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
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


def run_wrk(wrk: str, script: str, *, duration: int, env: dict, port: int = PORT) -> dict:
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
        f"http://127.0.0.1:{port}",
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


def create_body(i: int, *, prefix: str = "p") -> dict:
    return {
        "id": f"{prefix}-{i}",
        "email": f"{prefix}{i}@bench.example",
        "phone": f"+1 613 {300 + i // 10000:03d} {i % 10000:04d}",
        "first_name": "Ann",
        "tags": "vip, newsletter",
        "addresses": [{"address1": "1 Main St", "city": "Ottawa", "country_code": "CA"}],
    }


def request_maker(kind: str, store: dict, *, customers: int):
    """A function i -> response of one in-process request of `kind`: the service's through its full
    middleware stack (Django's test client), or `floor-<kind>`, the floor's view called as its
    handler would (the floor application has no middleware)."""
    from django.test import Client, RequestFactory

    from bench.floor import views as floor

    store_id = store["store_id"]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {store['token']}")
    me_client = Client(HTTP_AUTHORIZATION=f"Bearer {store['customer_token']}")
    factory = RequestFactory()

    def one(i: int):
        ref = f"c-{1 + i * 7919 % customers}"
        update = {"id": ref, "note": f"in-process {i}", "tags": f"vip, bench {i % 7}"}
        if kind == "get":
            return client.get(f"/api/customers/{ref}")
        if kind == "create":
            return client.post("/api/customers", create_body(i), content_type="application/json")
        if kind == "update":
            return client.put("/api/customers", update, content_type="application/json")
        if kind == "me":
            return me_client.get("/api/me")
        if kind == "floor-get":
            return floor.customer_get(factory.get(f"/floor/{store_id}/customers/{ref}"), store_id, ref)
        if kind == "floor-create":
            body = create_body(i, prefix="floor-p")
            return floor.customers(factory.post("/", body, content_type="application/json"), store_id)
        if kind == "floor-update":
            return floor.customers(factory.put("/", update, content_type="application/json"), store_id)
        if kind == "floor-me":
            return floor.me(factory.get("/floor/me", HTTP_AUTHORIZATION=f"Bearer {store['customer_token']}"))
        raise ValueError(kind)

    return one


def measure_in_process(store: dict, *, customers: int, rounds: int = 400) -> dict:
    """CPU microseconds of this Python process per request, by kind: the server-side Python cost
    without PostgreSQL's (another process) and, unlike wall time, barely moved by a busy machine."""
    figures = {}
    for offset, kind in enumerate(k for base in KINDS for k in (f"floor-{base}", base)):
        one = request_maker(kind, store, customers=customers)
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
    """pyinstrument (wall time) over `count` in-process requests of one kind; with
    BENCH_PROFILER=cprofile, cProfile's CPU-bound view instead (the 40 costliest functions by own time)."""
    one = request_maker(kind, store, customers=customers)
    for i in range(50):  # warm up (connections, imports, caches)
        one(100000 + i)
    if os.environ.get("BENCH_PROFILER") == "cprofile":
        import cProfile
        import pstats

        with cProfile.Profile(time.process_time) as cpu_profile:
            for i in range(count):
                one(i)
        stats = pstats.Stats(cpu_profile)
        lines = int(os.environ.get("BENCH_PROFILE_LINES", "40"))
        stats.sort_stats(os.environ.get("BENCH_PROFILE_SORT", "tottime")).print_stats(lines)
        return
    from pyinstrument import Profiler

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
    parser.add_argument("--profile", choices=[*KINDS, *(f"floor-{kind}" for kind in KINDS)])
    parser.add_argument("--only", nargs="*", choices=KINDS, help="a subset of the scenarios")
    parser.add_argument("--cpu", action="store_true", help="only the in-process measures (no gunicorn, no wrk)")
    args = parser.parse_args()
    if args.profile:
        global DB_NAME
        DB_NAME = f"{DB_NAME}_profile"  # a profile may run beside a benchmark

    for name, value in server_env().items():
        if name in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DEBUG", "LOG_LEVEL"):
            os.environ[name] = value
    wrk = None if args.profile or args.cpu else ensure_wrk()
    create_database()
    try:
        import django
        from django.core.management import call_command

        django.setup()
        started = time.monotonic()
        call_command("migrate", verbosity=0)
        store = seed(customers=args.customers)
        print(f"seeded {args.customers:,} customers in {time.monotonic() - started:.0f} s; {machine()}", flush=True)
        print(posture(), flush=True)
        quiet_request_log()
        if args.profile:
            profile(args.profile, store, customers=args.customers)
            return
        token_figures = measure_token_check(store["token"])
        if not args.cpu:
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
            + ", ".join(f"{kind} {cpu[f'floor-{kind}']:.0f}/{cpu[kind]:.0f} us" for kind in KINDS)
            + " (floor/ours); ratio: "
            + ", ".join(f"{kind} {cpu[f'floor-{kind}'] / cpu[kind]:.2f}" for kind in KINDS)
        )
    finally:
        drop_database()


def posture() -> str:
    from django.conf import settings

    shared = f"Redis ({settings.REDIS_URL})" if settings.REDIS_URL else "the database (REDIS_URL unset)"
    limit = f"{settings.RATE_LIMIT_PER_SECOND:g}/s, burst {settings.RATE_LIMIT_BURST}"
    return (
        f"service posture: rate limits {'on' if settings.RATE_LIMIT_ENABLED else 'OFF'} ({limit}) in {shared}; "
        f"request log level {settings.LOGGING['root']['level']}; token cache {settings.TOKEN_CACHE_SECONDS:g} s; "
        f"CONN_HEALTH_CHECKS {settings.DATABASES['default']['CONN_HEALTH_CHECKS']}"
    )


def quiet_request_log() -> None:
    """In-process measures format every request line as the server does, but print none of them."""
    import logging

    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process


SCENARIOS = {
    # name: (wrk script, the service's path, the floor's path)
    "get": ("get.lua", "/api/customers/", "/floor/{store}/customers/"),
    "create": ("create.lua", "/api/customers", "/floor/{store}/customers"),
    "update": ("update.lua", "/api/customers", "/floor/{store}/customers"),
    "me": ("me.lua", "/api/me", "/floor/me"),
}


def bench(
    wrk: str, store: dict, *, workers: int, duration: int, rounds: int, only: list[str] | None, customers: int
) -> None:
    """Each scenario runs in `rounds` slices, each right after a slice of its floor of the same
    length: a neighbour's load on a shared machine then weighs on both alike. The ratio is the
    median of the slices' ratios (ours over the floor slice just before); p50 and p99 are the
    medians of the slices', the worst p99 is shown beside them."""
    env = {"BENCH_CUSTOMERS": str(customers)}
    names = [name for name in SCENARIOS if not only or name in only]
    slice_seconds = max(2, round(duration / rounds))
    slices: dict[str, list[dict]] = {name: [] for name in names}
    floors: dict[str, list[dict]] = {name: [] for name in names}

    def envs(name: str, run: int) -> tuple[dict, dict]:
        _, path, floor_path = SCENARIOS[name]
        token = store["customer_token"] if name == "me" else store["token"]
        # BENCH_RUN keeps the customers a create slice makes unique across slices; the floor's
        # creates have their own prefix (and unnormalised phones: never the service's E.164 ones).
        ours = {**env, "BENCH_TOKEN": token, "BENCH_PATH": path, "BENCH_RUN": str(run), "BENCH_PREFIX": "new"}
        floor = {**ours, "BENCH_PATH": floor_path.format(store=store["store_id"]), "BENCH_PREFIX": "floor"}
        return ours, floor

    server = start_gunicorn(workers)
    floor_server = start_gunicorn(workers, app="bench.floor.wsgi:application", port=FLOOR_PORT)
    try:
        for name in names:  # warm up both
            ours, floor = envs(name, 0)
            run_wrk(wrk, SCENARIOS[name][0], duration=2, env=floor, port=FLOOR_PORT)
            run_wrk(wrk, SCENARIOS[name][0], duration=2, env=ours)
        for round_number in range(1, rounds + 1):
            for name in names:
                ours, floor = envs(name, round_number)
                script = SCENARIOS[name][0]
                floors[name].append(run_wrk(wrk, script, duration=slice_seconds, env=floor, port=FLOOR_PORT))
                slices[name].append(run_wrk(wrk, script, duration=slice_seconds, env=ours))
    finally:
        stop_gunicorn(server)
        stop_gunicorn(floor_server)
    report(slices, floors, workers=workers, rounds=rounds, slice_seconds=slice_seconds)


def report(slices: dict, floors: dict, *, workers: int, rounds: int, slice_seconds: int) -> None:
    print(
        f"\ngunicorn {workers} sync workers each (service and floor), wrk {WRK_THREADS} threads x {CONNECTIONS} "
        f"connections; {rounds} slices of {slice_seconds} s per scenario, each right after a floor slice"
    )
    print(
        f"{'scenario':<9}{'req/s':>7}{'p50':>7}{'p99':>7}{'worst':>7}{'floor':>7}{'f p50':>7}{'f p99':>7}"
        f"{'ratio':>7}{'slices':>22}{'p99/f':>7}{'target':>16}{'failed':>7}"
    )
    for name in slices:
        ours, floor = slices[name], floors[name]
        ratios = [o["rps"] / f["rps"] for o, f in zip(ours, floor, strict=True)]
        ratio = statistics.median(ratios)
        p99 = statistics.median(r["p99"] for r in ours)
        floor_p99 = statistics.median(r["p99"] for r in floor)
        p99_factor = p99 / floor_p99
        met = ratio >= TARGET_RATIO[name] and p99_factor <= TARGET_P99_FACTOR
        target = f">= {TARGET_RATIO[name]} {'ok' if met else 'MISS'}"
        failed = sum(r["failed"] for r in ours) + sum(r["failed"] for r in floor)
        errors = "; ".join(r["socket_errors"] for r in ours + floor if r["socket_errors"])
        print(
            f"{name:<9}{statistics.median(r['rps'] for r in ours):>7.0f}"
            f"{statistics.median(r['p50'] for r in ours):>7.1f}{p99:>7.1f}{max(r['p99'] for r in ours):>7.1f}"
            f"{statistics.median(r['rps'] for r in floor):>7.0f}{statistics.median(r['p50'] for r in floor):>7.1f}"
            f"{floor_p99:>7.1f}{ratio:>7.2f}{' '.join(f'{r:.2f}' for r in ratios):>22}{p99_factor:>7.2f}"
            f"{target:>16}{failed:>7}" + (f"  socket errors: {errors}" if errors else "")
        )
    print(
        f"req/s and latencies (ms) are medians of the slices; ratio: median of the slices' ours/floor; "
        f"targets: that ratio and p99 at most {TARGET_P99_FACTOR:g}x the floor's"
    )


if __name__ == "__main__":
    main()
