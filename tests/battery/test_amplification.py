"""Amplification: no request, however built, makes the service build or send back more than a
bounded answer. An error response lists at most 100 errors and an upload's item at most 20, with
`errorsOmitted` counting the others; no error response exceeds 64 KB; every echo of the request
(messages, field names, duplicate values) is cut; an `Idempotency-Key` stores no reply over 16 MB;
and a worker's memory stays bounded on a body of 2,000,000 unknown keys (measured on a real server).
"""

import contextlib
import itertools
import json
import os
import socket
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

from customers.validation import clean_customer
from tests.api.conftest import shared_state  # noqa: F401 - the fixture: both backends
from tests.conftest import fetch_token
from tests.factories import store_credentials_make
from twc.api import idempotency
from twc.api.errors import (
    MAX_ERROR_RESPONSE_BYTES,
    MAX_ERRORS,
    MAX_FIELD_CHARS,
    MAX_ITEM_ERRORS,
    MAX_MESSAGE_CHARS,
    MAX_VALUE_CHARS,
    ApiError,
    ErrorCode,
    FieldError,
    ValidationFailed,
    duplicate_field_entry,
    invalid_field_entry,
)
from twc.api.exceptions import api_error_body
from twc.api.models import IdempotencyRecord
from twc.api.renderers import dumps

ROOT = Path(__file__).resolve().parents[2]
PORTS = range(8500, 8510)
MEGABYTE_STRING = "x" * 1_000_000
LONG_KEY = "k" * 100_000
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
# The worker's peak resident memory on the 2,000,000-key body must stay under this.
PEAK_RSS_BOUND_MB = 600


def many_keys_body(count: int) -> bytes:
    """A JSON object of `count` distinct 5-character unknown keys: 10 bytes a key."""
    keys = ("".join(letters) for letters in itertools.product(ALPHABET, repeat=5))
    return ("{" + ",".join(f'"{key}":0' for key in itertools.islice(keys, count)) + "}").encode()


def assert_bounded_error(response, *, status: int | None = None) -> dict:
    """An error answer within every bound of the contract; its body."""
    assert 400 <= response.status_code < 500, response.content[:300]
    if status is not None:
        assert response.status_code == status, response.content[:300]
    assert len(response.content) <= MAX_ERROR_RESPONSE_BYTES
    body = response.json()
    assert set(body) <= {"statusCode", "message", "errors", "errorsOmitted"}
    assert 1 <= len(body["errors"]) <= MAX_ERRORS
    assert len(body["message"]) <= MAX_MESSAGE_CHARS
    for entry in body["errors"]:
        assert_bounded_entry(entry)
    if "errorsOmitted" in body:
        assert body["errorsOmitted"] > 0
    return body


def assert_bounded_entry(entry: dict) -> None:
    assert len(entry["message"]) <= MAX_MESSAGE_CHARS
    assert len(entry.get("field") or "") <= MAX_FIELD_CHARS
    if isinstance(entry.get("duplicateValue"), str):
        assert len(entry["duplicateValue"]) <= MAX_VALUE_CHARS


def listed_and_omitted(body: dict) -> int:
    return len(body["errors"]) + body.get("errorsOmitted", 0)


# --- The error vocabulary's bounds --------------------------------------------------------------
def test_an_entry_cuts_what_it_echoes():
    entry = duplicate_field_entry("k" * 10_000, MEGABYTE_STRING, "m" * 1_000_000)
    assert len(entry.message) == MAX_MESSAGE_CHARS and entry.message.endswith("…")
    assert len(entry.field) == MAX_FIELD_CHARS
    assert len(entry.duplicate_value) == MAX_VALUE_CHARS
    assert duplicate_field_entry("email", ["a"] * 100_000, "m").duplicate_value.startswith("['a', ")
    short = duplicate_field_entry("id", "c-1", "Taken.")
    assert (short.field, short.duplicate_value, short.message) == ("id", "c-1", "Taken.")


def test_an_api_error_keeps_100_entries_and_counts_the_rest():
    error = ApiError([invalid_field_entry(f"f{i}", "Bad.") for i in range(250)], omitted=7)
    assert len(error.errors) == MAX_ERRORS and error.errors_omitted == 150 + 7
    body = api_error_body(error)
    assert len(body["errors"]) == MAX_ERRORS and body["errorsOmitted"] == 157
    assert "errorsOmitted" not in api_error_body(ApiError(invalid_field_entry("f", "Bad.")))


