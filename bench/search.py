"""Search benchmark: GET /api/customers/search on a store of 1,000,000 customers, against the list's own
indexed `GET /api/customers?email=` lookup measured in the same run.

    .venv/bin/python bench/search.py [--customers 1000000] [--others 500000] [--samples 15] [--rounds 2]
                                     [--port 8450] [--keep] [--explain]

Creates its own PostgreSQL database (twc_bench_search), migrates it, creates one big store and 10
neighbours (--others customers among them, 200k down to 5k), and seeds them with binary COPY
(indexes dropped during the load and rebuilt after it, then ANALYZE): names drawn from weighted
lists, unique emails and phones, tags, a default address in one of ten countries for 9 in 10,
metadata for half, order figures, created_at spread over eight years. Then it serves the service
with gunicorn (1 sync worker, production settings, Redis rate limiting) and measures over HTTP, one
request at a time, the median and p95 of every query kind of the contract's search, alternating
each search request with a floor request (`GET /api/customers?email=` of a random customer), so
that a busy neighbour slows both alike; each kind's values are drawn from the seeded data (a hit
most of the time). Targets (issue #15): every single-field query < 50 ms, a bare word < 100 ms at
the median. `--keep` leaves the database for the next run (seeding takes minutes) and reuses it if
it is there; `--explain` prints each kind's EXPLAIN ANALYZE instead of timing it.
"""

import argparse
import datetime as dt
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import orjson
import psycopg
from psycopg.types.json import Jsonb, set_json_dumps

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_DB", "twc_bench_search")
DATABASE_URL = f"{SERVER}/{DB_NAME}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/9"
BIG_STORE = "Search Bench Store"
OTHER_SIZES = [0.40, 0.20, 0.12, 0.08, 0.06, 0.05, 0.04, 0.02, 0.02, 0.01]

