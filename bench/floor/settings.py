"""Settings of the benchmark's floor: a bare Django application, none of the service's.

No project middleware, no DRF, no installed apps, no logging configuration: only the database (the
same one the service is measured against, with persistent connections as a competent deployment
keeps them) and the floor's URLs. `bench/single.py` runs it under gunicorn beside the service.
"""

import os

import dj_database_url

DEBUG = False
SECRET_KEY = "bench-floor-not-a-secret"  # noqa: S105 - a benchmark's throwaway server
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.floor.urls"
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False
DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