def test_an_error_body_stays_within_64_kb_whatever_its_entries():
    # Control characters are escaped to six bytes each: 100 full entries of them are ~1 MB rendered.
    nasty = "\x01" * 5000
    error = ApiError([FieldError(ErrorCode.DUPLICATE_FIELD, nasty, nasty, nasty) for _ in range(100)])
    body = api_error_body(error)
    size = len(dumps(body))
    print(f"\nerror body of 100 entries of control characters: {size} bytes, {len(body['errors'])} listed")
    assert size <= MAX_ERROR_RESPONSE_BYTES
    assert 1 <= len(body["errors"]) < 100 and listed_and_omitted(body) == 100


# --- Collecting errors: bounded memory -----------------------------------------------------------
def test_cleaning_2_000_000_unknown_keys_builds_100_entries_and_counts_the_rest(store_a):
    data = dict.fromkeys((f"k{i}" for i in range(2_000_000)), 0)
    tracemalloc.start()
    try:
        started = time.perf_counter()
        with pytest.raises(ValidationFailed) as caught:
            clean_customer(data, store=store_a)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    error = caught.value
    print(
        f"\nclean_customer on 2,000,000 unknown keys: peak {peak / 1024:.0f} KiB traced, "
        f"{len(error.errors)} entries, {error.errors_omitted} omitted, {seconds:.2f} s"
    )
    assert len(error.errors) == MAX_ERRORS
    assert error.errors_omitted == 2_000_000 + 1 - MAX_ERRORS  # and the missing email or phone
    assert peak < 2 * 1024 * 1024


def test_an_addresses_unknown_keys_are_counted_too(store_a):
    addresses = [dict.fromkeys((f"a{i}" for i in range(10_000)), 0) for _ in range(100)]
    with pytest.raises(ValidationFailed) as caught:
        clean_customer({"email": "a@x.com", "addresses": addresses}, store=store_a)
    assert len(caught.value.errors) == MAX_ERRORS
    assert caught.value.errors_omitted == 100 * 10_000 - MAX_ERRORS
    assert caught.value.errors[0].field == "addresses[0].a0"


# --- Through the API ----------------------------------------------------------------------------
def test_2_000_000_unknown_keys_answer_100_errors_and_store_a_small_reply(api_a, shared_state):  # noqa: F811
    body = many_keys_body(2_000_000)
    assert len(body) <= settings.API_MAX_BODY_BYTES
    started = time.perf_counter()
    response = api_a.generic(
        "POST", "/api/customers", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="many-keys"
    )
    seconds = time.perf_counter() - started
    answer = assert_bounded_error(response, status=400)
    print(
        f"\n2,000,000 unknown keys ({len(body) / 1e6:.1f} MB body, {shared_state}): {len(response.content)} bytes "
        f"answered, {len(answer['errors'])} listed, {answer['errorsOmitted']} omitted, {seconds:.1f} s"
    )
    assert len(answer["errors"]) == MAX_ERRORS
    assert listed_and_omitted(answer) == 2_000_001
    assert answer["errors"][0] == {"code": "InvalidField", "message": "Unknown field 'aaaaa'.", "field": "aaaaa"}
    replay = api_a.generic(
        "POST", "/api/customers", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="many-keys"
    )
    assert replay["Idempotent-Replayed"] == "true" and replay.content == response.content
    if shared_state == "database":
        assert len(IdempotencyRecord.objects.get(key="many-keys").body) == len(response.content)


def test_orders_and_wishlists_count_unknown_keys_too(api_a):
    for path in ("/api/orders", "/api/wishlists"):
        body = many_keys_body(200_000)
        response = api_a.generic("POST", path, body, content_type="application/json")
        answer = assert_bounded_error(response, status=400)
        assert len(answer["errors"]) == MAX_ERRORS and listed_and_omitted(answer) >= 200_000


def upload_items(count: int, unknown_keys: int, key_length: int) -> list[dict]:
    keys = [f"{i:0{key_length}d}" for i in range(unknown_keys)]
    return [dict.fromkeys(keys, 0) for _ in range(count)]


