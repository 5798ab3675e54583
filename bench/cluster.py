"""Throughput through the cluster's balancer against one app server reached directly.

    .venv/bin/python bench/cluster.py [--slices 4] [--seconds 5] [--connections 16]

Starts a cluster of its own (deploy/cluster.py in a temporary directory, ports from
BENCH_CLUSTER_PORT_BASE, default 55475; stopped at the end), creates a store with high rate
limits, seeds customers through the API, then runs wrk on GET /api/customers/{ref} in alternating
slices: one app server directly (plain HTTP, X-Forwarded-Proto set as the proxy would), then the
balancer (HTTPS, HAProxy, both app servers). Each slice of the balancer follows a slice of the one
server, so a neighbour's load weighs on both; the ratio is of the two means.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.single import ensure_wrk  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python")
PORT_BASE = int(os.environ.get("BENCH_CLUSTER_PORT_BASE", "55475"))
CUSTOMERS = 300

UNTHROTTLE = """
from tenants.models import Store
Store.objects.filter(name="Bench Shop").update(rate_limit_per_second=1000000, rate_limit_burst=1000000)
"""


def cluster(directory: Path, action: str) -> None:
    command = [PYTHON, str(ROOT / "deploy" / "cluster.py"), action, "--dir", str(directory)]
    subprocess.run([*command, "--port-base", str(PORT_BASE)], check=True, timeout=300)


def wrk_rps(wrk: str, url: str, connections: int, seconds: int, env: dict) -> float:
    out = subprocess.run(
        [
            wrk,
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(ROOT / "bench" / "wrk" / "get.lua"),
            url,
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"failed responses:\n{out}")
    return float(out.split("Requests/sec:")[1].split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    wrk = ensure_wrk()
    directory = Path(tempfile.mkdtemp(prefix="twc-bench-cluster-"))
    try:
        cluster(directory, "up")
        env = dict(line.split("=", 1) for line in (directory / "env").read_text().splitlines())
        run = {**os.environ, **env}
        made = subprocess.run(
            [PYTHON, "manage.py", "create_store", "--tenant", "Bench", "--json", "Bench Shop"],
            cwd=ROOT,
            env=run,
            capture_output=True,
            text=True,
            check=True,
        )
        subprocess.run([PYTHON, "manage.py", "shell", "-c", UNTHROTTLE], cwd=ROOT, env=run, check=True)
        credentials = json.loads(made.stdout)
        os.environ["REQUESTS_CA_BUNDLE"] = env["REQUESTS_CA_BUNDLE"]  # the balancer's own certificate
        session = requests.Session()
        token = session.post(
            f"{env['URL']}/o/token/",
            data={"grant_type": "client_credentials"},
            auth=(credentials["client_id"], credentials["client_secret"]),
            timeout=30,
        ).json()
        session.headers["Authorization"] = f"Bearer {token['access_token']}"
        for n in range(1, CUSTOMERS + 1):
            reply = session.post(f"{env['URL']}/api/customers", json={"id": f"c-{n}", "email": f"c{n}@bench.example"})
            assert reply.status_code == 201, reply.text
        wrk_env = {
            "BENCH_TOKEN": token["access_token"],
            "BENCH_PATH": "/api/customers/",
            "BENCH_CUSTOMERS": str(CUSTOMERS),
        }
        direct_url = env["CLUSTER_APP1_URL"]
        direct_env = {**wrk_env, "BENCH_FORWARDED_PROTO": "https"}
        wrk_rps(wrk, direct_url, args.connections, 2, direct_env)  # warm both paths up
        wrk_rps(wrk, env["URL"], args.connections, 2, wrk_env)
        one, balanced = [], []
        for _ in range(args.slices):
            one.append(wrk_rps(wrk, direct_url, args.connections, args.seconds, direct_env))
            balanced.append(wrk_rps(wrk, env["URL"], args.connections, args.seconds, wrk_env))
        load = os.getloadavg()[0]
        print(
            f"GET /api/customers/{{ref}}, wrk 2 threads x {args.connections} connections, "
            f"{args.slices} alternating slices of {args.seconds} s (load average {load:.1f}, {os.cpu_count()} cores)"
        )
        print(f"  one app server directly (HTTP):      {statistics.mean(one):8.0f} req/s  {[round(x) for x in one]}")
        print(
            f"  balancer, two app servers (HTTPS):   {statistics.mean(balanced):8.0f} req/s  "
            f"{[round(x) for x in balanced]}"
        )
        print(f"  ratio balancer / one server:         {statistics.mean(balanced) / statistics.mean(one):8.2f}")
    finally:
        cluster(directory, "down")
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
