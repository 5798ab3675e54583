"""gunicorn's settings for production (docs/operations.md, "The production server"):

    .venv/bin/gunicorn -c deploy/gunicorn.conf.py twc.wsgi:application

Options on the command line override these (`--bind`, `--workers`, ...), and so does
GUNICORN_CMD_ARGS. The worker count and threads come from the environment too.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")

# Threads, so that a slow or stalled client holds one thread, not a whole process; the event loop
# of each worker holds idle and kept-alive connections without a thread. The worker class is
# gunicorn's gthread with a deadline on each request head (twc/gunicorn_worker.py,
# GUNICORN_HEADER_TIMEOUT, default 10 s): without it a client trickling its headers holds a thread
# for as long as it likes.
worker_class = "twc.gunicorn_worker.HeaderTimeoutThreadWorker"
workers = int(os.environ.get("WEB_CONCURRENCY") or (os.cpu_count() or 1) + 1)
# Each thread has its own database connection: servers x workers x threads in all (docs/scaling.md).
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Open connections per worker (in a thread or waiting in the event loop); beyond it, new
# connections wait in the listen backlog.
worker_connections = 1000

# A worker whose event loop stops for this long is killed and replaced (with threads, a long request
# does not stop the loop; the database's statement timeout bounds queries).
timeout = 30
# On SIGTERM (a deploy, a scale-down): requests in flight get this long to finish.
graceful_timeout = 20
# Seconds an idle kept-alive connection stays open; a proxy or load balancer in front keeps its own
# connections open longer than this is fine, shorter is what it should be.
keepalive = 5

# Request line (method, path and query: `query` and `page_info` are the longest) and headers.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# One JSON line per request comes from the application (twc.logs); gunicorn's own access log would
# repeat it without the request id.
accesslog = None
errorlog = "-"

# gunicornc's control socket (gunicorn 25.1+) is one path per user, which every server of the user
# on the host would share; nothing here needs it. `--control-socket PATH` with this line removed
# brings it back.
control_socket_disable = True