FIRST = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan Joseph "
    "Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Sandra Mark Margaret "
    "Donald Ashley Steven Kimberly Andrew Emily Paul Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa "
    "George Deborah Timothy Stephanie Ronald Rebecca Jason Sharon Edward Laura Jeffrey Cynthia Ryan Dorothy Jacob "
    "Amy Gary Kathleen Nicholas Angela Eric Shirley Jonathan Emma Stephen Brenda Larry Pamela Justin Nicole Scott "
    "Anna Brandon Samantha Benjamin Katherine Samuel Christine Gregory Debra Alexander Rachel Patrick Carolyn Frank "
    "Janet Raymond Maria Jack Olivia Dennis Heather Jerry Helen Tyler Catherine Aaron Diane Jose Julie Adam Victoria "
    "Nathan Joyce Henry Lauren Zachary Kelly Douglas Christina Peter Ruth Kyle Joan Noah Virginia Ethan Judith "
    "Jeremy Evelyn Walter Hannah Christian Andrea Keith Megan Roger Cheryl Terry Jacqueline Austin Madison Sean "
    "Teresa Gerald Abigail Carl Sophia Harold Martha Dylan Sara Arthur Gloria Lawrence Janice Jordan Kathryn Jesse "
    "Ann Bryan Marie Liam Chloé Étienne Léa Mathéo Zoé Noémie Jürgen Søren Siobhán Aoife Raj Priya Wei Mei Hiro "
    "Yuki Ahmed Fatima Omar Leila Mateo Sofía Lucía Diego Giulia Luca Lars Ingrid Olga Ivan Nguyen Kwame Amara"
).split()
LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson "
    "Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson "
    "Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell "
    "Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris "
    "Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward "
    "Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders "
    "Patel Myers Long Ross Foster Jimenez Tremblay Gagnon Roy Côté Bouchard Gauthier Morin Lavoie Fortin Gagné "
    "Ouellet Pelletier Bélanger Lévesque Bergeron Leblanc Paquette Girard Simard Boucher Caron Beaulieu Cloutier "
    "Dubé Poirier Fournier Lapointe Leclerc Lefebvre Poulin Thibault St-Pierre Nadeau Martel Mercier Dupont Müller "
    "Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann O'Brien O'Neill MacDonald Singh Kaur Sharma "
    "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Tanaka Suzuki Sato Takahashi Watanabe Rossi Russo Ferrari "
    "Esposito Bianchi Silva Santos Oliveira Souza Costa Pereira Kowalski Nowak Novak Horvat Jensen Nielsen Hansen "
    "Andersen Larsen Johansson Karlsson Nilsson Eriksson Annan Mensah Okafor Adeyemi"
).split()
DOMAINS = ["gmail.com"] * 30 + ["yahoo.com"] * 8 + ["hotmail.com"] * 8 + ["outlook.com"] * 6 + ["icloud.com"] * 5 + [
    "videotron.ca", "sympatico.ca", "shaw.ca", "rogers.com", "bell.net", "orange.fr", "free.fr", "web.de",
    "gmx.de", "btinternet.com", "proton.me", "fastmail.com", "acme-corp.com", "northwind.io", "example.org",
]  # fmt: skip
# (code, name, weight, [(city, province code, province name)], phone country code)
COUNTRIES = [
    ("CA", "Canada", 46, [("Toronto", "ON", "Ontario"), ("Ottawa", "ON", "Ontario"), ("Montréal", "QC", "Quebec"),
                          ("Québec", "QC", "Quebec"), ("Vancouver", "BC", "British Columbia"),
                          ("Victoria", "BC", "British Columbia"), ("Calgary", "AB", "Alberta"),
                          ("Edmonton", "AB", "Alberta"), ("Winnipeg", "MB", "Manitoba"),
                          ("Halifax", "NS", "Nova Scotia"), ("Regina", "SK", "Saskatchewan"),
                          ("Saint John", "NB", "New Brunswick"), ("Kingston", "ON", "Ontario"),
                          ("Sherbrooke", "QC", "Quebec"), ("Whitehorse", "YT", "Yukon")], "1"),
    ("US", "United States", 24, [("New York", "NY", "New York"), ("Los Angeles", "CA", "California"),
                                 ("San Francisco", "CA", "California"), ("Chicago", "IL", "Illinois"),
                                 ("Houston", "TX", "Texas"), ("Austin", "TX", "Texas"), ("Seattle", "WA", "Washington"),
                                 ("Boston", "MA", "Massachusetts"), ("Miami", "FL", "Florida"),
                                 ("Denver", "CO", "Colorado"), ("Portland", "OR", "Oregon"),
                                 ("Burlington", "VT", "Vermont")], "1"),
    ("GB", "United Kingdom", 8, [("London", "ENG", "England"), ("Manchester", "ENG", "England"),
                                 ("Edinburgh", "SCT", "Scotland"), ("Cardiff", "WLS", "Wales"),
                                 ("Belfast", "NIR", "Northern Ireland")], "44"),
    ("FR", "France", 6, [("Paris", "IDF", "Île-de-France"), ("Lyon", "ARA", "Auvergne-Rhône-Alpes"),
                         ("Marseille", "PAC", "Provence-Alpes-Côte d'Azur"), ("Nantes", "PDL", "Pays de la Loire")],
     "33"),
    ("DE", "Germany", 5, [("Berlin", "BE", "Berlin"), ("Munich", "BY", "Bavaria"), ("Hamburg", "HH", "Hamburg"),
                          ("Köln", "NW", "North Rhine-Westphalia")], "49"),
    ("AU", "Australia", 4, [("Sydney", "NSW", "New South Wales"), ("Melbourne", "VIC", "Victoria"),
                            ("Brisbane", "QLD", "Queensland")], "61"),
    ("JP", "Japan", 2, [("Tokyo", "13", "Tokyo"), ("Osaka", "27", "Osaka")], "81"),
    ("MX", "Mexico", 2, [("Mexico City", "CMX", "Ciudad de México"), ("Guadalajara", "JAL", "Jalisco")], "52"),
    ("IT", "Italy", 2, [("Rome", "RM", "Roma"), ("Milan", "MI", "Milano")], "39"),
    ("IS", "Iceland", 1, [("Reykjavík", "", "")], "354"),
]  # fmt: skip
TAGS = [("newsletter", 30), ("vip", 12), ("wholesale", 4), ("returning", 25), ("b2b", 3), ("summer-sale", 10),
        ("black-friday", 8), ("loyalty", 15), ("gift", 6), ("Toronto", 3), ("influencer", 1), ("staff", 0.3),
        ("do-not-contact", 0.5), ("pos", 7), ("app", 9), ("referral", 2), ("vip gold", 0.8)]  # fmt: skip