def test_an_upload_item_lists_20_errors_and_counts_the_rest(api_a):
    items = upload_items(10_000, 30, 2)
    started = time.perf_counter()
    response = api_a.post("/api/upload-customers", items)
    seconds = time.perf_counter() - started
    assert response.status_code == 200
    report = response.json()
    print(
        f"\nupload of 10,000 items of 30 unknown keys: {len(response.content) / 1e6:.1f} MB answered "
        f"(was 77 MB for 10,000 bad items), {seconds:.1f} s"
    )
    assert report["failed"] == 10_000
    for result in report["results"]:
        assert len(result["errors"]) == MAX_ITEM_ERRORS
        assert result["errorsOmitted"] == 30 + 1 - MAX_ITEM_ERRORS
        for entry in result["errors"]:
            assert_bounded_entry(entry)
    assert "errorsOmitted" not in api_a.post("/api/upload-customers", [{"bad": 1}]).json()["results"][0]


def test_the_largest_upload_answer_is_answered_but_not_stored(api_a, shared_state):  # noqa: F811
    # 19 unknown keys of 100 characters an item (and the missing email): as many echoed characters
    # as a body under API_MAX_BODY_BYTES can ask for.
    items = upload_items(10_000, 19, 100)
    body = json.dumps(items).encode()
    assert len(body) <= settings.API_MAX_BODY_BYTES
    response = api_a.generic(
        "POST", "/api/upload-customers", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="huge"
    )
    assert response.status_code == 200
    size = len(response.content)
    print(f"\nlargest upload answer ({len(body) / 1e6:.1f} MB body): {size / 1e6:.1f} MB, not stored ({shared_state})")
    assert size > idempotency.MAX_STORED_REPLY_BYTES
    assert all(len(result["errors"]) == MAX_ITEM_ERRORS for result in response.json()["results"])
    assert not IdempotencyRecord.objects.filter(key="huge").exists()
    retry = api_a.generic(
        "POST", "/api/upload-customers", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="huge"
    )
    assert retry.status_code == 200 and "Idempotent-Replayed" not in retry  # the key was released


def test_a_10_000_item_report_of_created_customers_is_stored_and_replayed(api_a, shared_state):  # noqa: F811
    items = [{"id": f"c-{i}", "email": f"c{i}@example.com"} for i in range(10_000)]
    first = api_a.post("/api/upload-customers", items, HTTP_IDEMPOTENCY_KEY="big-report")
    assert first.status_code == 200 and first.json()["created"] == 10_000
    print(f"\n10,000-item report of created customers: {len(first.content) / 1e6:.2f} MB, replayable")
    assert len(first.content) < idempotency.MAX_STORED_REPLY_BYTES
    replay = api_a.post("/api/upload-customers", items, HTTP_IDEMPOTENCY_KEY="big-report")
    assert replay["Idempotent-Replayed"] == "true" and replay.content == first.content


def test_a_reply_over_the_bound_is_answered_and_its_key_released(api_a, shared_state, monkeypatch):  # noqa: F811
    monkeypatch.setattr(idempotency, "MAX_STORED_REPLY_BYTES", 100)
    body = {"id": "c-1", "email": "a@x.com"}
    first = api_a.post("/api/customers", body, HTTP_IDEMPOTENCY_KEY="too-big")
    assert first.status_code == 201 and len(first.content) > 100
    retry = api_a.post("/api/customers", body, HTTP_IDEMPOTENCY_KEY="too-big")
    assert "Idempotent-Replayed" not in retry
    assert retry.status_code == 409 and retry.json()["errors"][0]["code"] == "DuplicateField"


# --- Every echo of the request, bounded ---------------------------------------------------------
TEXT_FIELDS = [
    "id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "note",
    "multipass_identifier",
    "state",
    "marketing_opt_in_level",
    "currency",
    "tags",
    "accepts_marketing_updated_at",
    "version",
    "verified_email",
]


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_a_megabyte_value_is_not_echoed(api_a, field):
    response = api_a.post("/api/customers", {"email": "a@x.com", field: MEGABYTE_STRING})
    assert_bounded_error(response, status=400)
    assert len(response.content) < 2000


