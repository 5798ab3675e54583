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
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg

CHECKOUT = Path(__file__).resolve().parent.parent
DEPLOY = CHECKOUT / "deploy"
PYTHON = CHECKOUT / ".venv" / "bin" / "python"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
DBNAME = "twc"
NODES = ("node1", "node2")
APP_SERVERS = ("app1", "app2")
# Binary -> Debian package, installed with apt-get when missing.
PACKAGES = {
    "/usr/bin/pg_autoctl": "pg-auto-failover-cli",
    "/usr/lib/postgresql/15/lib/pgautofailover.so": "postgresql-15-auto-failover",
    "/usr/sbin/haproxy": "haproxy",
    "/usr/sbin/pgbouncer": "pgbouncer",
    "/usr/bin/openssl": "openssl",
    "/usr/bin/psql": "postgresql-client-15",
}
# The monitor's failure detection, tuned from its defaults (5 s checks, 2 retries 2 s apart, 20 s
# without a keeper report, 30 s for the old primary to demote) so that a crashed primary is
# replaced in seconds. A shorter demote timeout is safe here because commit is synchronous: a
# primary cut off from the monitor cannot acknowledge a write its standby has not received.
MONITOR_SETTINGS = {
    "pgautofailover.health_check_period": "1000",
    "pgautofailover.health_check_timeout": "1000",
    "pgautofailover.health_check_max_retries": "1",
    "pgautofailover.health_check_retry_delay": "500",
    "pgautofailover.node_considered_unhealthy_timeout": "3000",
    "pgautofailover.primary_demote_timeout": "3000",
}


# Each component's port: the port base plus its slot; taken ones are replaced from SPARE_PORTS.
PORT_SLOTS = {"monitor": 0, "node1": 1, "node2": 2, "pgbouncer": 3, "redis": 5, "app1": 10, "app2": 11}
PORT_SLOTS |= {"lb": 20, "lb_stats": 21}
SPARE_PORTS = range(30, 50)


