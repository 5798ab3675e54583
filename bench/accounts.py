"""Customer accounts against their floors, in-process on PostgreSQL (one run; about a minute):

    .venv/bin/python bench/accounts.py [--sign-ins 40] [--gets 400]

- sign-in: POST /api/accounts/sign_in (full middleware stack: store token, guessing limits, Argon2id
  verify, a new customer token) against the floor of the same hasher's verify in a loop
  (django.contrib.auth.hashers.check_password on the same hash). Argon2 dominates both by design
  (pitfalls: ~125 ms of CPU), so the ratio ours/floor says what the rest of a sign-in costs.
- /api/me GET with a customer token against its floor in bench/floor/ (a bare Django view: the
  customer the token names and its addresses in one SELECT, JSON out), in the same process,
  interleaved so a busy neighbour weighs alike. bench/single.py measures both under gunicorn too.

It creates a fresh database (twc_bench_accounts), seeds a small store with bench/single.py's seed,
prints requests/s and the ratios, and drops the database. The database of the shared state is the
environment's (REDIS_URL as `make bench` sets it, else the database).
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DB", "twc_bench_accounts")

from bench import single  # noqa: E402 - after BENCH_DB, which it reads at import

PASSWORD = "bench-passphrase-correct-horse"
# A sign-in's ratio to the bare verify (Argon2 dominates both); /api/me's to the floor view.
TARGET_RATIO = {"sign_in": 0.8, "me": 0.5}


def per_second(run, count: int) -> tuple[float, float]:
    """Requests per second of wall time and per second of this process's CPU."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        run(i)
    return count / (time.perf_counter() - wall), count / max(time.process_time() - cpu, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sign-ins", type=int, default=40)
    parser.add_argument("--gets", type=int, default=400)
    parser.add_argument("--customers", type=int, default=5_000)
    args = parser.parse_args()
    for name, value in single.server_env().items():
        if name in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DEBUG", "LOG_LEVEL"):
            os.environ[name] = value
    single.create_database()
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        run(args)
    finally:
        single.drop_database()


def run(args) -> None:
    from django.contrib.auth.hashers import check_password, make_password
    from django.test import Client

    from customers.models import Customer

    store = single.seed(customers=args.customers)
    ref = "c-1"
    hashed = make_password(PASSWORD)
    Customer.objects.filter(store_id=store["store_id"], ref=ref).update(state="enabled", password=hashed)
    email = Customer.objects.get(store_id=store["store_id"], ref=ref).email
    api = Client(HTTP_AUTHORIZATION=f"Bearer {store['token']}")

    def sign_in(_: int):
        response = api.post("/api/accounts/sign_in", {"email": email, "password": PASSWORD}, "application/json")
        assert response.status_code == 200, response.content
        return response

    def verify(_: int):
        assert check_password(PASSWORD, hashed)

    token = sign_in(0).json()["customer_access_token"]
    me = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def me_get(_: int):
        response = me.get("/api/me")
        assert response.status_code == 200, response.content

    floor_me = single.request_maker("floor-me", {**store, "customer_token": token}, customers=args.customers)

    def floor(i: int):
        assert floor_me(i).status_code == 200

    for warm in (sign_in, verify, me_get, floor):
        for i in range(3):
            warm(i)
    figures = {
        "verify": per_second(verify, args.sign_ins),
        "sign_in": per_second(sign_in, args.sign_ins),
        "floor": per_second(floor, args.gets),
        "me": per_second(me_get, args.gets),
    }
    print(f"machine: {single.machine()}")
    for name, (wall, cpu) in figures.items():
        print(f"{name:8} {wall:9.1f} req/s   {cpu:9.1f} per CPU-second")
    for ours, base in (("sign_in", "verify"), ("me", "floor")):
        wall_ratio = figures[ours][0] / figures[base][0]
        cpu_ratio = figures[ours][1] / figures[base][1]
        verdict = "ok" if wall_ratio >= TARGET_RATIO[ours] else "BELOW TARGET"
        print(f"{ours}/{base}: {wall_ratio:.2f} (CPU {cpu_ratio:.2f}); target {TARGET_RATIO[ours]}: {verdict}")


if __name__ == "__main__":
    main()