ECHOES = {
    "unknown key of 100,000 characters": ("POST", "/api/customers", {LONG_KEY: 1, "email": "a@x.com"}),
    "100 unknown keys of 100,000 characters": ("POST", "/api/customers", {f"{i}{LONG_KEY}": 1 for i in range(100)}),
    "unknown address key": ("POST", "/api/customers", {"email": "a@x.com", "addresses": [{LONG_KEY: 1}]}),
    "megabyte address field": (
        "POST",
        "/api/customers",
        {"email": "a@x.com", "addresses": [{"city": MEGABYTE_STRING}]},
    ),
    "megabyte tax exemption": ("POST", "/api/customers", {"email": "a@x.com", "tax_exemptions": [MEGABYTE_STRING]}),
    "megabyte tag list": ("POST", "/api/customers", {"email": "a@x.com", "tags": [MEGABYTE_STRING]}),
    "unknown key of an update": ("PUT", "/api/customers", {"id": "c-1", LONG_KEY: 1}),
    "unknown key of an order": ("POST", "/api/orders", {"name": "#1", LONG_KEY: 1}),
    "megabyte order name": ("POST", "/api/orders", {"name": MEGABYTE_STRING}),
    "unknown key of a wishlist": ("POST", "/api/wishlists", {LONG_KEY: 1}),
    "megabyte wishlist item": ("POST", "/api/wishlists", {"items": [MEGABYTE_STRING]}),
    "unknown key of send_invite": ("POST", "/api/customers/c-1/send_invite", {LONG_KEY: 1}),
    "megabyte upload item value": ("POST", "/api/upload-customers", [{"email": MEGABYTE_STRING, LONG_KEY: 1}]),
}


@pytest.mark.parametrize("case", list(ECHOES), ids=list(ECHOES))
def test_no_echo_of_the_request_is_unbounded(api_a, case):
    api_a.post("/api/customers", {"id": "c-1", "email": "c1@x.com"})
    method, path, body = ECHOES[case]
    response = api_a.generic(method, path, json.dumps(body), content_type="application/json")
    if path == "/api/upload-customers":
        assert response.status_code == 200 and len(response.content) < 4000
        for entry in response.json()["results"][0]["errors"]:
            assert_bounded_entry(entry)
        return
    assert_bounded_error(response)
    assert len(response.content) < 40_000


RAW_ECHOES = {
    "duplicate key of a megabyte": dict(
        method="POST", path="/api/customers", body=f'{{"{MEGABYTE_STRING}": 1, "{MEGABYTE_STRING}": 2}}'
    ),
    "reference of 100,000 characters": dict(method="GET", path=f"/api/customers/{LONG_KEY}"),
    "path of 100,000 characters": dict(method="GET", path=f"/api/{LONG_KEY}"),
    "query parameter name of 100,000 characters": dict(method="GET", path=f"/api/customers?{LONG_KEY}=1"),
    "query parameter value of 100,000 characters": dict(method="GET", path=f"/api/customers?email={LONG_KEY}"),
    "fields of 100,000 characters": dict(method="GET", path=f"/api/customers?fields={LONG_KEY}"),
    "900 unknown query parameters": dict(
        method="GET", path="/api/customers?" + "&".join(f"{LONG_KEY[:90]}{i}=1" for i in range(900))
    ),
    "upload on_conflict of 100,000 characters": dict(
        method="POST", path=f"/api/upload-customers?on_conflict={LONG_KEY}", body="[]"
    ),
    "If-Match of 100,000 characters": dict(
        method="PUT", path="/api/customers/c-1", body='{"note": "n"}', HTTP_IF_MATCH=LONG_KEY
    ),
    "Idempotency-Key of 100,000 characters": dict(
        method="POST", path="/api/customers", body="{}", HTTP_IDEMPOTENCY_KEY=LONG_KEY
    ),
    "method of 100,000 characters": dict(method=LONG_KEY.upper(), path="/api/customers"),
    "Content-Length of 4,000 digits": dict(method="POST", path="/api/customers", body="{}", CONTENT_LENGTH="9" * 4000),
    "body over the limit": dict(method="POST", path="/api/customers", body="{}", CONTENT_LENGTH="999999999999"),
}


@pytest.mark.parametrize("case", list(RAW_ECHOES), ids=list(RAW_ECHOES))
def test_no_echo_of_a_path_header_or_raw_body_is_unbounded(api_a, case):
    api_a.post("/api/customers", {"id": "c-1", "email": "c1@x.com"})
    spec = dict(RAW_ECHOES[case])
    method, path, body = spec.pop("method"), spec.pop("path"), spec.pop("body", "")
    response = api_a.generic(method, path, body, content_type="application/json", **spec)
    assert_bounded_error(response)
    assert len(response.content) < 40_000