AREA_CODES = ["613", "416", "514", "604", "212", "415", "312", "617"]
TIERS = [("bronze", 50), ("silver", 25), ("gold", 10), ("platinum", 2)]
STATES = [("disabled", 80), ("enabled", 15), ("invited", 3), ("declined", 2)]
START = dt.datetime(2019, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def ascii_word(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace("'", "")


def weighted(pairs):
    values, weights = zip(*pairs, strict=True)
    return list(values), list(weights)


def zipf_weights(count: int) -> list[float]:
    return [1 / (rank + 8) for rank in range(count)]


def generate_store(rng: random.Random, *, store_id: int, count: int, seq_start: int, address_start: int):
    """(customer rows by column name, address rows by column name) of one store."""
    first_weights, last_weights = zipf_weights(len(FIRST)), zipf_weights(len(LAST))
    country_weights = [c[2] for c in COUNTRIES]
    tag_values, tag_weights = weighted(TAGS)
    tier_values, tier_weights = weighted(TIERS)
    state_values, state_weights = weighted(STATES)
    firsts = rng.choices(FIRST, first_weights, k=count)
    lasts = rng.choices(LAST, last_weights, k=count)
    countries = rng.choices(COUNTRIES, country_weights, k=count)
    states = rng.choices(state_values, state_weights, k=count)
    span = (END - START).total_seconds()
    customers, addresses = [], []
    for i in range(count):
        seq = seq_start + i
        first, last = firsts[i], lasts[i]
        country = countries[i]
        created = START + dt.timedelta(seconds=span * (i + rng.random()) / count)
        updated = min(END, created + dt.timedelta(days=rng.expovariate(1 / 120)))
        orders = 0 if rng.random() < 0.45 else min(500, int(rng.expovariate(1 / 4)) + 1)
        spent = Decimal(round(orders * rng.uniform(15, 160), 2)).quantize(Decimal("0.01"))
        email = None
        if rng.random() < 0.92:
            email = f"{ascii_word(first)}.{ascii_word(last)}{i}@{rng.choice(DOMAINS)}"
        phone = None
        if rng.random() < 0.7:
            # Unique per store: the number's digits follow from i.
            if country[4] == "1":
                phone = f"+1{rng.choice(AREA_CODES)}{2 + i % 8}{i % 10**6:06d}"
            else:
                phone = f"+{country[4]}{rng.choice('2345678')}{(i * 7919) % 10**9:09d}"[:16]
        tags = list(dict.fromkeys(rng.choices(tag_values, tag_weights, k=rng.choice([0, 0, 1, 1, 2, 3, 4]))))
        metadata = {}
        if rng.random() < 0.5:
            metadata = {"loyalty_tier": rng.choices(tier_values, tier_weights)[0], "crm_id": f"CRM-{store_id}-{i}"}
            if rng.random() < 0.3:
                metadata["consent_source"] = rng.choice(["checkout", "pos", "popup", "import"])
        marketing = rng.random() < 0.4
        customers.append({
            "seq": seq, "twc_customer_id": uuid.UUID(int=rng.getrandbits(128), version=4), "store_id": store_id,
            "ref": str(7_000_000_000 + i), "email": email, "email_key": email, "phone": phone,
            "first_name": first, "last_name": last, "note": "", "state": states[i], "verified_email": email is not None,
            "password": "", "disabled_by_staff": False, "accepts_marketing": marketing,
            "accepts_marketing_updated_at": created if marketing else None,
            "marketing_opt_in_level": "single_opt_in" if marketing else None, "multipass_identifier": None,
            "currency": "CAD", "tax_exempt": False, "tax_exemptions": Jsonb([]), "tags": ", ".join(tags),
            "metadata": Jsonb(metadata), "private_metadata": Jsonb({}), "orders_count": orders, "total_spent": spent,
            "last_order_id": None, "last_order_name": f"#{1000 + i}" if orders else None, "version": 1,
            "created_at": created, "updated_at": updated, "deleted_at": None, "erased_at": None,
        })  # fmt: skip
        if rng.random() < 0.9:
            city, province_code, province = rng.choice(country[3])
            addresses.append({
                "id": address_start + len(addresses), "customer_id": seq, "first_name": first, "last_name": last,
                "company": "", "address1": f"{rng.randint(1, 9999)} {rng.choice(['Main', 'King', 'Oak', 'Elm'])} St",
                "address2": "", "city": city, "province": province, "province_code": province_code,
                "country": country[1], "country_code": country[0], "zip": f"{rng.randint(10000, 99999)}",
                "phone": "", "name": f"{first} {last}", "is_default": True,
            })  # fmt: skip
    return customers, addresses


def admin_sql(sql: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def database_exists() -> bool:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone() is not None


def manage(*args: str) -> str:
    env = dict(os.environ, DATABASE_URL=DATABASE_URL)
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def copy_rows(conn, table: str, rows: list[dict]) -> None:
    found = conn.execute(
        "SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum",
        [table],
    ).fetchall()
    # Columns another branch adds (nullable) are left to their defaults.
    columns = [(name, oid) for name, oid in found if name in rows[0]]
    names = ", ".join(name for name, _ in columns)
    with conn.cursor() as cursor:
        set_json_dumps(orjson.dumps, context=cursor)
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([oid for _, oid in columns])
            for row in rows:
                copy.write_row([row[name] for name, _ in columns])


def seed(customers: int, others: int) -> None:
    """The stores (through the service, for their OAuth applications) and their customers (COPY)."""
    setup_django()
    from tenants.services import store_create

    sizes = [customers] + [max(1, int(others * share)) for share in OTHER_SIZES]
    stores = [store_create(name=BIG_STORE, tenant_name="Search Bench", country="CA", currency="CAD").store]
    for number in range(1, len(sizes)):
        stores.append(store_create(name=f"Neighbour {number}", tenant_name=f"Neighbour {number}", country="CA",
                                   currency="CAD").store)  # fmt: skip
    from django.db import connections

    connections.close_all()
    rng = random.Random(15)
    started = time.perf_counter()
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        indexes = conn.execute(
            # Every index but those of constraints (the primary keys, twc_customer_id's UNIQUE).
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.tablename IN ('customers_customer', 'customers_address') AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.indexname))::regclass)"
        ).fetchall()
        for name, _definition in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        seq, address_id = 1, 1
        with conn.transaction():
            # Foreign keys are the rows' own (addresses of the customers just written): skip their triggers.
            conn.execute("SET LOCAL session_replication_role = replica")
            for store, size in zip(stores, sizes, strict=True):
                rows, addresses = generate_store(rng, store_id=store.pk, count=size, seq_start=seq,
                                                 address_start=address_id)  # fmt: skip
                copy_rows(conn, "customers_customer", rows)
                copy_rows(conn, "customers_address", addresses)
                seq += size
                address_id += len(addresses)
                print(f"  seeded {store.name}: {size:,} customers ({time.perf_counter() - started:.0f} s)", flush=True)
        for table, column in (("customers_customer", "seq"), ("customers_address", "id")):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), (SELECT max({column}) FROM {table}))"
            )
        for name, definition in indexes:
            began = time.perf_counter()
            conn.execute(definition)
            print(f"  index {name}: {time.perf_counter() - began:.1f} s", flush=True)
        conn.execute("VACUUM ANALYZE customers_customer")
        conn.execute("VACUUM ANALYZE customers_address")
        conn.execute("ANALYZE")
    print(f"  seeded {sum(sizes):,} customers in {time.perf_counter() - started:.0f} s", flush=True)


