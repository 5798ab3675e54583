"""Settings of the benchmark server: the service's own settings plus the floor view's URLConf.

Only `make bench` uses this module (DJANGO_SETTINGS_MODULE=bench.server.settings); production never mounts
the floor view.
"""

from twc.settings import *  # noqa: F403

ROOT_URLCONF = "bench.server.urls"
