"""The app tier of `deploy/cluster.py`: PgBouncer following the primary, Redis, the app servers
with their production settings, the webhook worker's environment and the HAProxy balancer. A mixin
of `cluster.Cluster`, whose process and port bookkeeping it uses."""

import os
import secrets
import subprocess

from cluster_postgres import DBNAME
from cluster_system import (
    CHECKOUT,
    DEPLOY,
    PYTHON,
    can_connect,
    http_ok,
    install_missing_packages,
    redis_answers,
    wait_until,
)

APP_SERVERS = ("app1", "app2")


class AppTier:
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