def setup_django() -> None:
    os.environ["DATABASE_URL"] = DATABASE_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "twc.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- the queries -------------------------------------------------------------------------------


@dataclass
class Kind:
    name: str
    queries: list[str]
    target_ms: float | None = 50.0


def sample_values(conn, store_id: int, rng: random.Random) -> dict[str, list]:
    """Values of real customers of the big store, for queries that find someone."""
    rows = conn.execute(
        "SELECT c.email, c.phone, c.first_name, c.last_name, c.ref, c.metadata->>'crm_id', a.city "
        "FROM customers_customer c LEFT JOIN customers_address a ON a.customer_id = c.seq AND a.is_default "
        "WHERE c.store_id = %s AND c.seq %% 997 = 0 AND c.email IS NOT NULL AND c.phone IS NOT NULL "
        "AND c.metadata ? 'crm_id' LIMIT 400",
        [store_id],
    ).fetchall()
    rng.shuffle(rows)
    return {
        "email": [r[0] for r in rows],
        # Only the North American numbers: the seeded ones of other countries are not all dialable.
        "phone": [r[1] for r in rows if r[1].startswith("+1")],
        "first_name": [r[2] for r in rows],
        "last_name": [r[3] for r in rows],
        "ref": [r[4] for r in rows],
        "crm_id": [r[5] for r in rows],
        "city": [r[6] for r in rows if r[6]],
    }