class Cluster:
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

    def start_monitor(self) -> None:
        self.claim_port("monitor")
        data = self.postgres_dir("pg", "monitor")
        self.start(
            "monitor",
            [
                "pg_autoctl",
                "create",
                "monitor",
                "--pgdata",
                str(data),
                "--pgport",
                str(self.monitor_port),
                "--hostname",
                "127.0.0.1",
                "--auth",
                "trust",
                "--no-ssl",
                "--run",
            ],
            as_postgres=True,
        )
        wait_until(lambda: can_connect(self.monitor_url), timeout=240, what="the pg_auto_failover monitor")
        superuser = f"postgres://postgres@127.0.0.1:{self.monitor_port}/pg_auto_failover"
        with psycopg.connect(superuser, autocommit=True) as monitor:
            for name, value in MONITOR_SETTINGS.items():
                monitor.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            monitor.execute("SELECT pg_reload_conf()")

    def start_node(self, name: str) -> None:
        self.claim_port(name)
        data = self.postgres_dir("pg", name)
        self.start(
            name,
            [
                "pg_autoctl",
                "create",
                "postgres",
                "--pgdata",
                str(data),
                "--pgport",
                str(self.node_ports[name]),
                "--hostname",
                "127.0.0.1",
                "--name",
                name,
                "--dbname",
                DBNAME,
                "--monitor",
                self.monitor_url,
                "--auth",
                "trust",
                "--no-ssl",
                "--run",
            ],
            as_postgres=True,
        )

    def formation(self) -> dict[str, tuple[str, str, int]]:
        """{node name: (reported state, goal state, port)} as the monitor sees them."""
        with psycopg.connect(self.monitor_url, connect_timeout=2) as monitor:
            rows = monitor.execute(
                "SELECT nodename, reportedstate::text, goalstate::text, nodeport FROM pgautofailover.node"
            ).fetchall()
        return {name: (reported, goal, port) for name, reported, goal, port in rows}

    def wait_for_states(self, wanted: dict[str, str], timeout: float, meanwhile=None) -> None:
        def reached() -> bool:
            if meanwhile is not None:
                meanwhile()
            try:
                nodes = self.formation()
            except psycopg.Error:
                return False
            return all(nodes.get(n, ("", "", 0))[:2] == (state, state) for n, state in wanted.items())

        wait_until(reached, timeout=timeout, what=f"states {wanted}")

    def primary(self) -> str | None:
        for name, (reported, goal, _) in self.formation().items():
            if reported == goal and reported in ("primary", "wait_primary", "single"):
                return name
        return None

    def start_pgbouncer(self) -> None:
        self.claim_port("pgbouncer")
        directory = self.path("pgbouncer")
        (directory / "userlist.txt").write_text('"postgres" ""\n')
        template = (DEPLOY / "pgbouncer.ini").read_text()
        config = template.replace("$pgbouncer_port", str(self.pgbouncer_port)).replace("$pgbouncer_dir", str(directory))
        (directory / "pgbouncer.ini").write_text(config)
        follow = [
            str(PYTHON),
            str(DEPLOY / "follow_primary.py"),
            "--monitor",
            self.monitor_url,
            "--databases-file",
            str(directory / "databases.ini"),
            "--pgbouncer-port",
            str(self.pgbouncer_port),
            "--dbname",
            DBNAME,
        ]
        subprocess.run([*follow, "--once"], check=True)
        self.start("pgbouncer", ["pgbouncer", str(directory / "pgbouncer.ini")], as_postgres=True)
        wait_until(lambda: can_connect(self.database_url("twc")), timeout=30, what="PgBouncer")
        self.start("follow_primary", follow)

    def database_url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.pgbouncer_port}/{dbname}"

    def redis_url(self) -> str:
        """CLUSTER_REDIS_URL (default: the machine's Redis, db 12) when it answers; else a Redis of
        the cluster's own."""
        url = os.environ.get("CLUSTER_REDIS_URL", "redis://127.0.0.1:6379/12")
        import redis

        try:
            redis.Redis.from_url(url, socket_timeout=1).ping()
            return url
        except redis.RedisError:
            pass
        install_missing_packages({"/usr/bin/redis-server": "redis-server"})
        self.claim_port("redis")
        self.start(
            "redis",
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.own_redis_port),
                "--save",
                "",
                "--dir",
                str(self.dir),
            ],
        )
        own = f"redis://127.0.0.1:{self.own_redis_port}/0"
        wait_until(lambda: redis_answers(own), timeout=20, what="Redis")
        return own

    def app_env(self, redis_url: str) -> dict[str, str]:
        secret = self.path("secret_key")
        if not secret.exists():
            secret.write_text(secrets.token_urlsafe(48))
            os.chmod(secret, 0o600)
        return {
            "DJANGO_ENV": "production",
            "DJANGO_SECRET_KEY": secret.read_text(),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
            # Per-address limits key on the client's address HAProxy writes, not HAProxy's own.
            "TRUSTED_PROXY_COUNT": "1",
            "PUBLIC_BASE_URL": self.url,
            "DATABASE_URL": self.database_url(DBNAME),
            "DATABASE_REPLICA_URL": self.database_url(f"{DBNAME}_replica"),
            "DATABASE_PGBOUNCER": "1",
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": f"twc-cluster-{self.base}:",
            # Two cores shared by everything here: two processes of four threads per server.
            "WEB_CONCURRENCY": os.environ.get("CLUSTER_WEB_CONCURRENCY", "2"),
            "GUNICORN_THREADS": os.environ.get("CLUSTER_GUNICORN_THREADS", "4"),
        }

    def migrate(self, app_env: dict[str, str]) -> None:
        # Straight to the primary, not through PgBouncer: a migration is one long session.
        primary = self.primary()
        direct = {
            **app_env,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{self.node_ports[primary]}/{DBNAME}",
            "DATABASE_PGBOUNCER": "0",
        }
        direct.pop("DATABASE_REPLICA_URL")
        subprocess.run(
            [str(PYTHON), "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=CHECKOUT,
            env={**os.environ, **direct},
            check=True,
        )

    def start_app_server(self, name: str, app_env: dict[str, str]) -> None:
        self.claim_port(name)
        bind = f"127.0.0.1:{self.app_ports[name]}"
        self.start(
            name,
            [
                str(CHECKOUT / ".venv" / "bin" / "gunicorn"),
                "-c",
                str(DEPLOY / "gunicorn.conf.py"),
                "--bind",
                bind,
                "twc.wsgi:application",
            ],
            env=app_env,
        )

    def start_balancer(self) -> None:
        self.claim_port("lb")
        self.claim_port("lb_stats")
        key, cert = self.path("tls", "balancer.key"), self.path("tls", "balancer.crt")
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "30",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            check=True,
            capture_output=True,
        )
        self.path("tls", "balancer.pem").write_text(cert.read_text() + key.read_text())
        env = {
            "TWC_CLUSTER_DIR": str(self.dir),
            "TWC_DEPLOY_DIR": str(DEPLOY),
            "TWC_LB_PORT": str(self.lb_port),
            "TWC_LB_STATS_PORT": str(self.lb_stats_port),
            "TWC_APP1_PORT": str(self.app_ports["app1"]),
            "TWC_APP2_PORT": str(self.app_ports["app2"]),
        }
        config = str(DEPLOY / "haproxy.cfg")
        subprocess.run(["haproxy", "-c", "-q", "-f", config], env={**os.environ, **env}, check=True)
        self.start("haproxy", ["haproxy", "-W", "-db", "-f", config], env=env)

    def balancer_answers(self) -> bool:
        return http_ok(f"{self.url}/readyz", cafile=self.path("tls", "balancer.crt"))

    def write_env(self, app_env: dict[str, str]) -> None:
        """KEY=value lines for `env $(cat .cluster/env) ...`: no value holds a space."""
        cafile = str(self.path("tls", "balancer.crt"))
        lines = {"URL": self.url, **app_env, "REQUESTS_CA_BUNDLE": cafile, "CURL_CA_BUNDLE": cafile}
        for name, port in self.node_ports.items():
            lines[f"CLUSTER_{name.upper()}_URL"] = f"postgres://postgres@127.0.0.1:{port}/{DBNAME}"
        lines["CLUSTER_MONITOR_URL"] = self.monitor_url
        for name, port in self.app_ports.items():
            lines[f"CLUSTER_{name.upper()}_URL"] = f"http://127.0.0.1:{port}"
        text = "".join(f"{key}={value}\n" for key, value in lines.items())
        self.path("env").write_text(text)
        os.chmod(self.path("env"), 0o600)

    # --- drills ---------------------------------------------------------------------------------
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


# --- helpers ------------------------------------------------------------------------------------
def install_missing_packages(packages: dict[str, str] = PACKAGES) -> None:
    missing = sorted({package for binary, package in packages.items() if not Path(binary).exists()})
    if not missing:
        return
    print(f"apt-get install {' '.join(missing)}")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", *missing],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


def wait_until(condition, *, timeout: float, what: str, every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def can_connect(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2) as connection:
            connection.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def port_free(port: int) -> bool:
    """Free for a server: SO_REUSEADDR as the servers set it, so a port in TIME_WAIT counts as free."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def run_sql(url: str, sql: str) -> None:
    try:
        with psycopg.connect(url, connect_timeout=2, autocommit=True) as connection:
            connection.execute(sql)
    except psycopg.Error:
        pass


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def http_ok(url: str, cafile: Path | None = None) -> bool:
    context = ssl.create_default_context(cafile=str(cafile)) if cafile and cafile.exists() else None
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as response:
            return response.status == 200
    except (OSError, ValueError):
        return False


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


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
