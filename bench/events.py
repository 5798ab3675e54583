"""Events and webhooks against their floors, in-process on PostgreSQL (one run; a few minutes):

    .venv/bin/python bench/events.py [--deliveries 12000] [--slices 4] [--concurrency 8]
                                     [--memory 100000] [--memory-seconds 120] [--vacuum-seconds 30]
                                     [--feed 200000] [--port 8701] [--profile]

1. delivery throughput: --slices rounds, each a slice of the floor then a slice of the worker on as
   many fresh events (--deliveries in all), queued for one subscription ("*") to a local receiver
   (http.server, HTTP/1.1 keep-alive, in its own process) and drained by the worker
   (events.worker.Worker: queue, claim, sign, POST, record). The floor: a bare loop POSTing the
   same signed payloads (built beforehand) with the same client and request (events.sender's
   connection class and `exchange`, one keep-alive connection per thread, the same concurrency),
   with no database at all. Prints the ratio of the means (target, issue #14: >= 0.5 x floor) and
   the CPU per POST of this process, the receiver and the worker's PostgreSQL backend.
2. memory: --memory events queued (1,000,000 for issue #14's figure) and drained by one worker
   (stopped after --memory-seconds), its RSS sampled every second: start, max and end, and the
   throughput over each tenth of the run. On a server with autovacuum off, the queue's table is
   vacuumed every --vacuum-seconds meanwhile, as autovacuum would (start_vacuuming).
3. the feed: GET /api/events?limit=1000 (full middleware stack, test client) at the start, the
   middle and the end of a feed of --feed events: the same cost at any depth.

--profile: pyinstrument over the worker draining --deliveries events, and nothing else.

Events are inserted in SQL (the outbox's shape: one JSON customer each, a customer key each). It
creates a fresh database (twc_bench_events, or BENCH_DB), on BENCH_PG's server like bench/bulk.py,
and drops it at the end. The import with events on is bench/bulk.py's figure.
"""

import argparse
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DB", "twc_bench_events")
if "BENCH_PG" in os.environ:
    os.environ.setdefault("BENCH_PG_URL", os.environ["BENCH_PG"])

from bench import single  # noqa: E402 - after BENCH_DB, which it reads at import

TARGET_RATIO = 0.5

INSERT_EVENTS = """
    INSERT INTO events_event (event_id, store_id, type, occurred_at, data, customer_key)
    SELECT gen_random_uuid(), %(store)s, 'customers/update', now(),
           jsonb_build_object(
               'id', 'c-' || g, 'twc_customer_id', gen_random_uuid(), 'email', 'c' || g || '@example.com',
               'first_name', 'Ann', 'last_name', 'Smith', 'phone', '+1613555' || lpad((g %% 10000)::text, 4, '0'),
               'state', 'enabled', 'tags', jsonb_build_array('vip', 'newsletter'), 'currency', 'CAD',
               'accepts_marketing', true, 'note', 'a customer of the benchmark', 'version', 2,
               'addresses', jsonb_build_array(jsonb_build_object(
                   'address1', '1 Main St', 'city', 'Ottawa', 'province_code', 'ON', 'country_code', 'CA',
                   'zip', 'K1A 0B1', 'default', true))),
           gen_random_uuid()
    FROM generate_series(1, %(count)s) AS g
"""


# --- the receiver (its own process: its CPU is not the worker's) -----------------------------


def receive(port: int) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive

        def log_message(self, *args):
            pass

        def setup(self):
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no delayed-ACK stalls

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    class Server(http.server.ThreadingHTTPServer):
        # socketserver's default backlog of 5 drops some of 8 or 16 connections opened at once: their
        # SYN is retried a second later, and a slice of a few thousand POSTs waits for it.
        request_queue_size = 128
        daemon_threads = True

    server = Server(("127.0.0.1", port), Handler)
    server.serve_forever()


def start_receiver(port: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, __file__, "--receive", str(port)])
    single.wait_for_port(port)
    return process