def national(phone: str) -> str:
    """An E.164 number as a person types it: (613) 555-0101 for North America, else its digits."""
    if phone.startswith("+1") and len(phone) == 12:
        return f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
    return phone


def quoted(value: str) -> str:
    return f'"{value}"' if " " in value or "'" in value else value


def kinds(values: dict[str, list], rng: random.Random, count: int) -> list[Kind]:
    def pick(name: str) -> list:
        return [values[name][i % len(values[name])] for i in range(count)]

    def each(make) -> list[str]:
        return [make(i) for i in range(count)]

    months = [f"2019-{m:02d}-01" for m in range(1, 13)] + [f"2026-{m:02d}-01" for m in range(1, 12)]
    words = [name.lower()[:4] for name in pick("last_name")]
    rare_words = ["zyx", "qqq", "xylo", "Kwame", "Okafor", "Adeyemi", "Whitehorse", "Søren"]
    return [
        Kind("email", [f"email:{e}" for e in pick("email")]),
        Kind("phone (typed nationally)", [f"phone:{quoted(national(p))}" for p in pick("phone")]),
        Kind("first_name", [f"first_name:{quoted(v)}" for v in pick("first_name")]),
        Kind("last_name", [f"last_name:{quoted(v)}" for v in pick("last_name")]),
        Kind("id", [f"id:{v}" for v in pick("ref")]),
        Kind("state (rare: declined)", each(lambda i: ["state:declined", "state:invited"][i % 2])),
        Kind("state (common: enabled)", each(lambda i: "state:enabled")),
        Kind("tag (common)", each(lambda i: ["tag:newsletter", "tag:vip", "tag:returning"][i % 3])),
        Kind("tag (rare)", each(lambda i: ["tag:staff", "tag:influencer", "tag:do-not-contact"][i % 3])),
        Kind("tag_not", each(lambda i: ["tag_not:newsletter", "tag_not:vip"][i % 2])),
        Kind("accepts_marketing", each(lambda i: ["accepts_marketing:true", "accepts_marketing:false"][i % 2])),
        Kind("country (code)", each(lambda i: ["country:CA", "country:us", "country:FR"][i % 3])),
        Kind(
            "country (rare, by name)", each(lambda i: ['country:"Iceland"', "country:japan", "country:mexico"][i % 3])
        ),
        Kind("province", each(lambda i: ["province:QC", "province:Yukon", "province:BY", "province:VT"][i % 4])),
        Kind("city", [f"city:{quoted(v)}" for v in pick("city")]),
        Kind("city (rare)", each(lambda i: ["city:Whitehorse", "city:Reykjavík", "city:Burlington"][i % 3])),
        Kind("orders_count:>N", each(lambda i: [f"orders_count:>{n}" for n in (2, 30, 60, 100)][i % 4])),
        Kind("total_spent:<N", each(lambda i: [f"total_spent:<{n}" for n in (10, 100, 2000)][i % 3])),
        Kind("total_spent:>N (rare)", each(lambda i: [f"total_spent:>{n}" for n in (8000, 15000)][i % 2])),
        Kind("created_at:>date", each(lambda i: f"created_at:>{months[i % len(months)]}")),
        Kind("created_at:<date (old)", each(lambda i: f"created_at:<2019-0{1 + i % 3}-15")),
        Kind("updated_at", each(lambda i: f"updated_at:<2019-0{2 + i % 3}-01")),
        Kind("metadata.KEY (rare)", [f"metadata.crm_id:{v}" for v in pick("crm_id")]),
        Kind(
            "metadata.KEY (common)",
            each(lambda i: ["metadata.loyalty_tier:gold", "metadata.loyalty_tier:platinum"][i % 2]),
        ),
        Kind("prefix value*", each(lambda i: [f"last_name:{w}*" for w in words][i] if i % 2 else f"email:{words[i]}*")),
        Kind("bare word", each(lambda i: words[i]), target_ms=100.0),
        Kind("bare word (rare)", each(lambda i: rare_words[i % len(rare_words)]), target_ms=100.0),
        Kind("bare word (digits)", [p[-7:] for p in pick("phone")], target_ms=100.0),
        Kind(
            "two bare words",
            [f"{f.lower()} {last.lower()[:3]}" for f, last in zip(pick("first_name"), pick("last_name"), strict=True)],
            target_ms=100.0,
        ),
        Kind("OR", [f"email:{e} OR id:{r}" for e, r in zip(pick("email"), pick("ref"), strict=True)], target_ms=None),
        Kind(
            "NOT / -",
            each(lambda i: ["-tag:newsletter state:enabled", "NOT country:CA accepts_marketing:true"][i % 2]),
            target_ms=None,
        ),
        Kind(
            "OR of fields (rare)",
            each(lambda i: ["tag:staff OR city:Whitehorse", "country:IS OR tag:influencer"][i % 2]),
            target_ms=None,
        ),
        Kind(
            "parentheses", each(lambda i: f"(tag:vip OR tag:b2b) -state:disabled orders_count:>{i % 5}"), target_ms=None
        ),
    ]


