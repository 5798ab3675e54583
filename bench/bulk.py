"""Bulk load benchmark: import_customers and POST /api/upload-customers against PostgreSQL's own COPY.

    .venv/bin/python bench/bulk.py [--rows 200000] [--sample 2000] [--rounds 2] [--port 8310]

Generates N realistic customers (names, emails, phones in several national formats, tags, an
address), creates a fresh PostgreSQL database (twc_bench_bulk or BENCH_BULK_DB, dropped at the end), and
measures:

1. the floor: raw binary COPY of the same rows, already normalised, into tables of the same shape
   and indexes (CREATE TABLE ... LIKE ... INCLUDING ALL);
2. `manage.py import_customers` of the rows as a Shopify customer export (CSV), with its peak memory;
3. the upload endpoint over HTTP against gunicorn (2 workers), in 10,000-item requests, --clients at a time;
4. the reference: DRF's ModelSerializer(many=True) on a smaller sample (one INSERT per row).

Runs the four in rounds (--rounds, default 2) and keeps each figure's best, then prints the ratios.
Targets (issue #14, with an event recorded per customer written): import >= 0.35 x floor, endpoint
>= 0.25 x floor with one client (--clients 1), each the median of the rounds' ratios (each round's
figure against the floor measured just before it); and (issue #3) each >= 15 x the ModelSerializer
baseline. CPU-bound: other work on the machine lowers every figure, the floor
included; the ratios are measured in the same run.
"""

import argparse
import csv
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from pathlib import Path

import orjson
import psycopg
from psycopg.types.json import set_json_dumps

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_BULK_DB", "twc_bench_bulk")
DATABASE_URL = f"{SERVER}/{DB_NAME}"
STORE = "Bench Store"

FIRST = "Ann Bo Cé Dee Eve Fay Gus Hal Ivy Jo Kim Lee Max Noor Oli Pia Quinn Ravi Sam Tess Uma Vic Wen Xavi Yara Zoe"
LAST = "Smith Li Dupont Ray Stone North West Moon Lee Tremblay Roy Gagnon Côté Wilson Singh Nguyen Brown Martin"
CITIES = [("Ottawa", "ON", "K1A 0B1"), ("Toronto", "ON", "M5V 2T6"), ("Montréal", "QC", "H2X 1Y4"),
          ("Vancouver", "BC", "V6B 1A1"), ("Halifax", "NS", "B3H 1A1"), ("Calgary", "AB", "T2P 1J9")]  # fmt: skip
AREA_CODES = ["613", "416", "514", "604", "902", "403", "647", "905", "519", "705",
              "343", "437", "438", "450", "778", "250", "587", "780", "306", "204"]  # fmt: skip
TAGS = ["vip", "newsletter", "wholesale", "returning", "b2b", "summer-sale", "loyalty", "Toronto", "gift"]
SHOPIFY_HEADER = [
    "Customer ID", "First Name", "Last Name", "Email", "Accepts Email Marketing", "Default Address Company",
    "Default Address Address1", "Default Address Address2", "Default Address City", "Default Address Province Code",
    "Default Address Country Code", "Default Address Zip", "Default Address Phone", "Phone", "Accepts SMS Marketing",
    "Total Spent", "Total Orders", "Note", "Tax Exempt", "Tags",
]  # fmt: skip


