"""Point PgBouncer at whichever node pg_auto_failover says is primary (started by deploy/cluster.py).

    python deploy/follow_primary.py --monitor URL --databases-file PATH --pgbouncer-port N
                                    [--dbname twc] [--statement-timeout-ms 5000]

PgBouncer has one fixed host per database and cannot follow a failover by itself. Every half
second this asks the monitor which node is primary (the node whose reported and goal states agree
on a writable state) and which is a healthy secondary; when the answer changes it rewrites the
`[databases]` file that pgbouncer.ini includes, RELOADs PgBouncer and RECONNECTs the databases,
so that no server connection to the old primary is lent again. While the monitor names no
primary (a failover in progress) the file is left as it is: connections to the dead node fail, the
app answers 503, and the next poll after the promotion switches over.

Why a watcher rather than a libpq multi-host URL through one PgBouncer per node: PgBouncer hands
its clients the server parameters cached at its first server connection, so after a promotion a
client could still be told `in_hot_standby=on` and `target_session_attrs=read-write` would refuse
the new primary. The monitor is the one authority on who is primary; asking it avoids guessing.
"""

import argparse
import os
import subprocess
import sys
import time

import psycopg

WRITABLE = ("primary", "wait_primary", "single")
FORMATION_SQL = """
    SELECT nodename, nodehost, nodeport, reportedstate::text, goalstate::text
      FROM pgautofailover.node WHERE formationid = 'default' ORDER BY nodeid
"""


def choose(nodes: list[tuple[str, str, int, str, str]]) -> tuple[tuple[str, int], tuple[str, int]] | None:
    """(primary, replica) as (host, port), or None while no node is confirmed primary. The replica is
    a node in the `secondary` state, else the primary itself (reads then go to the primary)."""
    primary = next(((h, p) for _, h, p, rep, goal in nodes if rep == goal and rep in WRITABLE), None)
    if primary is None:
        return None
    replica = next(((h, p) for _, h, p, rep, goal in nodes if rep == goal == "secondary"), primary)
    return primary, replica


def databases_ini(dbname: str, primary: tuple[str, int], replica: tuple[str, int], timeout_ms: int) -> str:
    # The statement timeout of the app servers, set on each server connection PgBouncer makes:
    # PgBouncer does not pass a client's `options` startup parameter on (docs/scaling.md).
    connect_query = f" connect_query='SET statement_timeout = {timeout_ms}'" if timeout_ms > 0 else ""
    lines = ["[databases]"]
    for name, (host, port) in ((dbname, primary), (f"{dbname}_replica", replica)):
        lines.append(f"{name} = host={host} port={port} dbname={dbname}{connect_query}")
    return "\n".join(lines) + "\n"


def admin(port: int, command: str) -> None:
    """One command on PgBouncer's admin console (simple query protocol only, hence psql)."""
    subprocess.run(
        ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "pgbouncer", "-c", command],
        check=True,
        capture_output=True,
        timeout=10,
    )


def write_atomically(path: str, text: str) -> None:
    temporary = f"{path}.tmp"
    with open(temporary, "w") as file:
        file.write(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def follow(args: argparse.Namespace) -> None:
    current: str | None = open(args.databases_file).read() if os.path.exists(args.databases_file) else None
    while True:
        try:
            with psycopg.connect(args.monitor, connect_timeout=2) as monitor:
                nodes = monitor.execute(FORMATION_SQL).fetchall()
        except psycopg.Error as exc:
            print(f"follow_primary: monitor unreachable: {exc.__class__.__name__}", file=sys.stderr, flush=True)
            nodes = []
        chosen = choose(nodes)
        if chosen is not None:
            wanted = databases_ini(args.dbname, *chosen, args.statement_timeout_ms)
            if wanted != current:
                write_atomically(args.databases_file, wanted)
                if current is not None or args.reload_first:
                    try:
                        admin(args.pgbouncer_port, "RELOAD")
                        admin(args.pgbouncer_port, f"RECONNECT {args.dbname}")
                        admin(args.pgbouncer_port, f"RECONNECT {args.dbname}_replica")
                    except (subprocess.SubprocessError, OSError) as exc:
                        print(f"follow_primary: reload failed: {exc}", file=sys.stderr, flush=True)
                        time.sleep(args.interval)
                        continue  # `current` unchanged: retried on the next poll
                print(f"follow_primary: primary {chosen[0]}, replica {chosen[1]}", flush=True)
                current = wanted
        if args.once:
            return
        time.sleep(args.interval)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitor", required=True, help="the pg_auto_failover monitor's URL")
    parser.add_argument("--databases-file", required=True)
    parser.add_argument("--pgbouncer-port", type=int, required=True)
    parser.add_argument("--dbname", default="twc")
    parser.add_argument("--statement-timeout-ms", type=int, default=5000)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--once", action="store_true", help="write the file once (before PgBouncer starts)")
    parser.add_argument("--reload-first", action="store_true", help="RELOAD even on the first write")
    follow(parser.parse_args())


if __name__ == "__main__":
    main()