# --- measurements ----------------------------------------------------------------------------


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU of a process so far (the worker's own, its PostgreSQL backend's, the receiver's)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def insert_events(store_id: int, count: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for start in range(0, count, 50_000):
            cursor.execute(INSERT_EVENTS, {"store": store_id, "count": min(50_000, count - start)})
        cursor.execute("ANALYZE")


def wait_settled(store_id: int, count: int) -> None:
    """Until the feed shows the events (a transaction elsewhere in the cluster may hold it back)."""
    from events import feed
    from events.models import Event

    last = Event.objects.filter(store_id=store_id).order_by("-seq").values_list("xid", "seq").first()
    deadline = time.monotonic() + 60
    while feed.feed_head(store_id=store_id) != last and time.monotonic() < deadline:
        time.sleep(0.2)


def floor(payloads: list[tuple[bytes, dict[str, str]]], port: int, concurrency: int) -> float:
    """A bare loop: the same signed payloads, the same client (events.sender's connection class and
    request: http.client, TCP_NODELAY, the same headers), keep-alive, the same concurrency."""
    from events.sender import MAX_RESPONSE_BYTES, PinnedConnection, exchange
    from events.ssrf import Target

    target = Target("http", "127.0.0.1", port, "/hook")
    items = iter(payloads)
    lock = threading.Lock()

    def client():
        connection = PinnedConnection(target, "127.0.0.1", 10.0)
        while True:
            with lock:
                item = next(items, None)
            if item is None:
                break
            body, headers = item
            response = exchange(connection, target, body, headers)
            response.read(MAX_RESPONSE_BYTES)
            assert response.status == 200
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(payloads) / (time.perf_counter() - started)


def payloads_of(subscription, store_id: int, count: int) -> list[tuple[bytes, dict[str, str]]]:
    """The requests the worker would send for the store's last `count` events, signed now."""
    import orjson
    from django.utils import timezone

    from events.delivery import Claimed, Subscription, request_of
    from events.models import Event

    now = timezone.now()
    target = Subscription(id=subscription.id, url=subscription.url, keys=(subscription.secret,), failing_since=None)
    events = Event.objects.filter(store_id=store_id).order_by("-seq")[:count]
    return [
        request_of(
            Claimed(
                id=0,
                attempts=0,
                subscription=target,
                event_id=str(e.event_id),
                event_key=e.event_id,
                type=e.type,
                occurred_at=e.occurred_at,
                data=orjson.dumps(e.data).decode(),
            ),
            now=now,
        )
        for e in events
    ]


def failed_attempts(subscription) -> list[tuple]:
    from events.models import WebhookAttempt

    failed = WebhookAttempt.objects.filter(subscription=subscription).exclude(status_code=200)
    return list(failed.values_list("status_code", "error")[:5])


def delivered(subscription) -> int:
    from events.models import WebhookDelivery

    return WebhookDelivery.objects.filter(subscription=subscription, state="delivered").count()


def throughput(args, store_id: int, subscription) -> None:
    """--slices rounds, each a slice of the floor then a slice of the worker on the same number of
    fresh events, so a neighbour's load weighs on both alike; the ratio is of the two means."""
    from events.worker import drain

    size = args.deliveries // args.slices
    floors, workers = [], []
    # CPU seconds: this process, the receiver's process, and (for the worker) its PostgreSQL backend.
    floor_cpu, worker_cpu = [0.0, 0.0], [0.0, 0.0, 0.0]
    for _ in range(args.slices):
        insert_events(store_id, size)
        wait_settled(store_id, size)
        payloads = payloads_of(subscription, store_id, size)
        pids: tuple[int | str, ...] = ("self", args.receiver_pid)
        marks = [cpu_seconds(pid) for pid in pids]
        floors.append(floor(payloads, args.port, args.concurrency))
        for i, pid in enumerate(pids):
            floor_cpu[i] += cpu_seconds(pid) - marks[i]
        before = delivered(subscription)
        pids = ("self", args.receiver_pid, backend_pid())
        marks = [cpu_seconds(pid) for pid in pids]
        started = time.perf_counter()
        drain(concurrency=args.concurrency, timeout=600)
        elapsed = time.perf_counter() - started
        for i, pid in enumerate(pids):
            worker_cpu[i] += cpu_seconds(pid) - marks[i]
        missing = size - (delivered(subscription) - before)
        if missing:
            failures = failed_attempts(subscription)
            raise SystemExit(f"{missing} of {size} not delivered; failed attempts: {failures}")
        workers.append(size / elapsed)
    bare, ours = sum(floors) / len(floors), sum(workers) / len(workers)
    ratio = ours / bare
    per_post = [round(seconds / (size * args.slices) * 1e6) for seconds in floor_cpu + worker_cpu]
    print(f"  delivery throughput ({args.slices} slices of {size:,} events, concurrency {args.concurrency})")
    print(f"    floor (bare keep-alive POST loop)   {bare:8,.0f} POST/s        slices: {joined(floors)}")
    print(f"    worker (queue, claim, sign, POST, record)   {ours:8,.0f} deliveries/s   slices: {joined(workers)}")
    print(
        f"    CPU per POST: floor {per_post[0]} us + receiver {per_post[1]} us; worker {per_post[2]} us"
        f" + receiver {per_post[3]} us + PostgreSQL backend {per_post[4]} us"
    )
    print(f"    {'ok' if ratio >= TARGET_RATIO else 'MISSED'}  worker / floor = {ratio:.2f} (target >= {TARGET_RATIO})")


def joined(rates: list[float]) -> str:
    return " ".join(f"{rate:,.0f}" for rate in rates)


def profile(args, store_id: int) -> None:
    from pyinstrument import Profiler

    from events.worker import drain

    insert_events(store_id, args.deliveries)
    wait_settled(store_id, args.deliveries)
    profiler = Profiler(interval=0.0005)
    profiler.start()
    started = time.perf_counter()
    drain(concurrency=args.concurrency, timeout=600)
    elapsed = time.perf_counter() - started
    profiler.stop()
    print(f"  {args.deliveries:,} deliveries in {elapsed:.2f} s ({args.deliveries / elapsed:,.0f}/s)")
    print(profiler.output_text(unicode=True, color=False, show_all=os.environ.get("BENCH_PROFILE_ALL") == "1"))


def memory(args, store_id: int, subscription) -> None:
    """Queue --memory events, drain them with one worker (for at most --memory-seconds), sampling its
    RSS every second from another thread."""
    import gc

    from events.worker import Worker

    before = delivered(subscription)
    insert_events(store_id, args.memory)
    wait_settled(store_id, args.memory)
    gc.collect()
    worker = Worker(concurrency=args.concurrency)
    samples = [(0.0, 0, rss_mb())]
    running = threading.Event()
    running.set()
    started = time.monotonic()

    def sample():
        while running.is_set():
            time.sleep(1.0)
            samples.append((time.monotonic() - started, worker.recorded, rss_mb()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    vacuums = start_vacuuming(running, args.vacuum_seconds)
    try:
        done = worker.run(until_idle=True, timeout=args.memory_seconds)
    finally:
        running.clear()
        sampler.join()
        if vacuums is not None:
            vacuums.join()
        worker.close()
    elapsed = time.monotonic() - started
    samples.append((elapsed, done, rss_mb()))
    assert delivered(subscription) - before == done, (delivered(subscription) - before, done)
    peak = max(samples, key=lambda sample: sample[2])
    after_warmup = [sample for sample in samples if sample[1] >= done * 0.1] or samples
    print(f"  memory: {done:,} of {args.memory:,} queued events delivered in {elapsed:.0f} s ({done / elapsed:,.0f}/s)")
    for label, (at, count, rss) in (("start", samples[0]), ("max", peak), ("end", samples[-1])):
        print(f"    RSS at the {label:5} ({at:6.0f} s, {count:>9,} delivered)   {rss:6.1f} MB")
    step = max(1, len(samples) // 10)
    tail = [f"{rss:.1f}" for _, _, rss in samples[::step]]
    print(f"    RSS every {step} s: {' '.join(tail)} MB")
    tenths = samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else [])
    rates = [f"{(b[1] - a[1]) / (b[0] - a[0]):,.0f}" for a, b in zip(tenths, tenths[1:], strict=False) if b[0] > a[0]]
    print(f"    deliveries/s in each of those spans: {' '.join(rates)}")
    growth = samples[-1][2] - after_warmup[0][2]
    print(f"    {'ok' if growth < 5 else 'GREW'}  from 10% delivered to the end: {growth:+.1f} MB")


def start_vacuuming(running: threading.Event, seconds: float) -> threading.Thread | None:
    """On a server with autovacuum off (this development machine's is: `SHOW autovacuum`), VACUUM
    the queue's table every `seconds` from a connection of its own, as autovacuum would in
    production: each delivery leaves two dead row versions (its lease, its record). Without it a
    1,000,000-event drain took 456 s, with it 442 (docs/events.md)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        if cursor.fetchone()[0] == "on" or seconds <= 0:
            return None
    print(f"    (autovacuum is off on this server: the queue's table is vacuumed every {seconds:.0f} s)")

    def vacuum():
        from django.db import connection

        try:
            while not _stopped(running, seconds):
                with connection.cursor() as cursor:
                    cursor.execute("VACUUM (ANALYZE) events_webhookdelivery")
        finally:
            connection.close()

    thread = threading.Thread(target=vacuum, daemon=True)
    thread.start()
    return thread


def _stopped(running: threading.Event, seconds: float) -> bool:
    """Waits up to `seconds` while `running` stays set; True once it is cleared."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not running.is_set():
            return True
        time.sleep(0.2)
    return not running.is_set()


def feed_pages(args, store: dict, subscription) -> None:
    from django.test import Client

    from events.feed import encode_cursor
    from events.models import Event, WebhookSubscription

    WebhookSubscription.objects.filter(pk=subscription.pk).update(enabled=False)  # nothing more to queue
    insert_events(store["store_id"], args.feed)
    total = Event.objects.filter(store_id=store["store_id"]).count()
    wait_settled(store["store_id"], total)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {store['token']}")
    ordered = Event.objects.filter(store_id=store["store_id"]).order_by("xid", "seq").values_list("xid", "seq")
    depths = (("start", 0), ("middle", total // 2), ("end", total - 1001))
    best = {label: float("inf") for label, _ in depths}
    for _ in range(8):  # interleaved, so a busy neighbour weighs on every depth alike; round 1 warms up
        for label, offset in depths:
            after = "" if offset == 0 else f"&after={encode_cursor(ordered[offset - 1])}"
            started = time.perf_counter()
            response = api.get(f"/api/events?limit=1000{after}")
            took = time.perf_counter() - started
            assert response.status_code == 200 and len(response.json()["events"]) == 1000, response.status_code
            best[label] = min(best[label], took) if _ else best[label]
    figures = [(label, offset, best[label] * 1000) for label, offset in depths]
    print(f"  feed: GET /api/events?limit=1000 in a feed of {total:,} events (best of 7, interleaved)")
    for label, offset, ms in figures:
        print(f"    page at the {label:6} (after {offset:>7,})   {ms:6.1f} ms")
    spread = max(ms for *_, ms in figures) / min(ms for *_, ms in figures)
    print(f"    {'ok' if spread < 1.5 else 'DEPTH COSTS'}  slowest / fastest: {spread:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=12_000, help="events of the throughput, in all slices")
    parser.add_argument("--slices", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--memory", type=int, default=100_000)
    parser.add_argument("--memory-seconds", type=float, default=120)
    parser.add_argument(
        "--vacuum-seconds", type=float, default=30, help="VACUUM the queue this often when autovacuum is off (0: never)"
    )
    parser.add_argument("--feed", type=int, default=200_000)
    parser.add_argument("--port", type=int, default=8701)
    parser.add_argument("--profile", action="store_true", help="pyinstrument of the worker draining --deliveries")
    parser.add_argument("--receive", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receive:
        return receive(args.receive)
    for name, value in single.server_env().items():
        if name in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DEBUG", "LOG_LEVEL"):
            os.environ[name] = value
    os.environ.update(WEBHOOK_ALLOW_HTTP="1", WEBHOOK_ALLOW_PRIVATE_NETWORKS="1")
    receiver = start_receiver(args.port)
    args.receiver_pid = receiver.pid
    single.create_database()
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        run(args)
    finally:
        receiver.terminate()
        receiver.wait()
        single.drop_database()


def seed() -> dict:
    """The benchmark's store and a token (the events need no customers: they are inserted in SQL)."""
    from django.test import Client

    from tenants.services import store_create

    creds = store_create(name="Bench Store", tenant_name="Bench Tenant", country="CA", currency="CAD")
    response = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials", "client_id": creds.client_id, "client_secret": creds.client_secret},
    )
    assert response.status_code == 200, response.content
    return {"store_id": creds.store.pk, "token": response.json()["access_token"]}


def run(args) -> None:
    from events.webhooks import webhook_create
    from tenants.models import Store

    store = seed()
    print(f"events benchmark: {single.machine()}")
    subscription, _ = webhook_create(
        store=Store.objects.get(pk=store["store_id"]),
        data={"url": f"http://127.0.0.1:{args.port}/hook", "topics": ["*"]},
    )
    if args.profile:
        return profile(args, store["store_id"])
    throughput(args, store["store_id"], subscription)
    memory(args, store["store_id"], subscription)
    feed_pages(args, store, subscription)


if __name__ == "__main__":
    main()