def test_a_duplicate_value_is_echoed_whole_when_it_is_a_valid_one(api_a):
    ref = "r" * 255
    assert api_a.post("/api/customers", {"id": ref, "email": "a@x.com"}).status_code == 201
    answer = assert_bounded_error(api_a.post("/api/customers", {"id": ref, "email": "b@x.com"}), status=409)
    assert answer["errors"][0]["duplicateValue"] == ref


def test_the_body_and_upload_limits_answer_small_413s(api_a):
    over = api_a.generic(
        "POST",
        "/api/customers",
        b"{}",
        content_type="application/json",
        CONTENT_LENGTH=str(settings.API_MAX_BODY_BYTES + 1),
    )
    assert_bounded_error(over, status=413)
    items = [{}] * (settings.UPLOAD_MAX_ITEMS + 1)
    too_many = api_a.post("/api/upload-customers", items)
    assert_bounded_error(too_many, status=413)
    assert too_many.json()["errors"][0]["code"] == "PayloadTooLarge"


# --- A real server's memory ---------------------------------------------------------------------
def free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    pytest.fail(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def reset_peak_rss(pid: int) -> bool:
    """Start the process's VmHWM again from its current RSS (Linux 4.0+); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def gunicorn_worker(master: subprocess.Popen, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
        if children:
            return int(children[0])
        assert master.poll() is None, "gunicorn stopped"
        time.sleep(0.1)
    raise AssertionError("no gunicorn worker")


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_stays_bounded_on_2_000_000_unknown_keys():
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc (Linux) to read the worker's peak memory")
    creds = store_credentials_make(name="Memory", tenant_name="Memory", country="CA", currency="CAD")
    auth = {"Authorization": f"Bearer {fetch_token(creds.client_id, creds.client_secret)}"}
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_"))}
    env.update(DATABASE_URL=database_url(), DEBUG="0", RATE_LIMIT_ENABLED="0", REDIS_URL="", LOG_LEVEL="ERROR")
    command = [sys.executable, "-m", "gunicorn", "twc.wsgi", "-w", "1", "-b", f"127.0.0.1:{port}", "-t", "300"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        worker = gunicorn_worker(server)
        for _ in range(300):
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            time.sleep(0.1)
        warm = requests.post(f"{url}/api/customers", json={"email": "warm@x.com"}, headers=auth, timeout=60)
        assert warm.status_code == 201
        # The largest upload answer first, then the 2,000,000 keys: each from the RSS it found.
        upload = json.dumps(upload_items(10_000, 19, 100)).encode()
        headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": "largest-upload"}
        reset_peak_rss(worker)
        before = peak_rss_mb(worker)
        response = requests.post(f"{url}/api/upload-customers", data=upload, headers=headers, timeout=300)
        largest = peak_rss_mb(worker)
        print(
            f"\nreal worker, the largest upload answer ({len(upload) / 1e6:.1f} MB body): "
            f"{len(response.content) / 1e6:.1f} MB answered, not stored; peak RSS {before:.0f} MB before, "
            f"{largest:.0f} MB after"
        )
        assert response.status_code == 200
        assert largest < PEAK_RSS_BOUND_MB
        assert not IdempotencyRecord.objects.filter(key="largest-upload").exists()

        body = many_keys_body(2_000_000)
        headers["Idempotency-Key"] = "memory"
        reset = reset_peak_rss(worker)
        before = peak_rss_mb(worker)
        response = requests.post(f"{url}/api/customers", data=body, headers=headers, timeout=300)
        after = peak_rss_mb(worker)
        print(
            f"real worker, 2,000,000 unknown keys ({len(body) / 1e6:.1f} MB body): {len(response.content)} bytes "
            f"answered; peak RSS {before:.0f} MB before, {after:.0f} MB after (bound {PEAK_RSS_BOUND_MB} MB; "
            f"was 2.4 GB and a 152 MB answer)" + ("" if reset else "; VmHWM could not be reset")
        )
        assert response.status_code == 400
        assert len(response.content) <= MAX_ERROR_RESPONSE_BYTES
        assert response.json()["errorsOmitted"] == 2_000_001 - MAX_ERRORS
        assert after < PEAK_RSS_BOUND_MB
        record = IdempotencyRecord.objects.get(key="memory")
        assert len(record.body) == len(response.content)
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=20)
        if server.poll() is None:
            server.kill()