def ascii_name(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


def generate(rows: int, seed: int = 7) -> list[dict]:
    """Customers as a shop would upload them; phones unique, in several national formats."""
    rng = random.Random(seed)
    first, last = FIRST.split(), LAST.split()
    customers = []
    for i in range(rows):
        fn, ln = rng.choice(first), rng.choice(last)
        area = AREA_CODES[i % len(AREA_CODES)]
        line = i // len(AREA_CODES)  # unique per area code up to 20 x 80,000 rows
        exchange, subscriber = 200 + line // 10_000, line % 10_000
        style = i % 5
        phone = [
            f"+1{area}{exchange}{subscriber:04d}",
            f"{area}-{exchange}-{subscriber:04d}",
            f"+1 ({area}) {exchange}-{subscriber:04d}",
            f"({area}) {exchange} {subscriber:04d}",
            None,
        ][style]
        city, province, postal = rng.choice(CITIES)
        item = {
            "id": f"sh-{7_000_000_000 + i}",
            "first_name": fn,
            "last_name": ln,
            "email": f"{ascii_name(fn)}.{ascii_name(ln)}{i}@example{i % 13}.com",
            "accepts_marketing": rng.random() < 0.4,
            "tags": ", ".join(rng.sample(TAGS, rng.randint(0, 3))),
            "tax_exempt": rng.random() < 0.02,
            "note": "" if rng.random() < 0.8 else "Prefers email; call after 5pm",
            "addresses": [
                {
                    "company": "" if rng.random() < 0.7 else f"{ln} Inc.",
                    "address1": f"{rng.randint(1, 999)} {rng.choice(['Main', 'King', 'Queen', 'Bank'])} St",
                    "city": city,
                    "province_code": province,
                    "country_code": "CA",
                    "zip": postal,
                    "default": True,
                }
            ],
        }
        if phone:
            item["phone"] = phone
        customers.append(item)
    return customers


def write_shopify_csv(customers: list[dict], path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(SHOPIFY_HEADER)
        for c in customers:
            a = c["addresses"][0]
            yes_no = {True: "yes", False: "no"}
            writer.writerow([
                "'" + c["id"].removeprefix("sh-"), c["first_name"], c["last_name"], c["email"],
                yes_no[c["accepts_marketing"]], a["company"], a["address1"], "", a["city"], a["province_code"],
                a["country_code"], "'" + a["zip"], "", "'" + c["phone"] if c.get("phone") else "", "no",
                "0.00", "0", c["note"], yes_no[c["tax_exempt"]], c["tags"],
            ])  # fmt: skip
    for c in customers:  # the import names customers by the Shopify id, without our "sh-" prefix
        c["id"] = c["id"].removeprefix("sh-")


def manage(*args: str, capture: bool = True) -> str:
    env = dict(os.environ, DATABASE_URL=DATABASE_URL)
    done = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=capture, text=True
    )
    return done.stdout if capture else ""


def admin_sql(sql: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def floor(conn, customers: list[dict]) -> float:
    """Raw COPY of the already-normalised rows into tables shaped and indexed as ours."""
    import uuid
    from datetime import UTC, datetime

    from customers.phones import normalize_phone

    now = datetime.now(UTC)
    store_id = conn.execute("SELECT id FROM tenants_store WHERE name = %s", [STORE]).fetchone()[0]
    conn.execute("CREATE TABLE floor_customer (LIKE customers_customer INCLUDING ALL)")
    conn.execute("CREATE TABLE floor_address (LIKE customers_address INCLUDING ALL)")
    customer_rows, address_rows = [], []
    for seq, c in enumerate(customers, start=1):
        phone = normalize_phone(c["phone"], "CA") if c.get("phone") else None
        customer_rows.append((
            seq, uuid.uuid4(), store_id, c["id"], c["email"], c["email"].casefold(), phone, c["first_name"],
            c["last_name"], c["note"], "disabled", False, "", c["accepts_marketing"],
            now if c["accepts_marketing"] else None, None, None, "CAD", c["tax_exempt"], [], c["tags"], 0, 0,
            None, None, 1, now, now, None, None, False, {}, {},
        ))  # fmt: skip
        a = c["addresses"][0]
        address_rows.append((seq, seq, "", "", a["company"], a["address1"], "", a["city"], "", a["province_code"], "",
                             a["country_code"], a["zip"], "", "", True))  # fmt: skip
    customer_columns = (
        "seq, twc_customer_id, store_id, ref, email, email_key, phone, first_name, last_name, note, state, "
        "verified_email, password, accepts_marketing, accepts_marketing_updated_at, marketing_opt_in_level, "
        "multipass_identifier, currency, tax_exempt, tax_exemptions, tags, orders_count, total_spent, "
        "last_order_id, last_order_name, version, created_at, updated_at, deleted_at, erased_at, disabled_by_staff, "
        "metadata, private_metadata"
    )
    address_columns = (
        "id, customer_id, first_name, last_name, company, address1, address2, city, province, province_code, "
        "country, country_code, zip, phone, name, is_default"
    )
    customer_types, address_types = (column_oids(conn, table, columns) for table, columns in (
        ("floor_customer", customer_columns), ("floor_address", address_columns)))  # fmt: skip
    started = time.perf_counter()
    # Binary COPY, as the bulk write's: PostgreSQL's fastest load of these rows.
    with conn.transaction(), conn.cursor() as cursor:
        set_json_dumps(orjson.dumps, context=cursor)
        with cursor.copy(f"COPY floor_customer ({customer_columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(customer_types)
            for row in customer_rows:
                copy.write_row(row)
        with cursor.copy(f"COPY floor_address ({address_columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(address_types)
            for row in address_rows:
                copy.write_row(row)
    elapsed = time.perf_counter() - started
    conn.execute("DROP TABLE floor_customer, floor_address")
    return len(customers) / elapsed


def column_oids(conn, table: str, columns: str) -> list[int]:
    """The columns' type oids, in the order given (binary COPY needs them)."""
    names = [name.strip() for name in columns.split(",")]
    found = dict(
        conn.execute(
            "SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0", [table]
        ).fetchall()
    )
    return [found[name] for name in names]


# VmHWM, not getrusage: across fork + exec, ru_maxrss keeps the parent's high-water mark (this
# process holds every generated row), while VmHWM is the import's own.
PEAK_MEMORY_WRAPPER = (
    "import sys; from django.core.management import execute_from_command_line\n"
    "try:\n    execute_from_command_line(['manage.py'] + sys.argv[1:])\n"
    "finally:\n"
    "    import resource\n"
    "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
    "    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "    print('peak_rss_kb', hwm, workers, file=sys.stderr)\n"
)


def run_import(path: Path) -> tuple[float, int, int, str]:
    env = dict(os.environ, DATABASE_URL=DATABASE_URL, DJANGO_SETTINGS_MODULE="twc.settings", PYTHONPATH=str(ROOT))
    started = time.perf_counter()
    done = subprocess.run(
        [PYTHON, "-c", PEAK_MEMORY_WRAPPER, "import_customers", str(path), "--store", STORE, "--no-progress"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    peak_kb, worker_peak_kb = (int(v) for v in done.stderr.rsplit("peak_rss_kb", 1)[1].split()[:2])
    return elapsed, peak_kb, worker_peak_kb, done.stdout


def run_endpoint(customers: list[dict], port: int, credentials: dict, clients: int = 2) -> tuple[float, dict]:
    import requests

    env = dict(os.environ, DATABASE_URL=DATABASE_URL, LOG_LEVEL="WARNING")  # no request log lines in the figures
    gunicorn = Path(PYTHON).with_name("gunicorn")
    server = subprocess.Popen(
        [
            str(gunicorn),
            "twc.wsgi:application",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "2",
            "--timeout",
            "300",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            if server.poll() is not None:
                raise RuntimeError("gunicorn did not start")
            try:
                requests.get(f"{base}/admin/login/", timeout=10)
                break
            except requests.RequestException:
                time.sleep(0.2)
        token = requests.post(
            f"{base}/o/token/",
            data={"grant_type": "client_credentials"},
            auth=(credentials["client_id"], credentials["client_secret"]),
            timeout=30,
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        bodies = [orjson.dumps(customers[i : i + 10_000]) for i in range(0, len(customers), 10_000)]
        totals = {"created": 0, "failed": 0, "requests": 0}
        lock = threading.Lock()
        queue = list(reversed(bodies))

        def client():
            session = requests.Session()
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                response = session.post(f"{base}/api/upload-customers", data=body, headers=headers, timeout=300)
                report = response.json()
                with lock:
                    totals["created"] += report["created"]
                    totals["failed"] += report["failed"]
                    totals["requests"] += 1

        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started, totals
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_model_serializer(customers: list[dict]) -> float:
    """The reference: DRF's ModelSerializer(many=True), one INSERT per row."""
    from django.utils import timezone
    from rest_framework import serializers

    from customers.models import Customer
    from tenants.models import Store

    class CustomerSerializer(serializers.ModelSerializer):
        class Meta:
            model = Customer
            fields = ["ref", "email", "phone", "first_name", "last_name", "note", "accepts_marketing", "tags"]

    store = Store.objects.get(name=STORE)
    data = [
        {
            "ref": f"ms-{i}",
            "email": f"ms{i}@example.com",
            "phone": None,
            "first_name": c["first_name"],
            "last_name": c["last_name"],
            "note": c["note"],
            "accepts_marketing": c["accepts_marketing"],
            "tags": c["tags"],
        }
        for i, c in enumerate(customers)
    ]
    started = time.perf_counter()
    serializer = CustomerSerializer(data=data, many=True)
    serializer.is_valid(raise_exception=True)
    now = timezone.now()
    serializer.save(store=store, currency="CAD", created_at=now, updated_at=now)
    elapsed = time.perf_counter() - started
    Customer.objects.filter(store=store, ref__startswith="ms-").delete()
    return len(data) / elapsed


def truncate(conn) -> None:
    conn.execute("TRUNCATE customers_address, customers_customer CASCADE")
    conn.execute("ANALYZE")


def setup_django() -> None:
    os.environ["DATABASE_URL"] = DATABASE_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "twc.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--sample", type=int, default=2_000, help="rows for the ModelSerializer baseline")
    parser.add_argument("--rounds", type=int, default=2, help="each figure is the best of this many runs")
    parser.add_argument("--port", type=int, default=8310)
    parser.add_argument("--clients", type=int, default=1, help="upload requests in flight at once")
    args = parser.parse_args()

    print(f"bulk benchmark: {args.rows:,} customers, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    setup_django()
    customers = generate(args.rows)
    admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    admin_sql(f"CREATE DATABASE {DB_NAME}")
    # Rounds of all four measurements, each figure the best of its runs: the machine's speed drifts
    # by a fifth within a minute (a fixed CPU loop timed here), and rounds spread every figure
    # over the same stretch of time instead of giving one of them a fast or a slow moment.
    runs: dict[str, list[float]] = {"floor": [], "import": [], "endpoint": [], "serializer": []}
    peak_kb = worker_peak_kb = 0
    try:
        manage("migrate", "--noinput", "-v0")
        credentials = orjson.loads(
            manage("create_store", STORE, "--tenant", "Bench", "--country", "CA", "--currency", "CAD", "--json")
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "shopify_export.csv"
            write_shopify_csv(customers, path)
            size_mb = path.stat().st_size / 1e6
            with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
                for round_number in range(1, args.rounds + 1):
                    print(f"  round {round_number}:")
                    runs["floor"].append(floor(conn, customers))
                    print(f"    floor (raw COPY, customers + addresses) {runs['floor'][-1]:>9,.0f} rows/s")

                    elapsed, peak, worker_peak, output = run_import(path)
                    runs["import"].append(args.rows / elapsed)
                    peak_kb, worker_peak_kb = max(peak_kb, peak), max(worker_peak_kb, worker_peak)
                    summary = [line for line in output.splitlines() if line.startswith("created")]
                    print(f"    import_customers ({size_mb:.0f} MB Shopify CSV) {runs['import'][-1]:>8,.0f} rows/s   "
                          f"{summary[0] if summary else output.strip()}")  # fmt: skip
                    landed = conn.execute("SELECT count(*) FROM customers_customer").fetchone()[0]
                    assert landed == args.rows, f"only {landed} of {args.rows} rows landed"
                    truncate(conn)

                    elapsed, totals = run_endpoint(customers, args.port, credentials, clients=args.clients)
                    runs["endpoint"].append(args.rows / elapsed)
                    print(f"    upload endpoint (HTTP, 10,000/request, {args.clients} client(s)) "
                          f"{runs['endpoint'][-1]:>8,.0f} rows/s   "
                          f"{totals['requests']} requests, created {totals['created']:,}, "
                          f"failed {totals['failed']:,}")  # fmt: skip
                    assert totals["created"] == args.rows
                    truncate(conn)

                    runs["serializer"].append(run_model_serializer(customers[: args.sample]))
                    print(
                        f"    ModelSerializer(many=True), {args.sample:,} rows {runs['serializer'][-1]:>9,.0f} rows/s"
                    )
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001 - Django may not be set up
            pass
        admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")

    floor_rate, import_rate, endpoint_rate, serializer_rate = (max(runs[k]) for k in runs)
    print(f"  best of {args.rounds}:")
    print(f"    floor (raw COPY)          {floor_rate:>9,.0f} rows/s")
    print(f"    import_customers          {import_rate:>9,.0f} rows/s  {import_rate / floor_rate:5.2f} x floor  "
          f"{import_rate / serializer_rate:5.1f} x ModelSerializer   peak memory {peak_kb / 1024:.0f} MB "
          f"(+ {worker_peak_kb / 1024:.0f} MB per worker)")  # fmt: skip
    print(f"    upload endpoint           {endpoint_rate:>9,.0f} rows/s  {endpoint_rate / floor_rate:5.2f} x floor  "
          f"{endpoint_rate / serializer_rate:5.1f} x ModelSerializer")  # fmt: skip
    print(f"    ModelSerializer(many=True) {serializer_rate:>8,.0f} rows/s")
    # Each round's ratios against the floor measured just before them: a neighbour's load weighs on
    # both alike; the median of the rounds is the figure to compare with the targets.
    import_ratios = [i / f for i, f in zip(runs["import"], runs["floor"], strict=True)]
    endpoint_ratios = [e / f for e, f in zip(runs["endpoint"], runs["floor"], strict=True)]
    import_ratio, endpoint_ratio = statistics.median(import_ratios), statistics.median(endpoint_ratios)
    print(f"  per round: import / floor {' '.join(f'{r:.2f}' for r in import_ratios)} (median {import_ratio:.2f}); "
          f"upload / floor {' '.join(f'{r:.2f}' for r in endpoint_ratios)} (median {endpoint_ratio:.2f})")  # fmt: skip
    checks = [
        ("import >= 0.35 x floor (median of rounds)", import_ratio >= 0.35),
        (f"endpoint >= 0.25 x floor with {args.clients} client(s) (median of rounds)", endpoint_ratio >= 0.25),
        ("import >= 15 x ModelSerializer", import_rate >= 15 * serializer_rate),
        ("endpoint >= 15 x ModelSerializer", endpoint_rate >= 15 * serializer_rate),
    ]
    for label, ok in checks:
        print(f"  {'met ' if ok else 'MISSED'}  {label}")


if __name__ == "__main__":
    main()