# --- the server ----------------------------------------------------------------------------------


def start_gunicorn(port: int) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=DATABASE_URL, REDIS_URL=REDIS_URL, LOG_LEVEL="WARNING", DEBUG="0")
    # The service's own 5 s cut would answer a slow plan 503: the benchmark wants its real time.
    env["DATABASE_STATEMENT_TIMEOUT_MS"] = "60000"
    gunicorn = Path(PYTHON).with_name("gunicorn")
    process = subprocess.Popen(
        [str(gunicorn), "twc.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "1", "--timeout", "120",
         "--log-level", "warning", "--chdir", str(ROOT)],
        env=env, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited")
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not listen")


def stop_gunicorn(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def store_token() -> tuple[int, str]:
    setup_django()
    from django.test import Client

    from tenants.models import Store
    from tenants.services import store_application_create

    store = Store.objects.get(name=BIG_STORE)
    creds = store_application_create(store=store)
    response = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials", "client_id": creds.client_id, "client_secret": creds.client_secret},
    )
    assert response.status_code == 200, response.content
    return store.pk, response.json()["access_token"]


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def deep_cursor(conn, store_id: int, depth: int) -> str:
    """The cursor of the `depth`-th newest customer of the store: the page after it is that deep."""
    setup_django()
    from customers.api import SEARCH_ORDERING
    from twc.api.pagination import encode_cursor

    created_at, seq = conn.execute(
        "SELECT created_at, seq FROM customers_customer WHERE store_id = %s AND deleted_at IS NULL "
        "ORDER BY created_at DESC, seq DESC OFFSET %s LIMIT 1",
        [store_id, depth],
    ).fetchone()
    return encode_cursor(SEARCH_ORDERING, created_at, seq, "next")


def explain(store_id: int, query: str) -> str:
    """Each statement that one search page runs (as the endpoint reads it), with its EXPLAIN ANALYZE."""
    setup_django()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from customers.api import SEARCH_ORDERING
    from customers.search.compiler import compile_search
    from customers.search.paging import search_rows
    from customers.selectors import customer_queryset
    from tenants.models import Store
    from twc.api.pagination import paginate

    store = Store.objects.get(pk=store_id)
    search = compile_search(query, store=store)
    scope = customer_queryset(store=store, with_addresses=True)
    with CaptureQueriesContext(connection) as captured:
        began = time.perf_counter()
        if search.stepped:
            paginate(scope, ordering=SEARCH_ORDERING, limit=50, cursor=None,
                     fetch=lambda ordered, count: search_rows(ordered, search.condition, count))  # fmt: skip
        else:
            paginate(scope.filter(search.condition), ordering=SEARCH_ORDERING, limit=50, cursor=None)
        elapsed = (time.perf_counter() - began) * 1000
    lines = [f"in-process page: {elapsed:.1f} ms, {len(captured.captured_queries)} statements"]
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        for statement in captured.captured_queries:
            sql = statement["sql"]
            lines.append(f"--- {statement['time']} s: {sql[:300]}")
            if "set_config" in sql:
                cursor.execute(sql)  # the planner settings of the statements that follow
            elif sql.startswith(("SELECT", "WITH")):
                cursor.execute("EXPLAIN ANALYZE " + sql.replace("%", "%%"))
                lines.extend(row[0] for row in cursor.fetchall())
    return "\n".join(lines)


def write_cost(rows: int, rounds: int) -> None:
    """What the search's indexes cost every write: binary COPY of the same customers and addresses
    into copies of the two tables indexed as before the search's indexes (migration 0008's trigram
    indexes) and as after them (0010's), alternately, `rounds` times each."""
    import importlib
    import re

    setup_django()
    before_trigram = importlib.import_module("customers.migrations.0008_search_trigram_indexes").INDEXES
    customers, addresses = generate_store(random.Random(3), store_id=1, count=rows, seq_start=1, address_start=1)
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        found = conn.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE tablename IN ('customers_customer', 'customers_address')"
        ).fetchall()
        for label in ("before", "after"):
            for table in ("customer", "address"):
                copy = f"wc_{label}_{table}"
                conn.execute(f"DROP TABLE IF EXISTS {copy}")
                conn.execute(f"CREATE TABLE {copy} (LIKE customers_{table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
            for table, name, definition in found:
                if "_srch_" in name and label == "before":
                    continue
                copy = f"wc_{label}_{table.removeprefix('customers_')}"
                definition = re.sub(r"INDEX (\S+) ON \S+", f"INDEX {name}_{label} ON {copy}", definition, count=1)
                conn.execute(definition)
        for name, expression in before_trigram.items():
            conn.execute(
                f"CREATE INDEX {name}_before ON wc_before_customer USING gin (({expression}) gin_trgm_ops) "
                "WHERE deleted_at IS NULL"
            )
        rates: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(rounds):
            for label in ("before", "after"):
                conn.execute(f"TRUNCATE wc_{label}_customer, wc_{label}_address")
                began = time.perf_counter()
                with conn.transaction():
                    copy_rows(conn, f"wc_{label}_customer", customers)
                    copy_rows(conn, f"wc_{label}_address", addresses)
                rates[label].append(rows / (time.perf_counter() - began))
                print(f"  COPY {rows:,} customers and their addresses, indexes {label}: "
                      f"{rates[label][-1]:,.0f} rows/s", flush=True)  # fmt: skip
        for label in ("before", "after"):
            for table in ("customer", "address"):
                conn.execute(f"DROP TABLE wc_{label}_{table}")
    before, after = statistics.median(rates["before"]), statistics.median(rates["after"])
    print(f"  median: before {before:,.0f} rows/s, after {after:,.0f} rows/s: after / before {after / before:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000, help="customers of the big store")
    parser.add_argument("--others", type=int, default=500_000, help="customers of the 10 other stores together")
    parser.add_argument("--samples", type=int, default=15, help="requests per query kind and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--port", type=int, default=8450)
    parser.add_argument("--keep", action="store_true", help="keep the database (and reuse a kept one)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of one query of each kind")
    parser.add_argument("--only", default="", help="only the kinds whose name contains this")
    parser.add_argument(
        "--write-cost",
        type=int,
        default=0,
        metavar="ROWS",
        help="only time COPY of ROWS into tables indexed as "
        "before and after the search's indexes (migrations 0008, 0010), alternately, --rounds times",
    )
    args = parser.parse_args()
    if args.write_cost:
        print(f"search indexes' write cost, load {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
        if not database_exists():
            admin_sql(f"CREATE DATABASE {DB_NAME}")
        manage("migrate", "--noinput", "-v0")
        try:
            write_cost(args.write_cost, args.rounds)
        finally:
            if not args.keep:
                admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        return

    print(f"search benchmark: {args.customers:,} customers + {args.others:,} in 10 other stores, "
          f"{os.cpu_count()} CPUs, load {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)  # fmt: skip
    reuse = args.keep and database_exists()
    if not reuse:
        admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        admin_sql(f"CREATE DATABASE {DB_NAME}")
    try:
        manage("migrate", "--noinput", "-v0")
        if not reuse:
            seed(args.customers, args.others)
        else:
            with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
                conn.execute("ANALYZE customers_customer")
                conn.execute("ANALYZE customers_address")
        store_id, token = store_token()
        rng = random.Random(1)
        with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
            values = sample_values(conn, store_id, rng)
            cursor = deep_cursor(conn, store_id, args.customers // 2)
            query_kinds = kinds(values, rng, args.samples * args.rounds)
            query_kinds.append(Kind("deep keyset page (half way)", ["accepts_marketing:true"] * len(values["email"]),
                                    target_ms=None))  # fmt: skip
            query_kinds = [k for k in query_kinds if args.only.lower() in k.name.lower()]
            if args.explain:
                for kind in query_kinds:
                    print(f"\n=== {kind.name}: {kind.queries[0]}")
                    print(explain(store_id, kind.queries[0]))
                return
        run(args, query_kinds, values, cursor, token)
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001 - Django may not be set up
            pass
        if not args.keep:
            admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def run(args, query_kinds: list[Kind], values: dict, cursor: str, token: str) -> None:
    import requests

    server = start_gunicorn(args.port)
    try:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        base = f"http://127.0.0.1:{args.port}/api/customers"

        def timed(url: str, expect_rows: bool | None = None) -> float:
            began = time.perf_counter()
            response = session.get(url, timeout=120)
            elapsed = (time.perf_counter() - began) * 1000
            assert response.status_code == 200, (url, response.status_code, response.text[:300])
            return elapsed

        emails = values["email"]
        for i in range(20):  # warm the worker, the connection and the caches
            timed(f"{base}?email={quote(emails[i % len(emails)])}")
        floor: dict[str, list[float]] = {k.name: [] for k in query_kinds}
        subject: dict[str, list[float]] = {k.name: [] for k in query_kinds}
        for round_number in range(args.rounds):
            for kind in query_kinds:
                for i in range(args.samples):
                    n = round_number * args.samples + i
                    floor[kind.name].append(timed(f"{base}?email={quote(emails[n % len(emails)])}"))
                    url = f"{base}/search?query={quote(kind.queries[n % len(kind.queries)], safe='')}"
                    if kind.name.startswith("deep"):
                        url += f"&page_info={cursor}"
                    subject[kind.name].append(timed(url))
        print(f"\n  load after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(f"  {'query kind':<30} {'median':>8} {'p95':>8} {'floor':>7} {'ratio':>6}  target   example")
        for kind in query_kinds:
            median, p95 = statistics.median(subject[kind.name]), percentile(subject[kind.name], 0.95)
            floor_median = statistics.median(floor[kind.name])
            target = (
                ""
                if kind.target_ms is None
                else ("met " if median < kind.target_ms else "MISSED") + f" <{kind.target_ms:.0f}"
            )
            figures = f"{median:>6.1f}ms {p95:>6.1f}ms {floor_median:>5.1f}ms {median / floor_median:>5.1f}x"
            print(f"  {kind.name:<30} {figures}  {target:<9} {kind.queries[0][:60]}")
        all_floor = [x for samples in floor.values() for x in samples]
        print(f"  floor GET /api/customers?email= median {statistics.median(all_floor):.1f} ms, "
              f"p95 {percentile(all_floor, 0.95):.1f} ms over {len(all_floor)} requests")  # fmt: skip
    finally:
        stop_gunicorn(server)


if __name__ == "__main__":
    main()
