"""Fuzzing from the schema (issue 6, item 3; issue 12): schemathesis against the committed openapi.yaml,
on a live server, with a real token and every check: no server error, no response breaking the
schema, and the server accepts what the schema allows and refuses what it does not (the schema says
what the server enforces), over >= 1,000 cases.

tests/api/schemathesis_hooks.py drops the refusals of rules no JSON Schema can state (an existing
customer, a dialable phone; the report's `filtered`) and gives each request a fresh Idempotency-Key.
The seed is fixed so CI is reproducible; set SCHEMATHESIS_SEED (and SCHEMATHESIS_MAX_EXAMPLES, per
operation) to explore further. The coverage and stateful phases (boundary values of every
constraint, sequences of calls) take several minutes: docs/reliability.md has their last run.
"""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

from customers.models import Customer, Order
from tests.api.openapi import SCHEMA_FILE
from tests.conftest import fetch_token
from tests.factories import customer_make, order_make, store_credentials_make

MIN_CASES = 1000
HOOKS = "tests.api.schemathesis_hooks"
RUN_CLI = "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())"


@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(live_server, tmp_path, capsys):
    creds = store_credentials_make(name="Fuzzed", tenant_name="Fuzz", country="CA", currency="CAD")
    # the store's own limits (Store override): the fuzzer's pace must not be throttled
    creds.store.rate_limit_per_second, creds.store.rate_limit_burst = 100_000, 1_000_000
    creds.store.save()
    token = fetch_token(creds.client_id, creds.client_secret)
    customer_make(store=creds.store, id="c-1", email="c1@x.com")
    order_make(store=creds.store, name="#1", customer_id="c-1")

    report = tmp_path / "report.json"
    command = [
        sys.executable, "-c", RUN_CLI, "run", str(SCHEMA_FILE),
        "--url", live_server.url,
        "--header", f"Authorization: Bearer {token}",
        "--checks", "all",
        "--phases", "examples,fuzzing",
        "--max-examples", os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "40"),
        "--seed", os.environ.get("SCHEMATHESIS_SEED", "20261128"),
        "--workers", "1",
        "--generation-database", "none",
        "--request-timeout", "30",
        "--no-color",
        "--report", "json",
        "--report-json-path", str(report),
    ]  # fmt: skip
    env = {**os.environ, "SCHEMATHESIS_HOOKS": HOOKS, "PYTHONPATH": str(settings.BASE_DIR)}
    run = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path, env=env)
    summary = json.loads(report.read_text())
    cases = summary["test_cases"]
    failures = {failure["title"]: failure["count"] for failure in summary["failures"]}
    server_errors = failures.get("Server error", 0)
    with capsys.disabled():  # the figures show in `make test`'s output, passing or not
        print(
            f"\nschemathesis: {cases['generated']} cases on {summary['operations']['tested']} operations in "
            f"{summary['running_time']:.0f} s, every check; server errors: {server_errors}; other failures: "
            f"{sum(failures.values()) - server_errors}; refusals of rules the schema cannot state (filtered): "
            f"{summary['filtered']}; errors: {len(summary['errors'])}"
        )
    assert summary["operations"]["tested"] == summary["operations"]["selected"] >= 12
    assert cases["generated"] >= MIN_CASES
    assert failures == {} and summary["errors"] == [] and cases["errored"] == 0, run.stdout[-6000:]
    assert run.returncode == 0, run.stdout[-6000:]
    # the fuzzer did reach the data: store A's seeded customer is still there, and nothing leaked in
    assert Customer.objects.filter(store=creds.store, ref="c-1").exists()
    assert Order.objects.filter(store=creds.store).count() >= 1
