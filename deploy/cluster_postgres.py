"""The PostgreSQL part of `deploy/cluster.py`: the pg_auto_failover monitor and the two nodes (a
primary and a synchronous hot standby), run as the `postgres` user, and their states as the
monitor reports them. A mixin of `cluster.Cluster`, whose process and port bookkeeping it uses."""

import psycopg
from cluster_system import can_connect, wait_until

DBNAME = "twc"
NODES = ("node1", "node2")
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


class PostgresNodes:
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
