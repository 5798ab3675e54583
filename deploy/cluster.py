"""The production topology on one machine, from Debian's packages (docs/scaling.md, "The cluster").

    .venv/bin/python deploy/cluster.py up          # what `make cluster` runs
    .venv/bin/python deploy/cluster.py kill-app    # kill -9 one app server
    .venv/bin/python deploy/cluster.py failover    # crash the current primary (keeper and server)
    .venv/bin/python deploy/cluster.py status
    .venv/bin/python deploy/cluster.py down        # stop everything it started, remove the directory

Options (or the environment): --dir (CLUSTER_DIR, default .cluster), --port-base (CLUSTER_PORT_BASE,
default 55400). Ports, from the base: +0 monitor, +1 and +2 the PostgreSQL nodes, +3 PgBouncer,
+5 Redis (only when CLUSTER_REDIS_URL's Redis does not answer), +10 and +11 the app servers,
+20 the balancer (HTTPS), +21 its statistics page.

    client --TLS--> HAProxy --> gunicorn app1 --\\               /--> node1 (primary)
                         \\---> gunicorn app2 ---+--> PgBouncer -+       | synchronous streaming
      deliver_webhooks worker ------------------/   (follows    \\--> node2 (hot standby)
      (Redis: rate limits, idempotency, WAL positions)  the monitor)     ^ pg_auto_failover monitor

Every process is started in its own session (its own process group) and its pid recorded under
<dir>/pids/; `down` and the drills signal those groups and nothing else. PostgreSQL refuses to run
as root, so the monitor, the nodes and PgBouncer run as the `postgres` user in directories it owns.

This module keeps the cluster's bookkeeping (ports, pids, the directory), `up`, `down` and the drills;
cluster_postgres.py starts the monitor and the nodes, cluster_app_tier.py PgBouncer, Redis, the app
servers, the worker and the balancer, and cluster_system.py holds the packages and the probes.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from cluster_app_tier import APP_SERVERS, AppTier
from cluster_postgres import DBNAME, NODES, PostgresNodes
from cluster_system import (
    CHECKOUT,
    PG_BIN,
    PYTHON,
    alive,
    can_connect,
    group_alive,
    http_ok,
    install_missing_packages,
    port_free,
    run_sql,
    signal_group,
    wait_until,
)

# Each component's port: the port base plus its slot; taken ones are replaced from SPARE_PORTS.
PORT_SLOTS = {"monitor": 0, "node1": 1, "node2": 2, "pgbouncer": 3, "redis": 5, "app1": 10, "app2": 11}
PORT_SLOTS |= {"lb": 20, "lb_stats": 21}
SPARE_PORTS = range(30, 50)


class Cluster(PostgresNodes, AppTier):
    def __init__(self, directory: Path, port_base: int):
        self.dir = directory.resolve()
        self.base = port_base
        saved = self.path("ports.json")
        self.ports = json.loads(saved.read_text()) if saved.exists() else self.preferred_ports()
        self._name_ports()

    def preferred_ports(self) -> dict[str, int]:
        return {name: self.base + slot for name, slot in PORT_SLOTS.items()}

    def _name_ports(self) -> None:
        self.monitor_port = self.ports["monitor"]
        self.node_ports = {name: self.ports[name] for name in NODES}
        self.pgbouncer_port = self.ports["pgbouncer"]
        self.own_redis_port = self.ports["redis"]
        self.app_ports = {name: self.ports[name] for name in APP_SERVERS}
        self.lb_port = self.ports["lb"]
        self.lb_stats_port = self.ports["lb_stats"]
        self.monitor_url = f"postgres://autoctl_node@127.0.0.1:{self.monitor_port}/pg_auto_failover"

    def claim_port(self, name: str) -> int:
        """The component's port, or a spare of the block when it is taken: the block lies in Linux's
        ephemeral range, so a client connection on loopback can hold a port for a while."""
        candidates = [self.ports[name], *range(self.base + SPARE_PORTS.start, self.base + SPARE_PORTS.stop)]
        taken = {port for other, port in self.ports.items() if other != name}
        port = next((p for p in candidates if p not in taken and port_free(p)), None)
        if port is None:
            raise SystemExit(f"no free port for {name} in {self.base}-{self.base + SPARE_PORTS.stop - 1}")
        if port != self.ports[name]:
            print(f"{name}: port {self.ports[name]} is taken, using {port}")
        self.ports[name] = port
        self._name_ports()
        self.path("ports.json").write_text(json.dumps(self.ports))
        return port

    # --- paths and records ----------------------------------------------------------------------
    def path(self, *parts: str) -> Path:
        return self.dir.joinpath(*parts)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.lb_port}"

    def pid(self, name: str) -> int | None:
        record = self.path("pids", name)
        return int(record.read_text()) if record.exists() else None

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None, as_postgres: bool = False) -> int:
        """Start `command` in a new session, log to logs/<name>.log, record its pid."""
        if as_postgres:
            settings = [f"{key}={value}" for key, value in self.pg_env().items()]
            command = ["runuser", "-u", "postgres", "--", "env", *settings, *command]
        log = open(self.path("logs", f"{name}.log"), "ab")
        process = subprocess.Popen(
            command,
            cwd=CHECKOUT,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.path("pids", name).write_text(str(process.pid))
        return process.pid

    def pg_env(self) -> dict[str, str]:
        # pg_autoctl keeps its configuration and state under XDG directories: inside the cluster's
        # own directory, so that `down` removes them and another cluster directory never sees them.
        return {
            "PATH": f"{PG_BIN}:/usr/sbin:/usr/bin:/sbin:/bin",
            "PG_CONFIG": str(PG_BIN / "pg_config"),
            "XDG_CONFIG_HOME": str(self.path("pg", "xdg", "config")),
            "XDG_DATA_HOME": str(self.path("pg", "xdg", "data")),
            "XDG_RUNTIME_DIR": str(self.path("pg", "xdg", "run")),
            "HOME": str(self.path("pg")),
        }

    def postgres_dir(self, *parts: str) -> Path:
        directory = self.path(*parts)
        directory.mkdir(parents=True, exist_ok=True)
        shutil.chown(directory, "postgres", "postgres")
        return directory

    # --- up -------------------------------------------------------------------------------------
    def up(self) -> None:
        if self.path("env").exists() and self.balancer_answers():
            print(f"cluster already up: {self.url} (env in {self.path('env')})")
            return
        if self.dir.exists() and any(self.dir.iterdir()):
            print(f"removing the stale {self.dir}")
            self.down()
        install_missing_packages()
        self.ports = self.preferred_ports()
        self._name_ports()
        started = time.monotonic()
        for sub in ("pids", "logs", "tls", "haproxy"):
            self.path(sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        for sub in ("pg", "pg/xdg", "pg/xdg/config", "pg/xdg/data", "pg/xdg/run", "pgbouncer"):
            self.postgres_dir(*sub.split("/"))
        os.chmod(self.path("pg", "xdg", "run"), 0o700)

        self.start_monitor()
        self.start_node(NODES[0])
        self.wait_for_states({NODES[0]: "single"}, timeout=120)
        self.start_node(NODES[1])
        # pg_basebackup waits for a checkpoint, spread over minutes by default: ask for one now.
        primary_url = f"postgres://postgres@127.0.0.1:{self.node_ports[NODES[0]]}/{DBNAME}"
        self.wait_for_states(
            {NODES[0]: "primary", NODES[1]: "secondary"},
            timeout=180,
            meanwhile=lambda: run_sql(primary_url, "CHECKPOINT"),
        )
        with psycopg.connect(primary_url) as primary:
            (standbys,) = primary.execute("SHOW synchronous_standby_names").fetchone()
        if not standbys:
            raise SystemExit("the primary does not wait for its standby: synchronous_standby_names is empty")
        took = time.monotonic() - started
        print(f"postgres: {NODES[0]} primary, {NODES[1]} synchronous standby ({standbys}), {took:.0f} s")

        self.start_pgbouncer()
        redis_url = self.redis_url()
        app_env = self.app_env(redis_url)
        self.migrate(app_env)
        for name in APP_SERVERS:
            self.start_app_server(name, app_env)
        self.start("deliver_webhooks", [str(PYTHON), "manage.py", "deliver_webhooks"], env=app_env)
        for name, port in self.app_ports.items():
            wait_until(lambda p=port: http_ok(f"http://127.0.0.1:{p}/readyz"), timeout=60, what=f"{name} /readyz")
        self.start_balancer()
        wait_until(self.balancer_answers, timeout=30, what="the balancer")
        self.write_env(app_env)
        print(f"cluster up in {time.monotonic() - started:.0f} s: {self.url}  (env: {self.path('env')})")

    def kill_app(self, name: str | None = None) -> str:
        name = name or next((n for n in APP_SERVERS if alive(self.pid(n))), None)
        if name is None:
            raise SystemExit("no app server is running")
        os.killpg(self.pid(name), signal.SIGKILL)  # gunicorn's arbiter and its workers, as a crash
        print(f"killed {name} (pid {self.pid(name)}) with SIGKILL")
        return name

    def failover(self) -> str:
        """Crash the primary: SIGKILL the node's whole process group (runuser, the pg_autoctl keeper,
        its "start/stop postgres" child and the postmaster), then its postmaster by the pid in
        postmaster.pid in case it left the group. Killing only the top pg_autoctl process left the
        child alive, and it restarted the old primary read-write (docs/scaling.md)."""
        name = self.primary()
        if name is None:
            raise SystemExit("the monitor names no primary now")
        os.killpg(self.pid(name), signal.SIGKILL)
        crashed = time.monotonic()
        postmaster = self.path("pg", name, "postmaster.pid")
        if postmaster.exists():
            pid = int(postmaster.read_text().split()[0])
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        wait_until(
            lambda: not can_connect(f"postgres://postgres@127.0.0.1:{self.node_ports[name]}/{DBNAME}"),
            timeout=10,
            what=f"{name} to stop answering",
        )
        print(f"crashed the primary {name} (port {self.node_ports[name]})", flush=True)
        wait_until(lambda: self.primary() not in (None, name), timeout=60, what="a new primary", every=0.2)
        print(f"{self.primary()} promoted {time.monotonic() - crashed:.1f} s after the crash")
        return name

    def status(self) -> dict[str, object]:
        processes = {path.name: alive(int(path.read_text())) for path in sorted(self.path("pids").glob("*"))}
        try:
            formation: object = self.formation()
        except psycopg.Error as exc:
            formation = f"monitor unreachable: {exc.__class__.__name__}"
        return {"dir": str(self.dir), "url": self.url, "processes": processes, "formation": formation}

    # --- down -----------------------------------------------------------------------------------
    def down(self) -> None:
        """SIGTERM every recorded process group (newest first), SIGKILL what is left after 15 s, then
        any postmaster still running from the cluster's data directories; remove the directory."""
        records = sorted(self.path("pids").glob("*"), key=lambda p: p.stat().st_mtime, reverse=True)
        pids = [int(path.read_text()) for path in records] if self.path("pids").exists() else []
        for pid in pids:
            signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(group_alive(pid) for pid in pids):
            time.sleep(0.2)
        for pid in pids:
            signal_group(pid, signal.SIGKILL)
        for postmaster in self.dir.glob("pg/*/postmaster.pid"):
            try:
                pid = int(postmaster.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if alive(pid) and "postgres" in Path(f"/proc/{pid}/comm").read_text():
                os.kill(pid, signal.SIGKILL)
        self.forget_shared_state()
        shutil.rmtree(self.dir, ignore_errors=True)
        print(f"cluster down: {self.dir} removed")

    def forget_shared_state(self) -> None:
        """Delete the cluster's keys (its own prefix) from a Redis it did not start."""
        env_file = self.path("env")
        if not env_file.exists():
            return
        env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
        if "REDIS_URL" not in env or "REDIS_KEY_PREFIX" not in env:
            return
        import redis

        try:
            client = redis.Redis.from_url(env["REDIS_URL"], socket_timeout=2)
            keys = list(client.scan_iter(match=f"{env['REDIS_KEY_PREFIX']}*", count=1000))
            if keys:
                client.delete(*keys)
        except redis.RedisError:
            pass  # a Redis of the cluster's own is gone with it


def main() -> None:
    parser = argparse.ArgumentParser(description="The production topology on one machine.")
    parser.add_argument("action", choices=["up", "kill-app", "failover", "status", "down"])
    parser.add_argument("--dir", default=os.environ.get("CLUSTER_DIR", str(CHECKOUT / ".cluster")))
    parser.add_argument("--port-base", type=int, default=int(os.environ.get("CLUSTER_PORT_BASE", "55400")))
    args = parser.parse_args()
    cluster = Cluster(Path(args.dir), args.port_base)
    if args.action == "up":
        try:
            cluster.up()
        except BaseException:
            # Leave nothing running: show the end of every log, then stop what was started.
            for log in sorted(cluster.path("logs").glob("*.log")):
                print(f"--- {log.name}", *log.read_text(errors="replace").splitlines()[-15:], sep="\n", file=sys.stderr)
            print("cluster up failed; stopping what it started", file=sys.stderr)
            cluster.down()
            raise
    elif args.action == "kill-app":
        cluster.kill_app()
    elif args.action == "failover":
        cluster.failover()
    elif args.action == "status":
        print(json.dumps(cluster.status(), indent=2))
    else:
        cluster.down()


if __name__ == "__main__":
    main()
