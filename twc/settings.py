"""Settings for TWC Customers: one module, every knob from the environment (see .env.example)."""

import hashlib
import os
import tempfile
import warnings
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# DJANGO_ENV=production turns on the HTTPS-only posture below; the default stays plain HTTP so that
# `make run`, the tests and local tools work without a TLS proxy.
PRODUCTION = os.environ.get("DJANGO_ENV", "development").strip().lower() == "production"

DEBUG = env_bool("DEBUG", False)
DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-in-production-0123456789"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or DEV_SECRET_KEY
if PRODUCTION and (DEBUG or SECRET_KEY == DEV_SECRET_KEY):
    raise ImproperlyConfigured("DJANGO_ENV=production needs DEBUG off and its own DJANGO_SECRET_KEY.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# --- HTTPS posture (each one can be set on its own; DJANGO_ENV=production sets them all) --------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
# A load balancer probes the health endpoints over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", PRODUCTION)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000" if PRODUCTION else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PRODUCTION)
# Behind a TLS-terminating proxy: SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = tuple(env_list("SECURE_PROXY_SSL_HEADER"))[:2]
# Proxies in front of the app that append to X-Forwarded-For (twc.client_address): 1 behind deploy/'s HAProxy.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "oauth2_provider",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "tenants",
    "customers",
    "accounts",
    "corsheaders",
    "events",
    "twc.api",
]

MIDDLEWARE = [
    "twc.logs.RequestLogMiddleware",
    "twc.api.middleware.NoStoreMiddleware",
    # CORS for /api/me only, from the origins each store allows (accounts.cors).
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "twc.api.middleware.ApiBodyLimitMiddleware",
    # Resolves the token to request.store once; the rate limiter and idempotency keys read it.
    "tenants.middleware.StoreMiddleware",
    # After a write, the WAL position its application's next reads from the standby must wait for.
    "twc.replica.WritePositionMiddleware",
    "twc.api.ratelimit.RateLimitMiddleware",
    "twc.api.idempotency.IdempotencyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Innermost, so that a database outage raised by any view (the token endpoint, the admin) is a 503.
    "twc.api.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "twc.urls"
WSGI_APPLICATION = "twc.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# DATABASE_URL selects the database; without it an SQLite file in the project folder.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        # A health check is one more round trip (SELECT 1) on the first query of every request.
        conn_health_checks=env_bool("CONN_HEALTH_CHECKS", True),
    )
}
# A connection that finished a request without error this recently skips that check (one round trip
# fewer per request under load; twc/connection_health.py says what it risks). 0: check every request.
CONN_HEALTH_CHECK_SKIP_SECONDS = float(os.environ.get("CONN_HEALTH_CHECK_SKIP_SECONDS", "1"))
# Every statement of a process that serves HTTP is cut after this many milliseconds (the API answers
# 503); 0: never. twc/wsgi.py applies it, so commands and migrations run uncut (twc/statement_timeout.py).
DATABASE_STATEMENT_TIMEOUT_MS = int(os.environ.get("DATABASE_STATEMENT_TIMEOUT_MS", "5000"))
DATABASE_POOL_MAX_SIZE = int(os.environ.get("DATABASE_POOL_MAX_SIZE", "0"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_POOL_MAX_SIZE > 0:
    # psycopg's connection pool (Django 5.1+) instead of persistent connections, which Django
    # refuses alongside a pool. See docs/scaling.md.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": int(os.environ.get("DATABASE_POOL_MIN_SIZE", "1")),
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": float(os.environ.get("DATABASE_POOL_TIMEOUT", "10")),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and os.environ.get("DATABASE_PREPARE_THRESHOLD"):
    # Server-side binding, and statements prepared after this many runs on a connection (psycopg's
    # prepare_threshold): PostgreSQL then skips parsing and planning the hot statements. Off by
    # default: PgBouncer in transaction mode needs 1.21+ with max_prepared_statements for it
    # (docs/scaling.md); docs/performance.md has what it measured.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=int(os.environ["DATABASE_PREPARE_THRESHOLD"])
    )
# Behind PgBouncer in transaction pooling (docs/scaling.md): a server connection is ours for one
# transaction only, so no named (server-side) cursors, no prepared statements, no session state;
# the statement timeout is then PgBouncer's `connect_query`, not a startup option it would refuse.
DATABASE_PGBOUNCER = env_bool("DATABASE_PGBOUNCER", False)
# A hot standby for the list, count, search and feed, used only when it has replayed the client's
# own last write (twc/replica.py).
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(
        DATABASE_REPLICA_URL,
        conn_max_age=DATABASES["default"]["CONN_MAX_AGE"],
        conn_health_checks=DATABASES["default"]["CONN_HEALTH_CHECKS"],
    )
    # Tests read the replica through the primary's test database.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["twc.replica.PrimaryRouter"]
for _database in DATABASES.values():
    if DATABASE_PGBOUNCER and _database["ENGINE"] == "django.db.backends.postgresql":
        _database["DISABLE_SERVER_SIDE_CURSORS"] = True
        _database.setdefault("OPTIONS", {})["prepare_threshold"] = None  # whatever DATABASE_PREPARE_THRESHOLD says
        _database["OPTIONS"].pop("server_side_binding", None)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions + a busy timeout + WAL turn "database is locked" under concurrent
    # writers into waiting (as healthchecks does).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Tests use a file, not Django's shared in-memory database: only a file has SQLite's real
    # locking (busy timeout, WAL), which the race tests need. One file per checkout.
    checkout = hashlib.sha1(str(BASE_DIR).encode()).hexdigest()[:8]
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("SQLITE_TEST_NAME") or str(Path(tempfile.gettempdir()) / f"twc-test-{checkout}.sqlite3")
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Argon2id hashes every new password (customers' and staff's); the others verify older and imported
# hashes, which are rehashed with Argon2id at the next successful sign-in (docs/accounts.md).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "accounts.hashers.ImportedBcryptPasswordHasher",
]
if env_bool("FAST_PASSWORD_HASHER"):
    # Tests only: checking a PBKDF2-hashed client secret costs ~0.2 s of CPU per token request.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves /static/ (the admin's and the API docs' assets) with DEBUG off too, under
# runserver and gunicorn alike; finders make `collectstatic` optional.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# Without `collectstatic` STATIC_ROOT does not exist; the finders serve the files then.
warnings.filterwarnings("ignore", message="No directory at: ")

# --- Email (account invites) ----------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "TWC Customers <no-reply@localhost>")
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000")

# --- API ------------------------------------------------------------------------------------
# A 10,000-customer upload is 2-3.5 MB; Django's 2.5 MB default would answer it with an HTML 400.
# The API's own limit check (twc.api.middleware) answers anything larger with 413 in JSON.
API_MAX_BODY_BYTES = int(os.environ.get("API_MAX_BODY_BYTES", str(20 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
UPLOAD_MAX_ITEMS = 10_000

# --- Events and webhooks (docs/events.md) ------------------------------------------------------
# Days an event is kept (the feed and redelivery); erase_deleted_customers deletes older ones.
EVENTS_RETENTION_DAYS = int(os.environ.get("EVENTS_RETENTION_DAYS", "30"))
# Development and tests only: let webhook URLs use http, and private or loopback addresses.
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", False)
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", False)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.authentication.StoreTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.permissions.HasStoreScope"],
    "DEFAULT_RENDERER_CLASSES": ["twc.api.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["twc.api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "twc.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# --- Shared state, rate limits, idempotency (docs/api.md "Rate limits" and "Safe retries") -------
# Redis when REDIS_URL is set (atomic across processes); the database otherwise.
REDIS_URL = os.environ.get("REDIS_URL", "")
REDIS_KEY_PREFIX = os.environ.get("REDIS_KEY_PREFIX", "twc:")
RATE_LIMIT_ENABLED = env_bool("RATE_LIMIT_ENABLED", True)
# Per OAuth application: a steady rate and a burst (token bucket); Store fields override both.
RATE_LIMIT_PER_SECOND = float(os.environ.get("RATE_LIMIT_PER_SECOND", "100"))
RATE_LIMIT_BURST = int(os.environ.get("RATE_LIMIT_BURST", "1000"))
# A process takes this many of an application's tokens at once while its bucket holds plenty, and
# spends them within RATE_LIMIT_LOCAL_SECONDS (twc/api/ratelimit.py): one round trip to the shared
# store per batch instead of per request. 1: every request takes its token from the shared store.
RATE_LIMIT_LOCAL_BATCH = int(os.environ.get("RATE_LIMIT_LOCAL_BATCH", "16"))
RATE_LIMIT_LOCAL_SECONDS = float(os.environ.get("RATE_LIMIT_LOCAL_SECONDS", "1"))
# /o/token/, /o/revoke_token/, /o/introspect/: failed client authentications (each costs a hash)
# per client IP, per decoded client_id and for the whole service (tenants/oauth_limits.py).
TOKEN_RATE_LIMIT_PER_SECOND = float(os.environ.get("TOKEN_RATE_LIMIT_PER_SECOND", "10"))
TOKEN_RATE_LIMIT_BURST = int(os.environ.get("TOKEN_RATE_LIMIT_BURST", "100"))
TOKEN_CLIENT_RATE_LIMIT_PER_SECOND = float(os.environ.get("TOKEN_CLIENT_RATE_LIMIT_PER_SECOND", "2"))
TOKEN_CLIENT_RATE_LIMIT_BURST = int(os.environ.get("TOKEN_CLIENT_RATE_LIMIT_BURST", "30"))
TOKEN_GLOBAL_RATE_LIMIT_PER_SECOND = float(os.environ.get("TOKEN_GLOBAL_RATE_LIMIT_PER_SECOND", "5"))
TOKEN_GLOBAL_RATE_LIMIT_BURST = int(os.environ.get("TOKEN_GLOBAL_RATE_LIMIT_BURST", "100"))
# Secrets checked at once per process, and how long a request waits for a slot before a 503.
OAUTH_HASH_CONCURRENCY = int(os.environ.get("OAUTH_HASH_CONCURRENCY", "2"))
OAUTH_HASH_WAIT_SECONDS = float(os.environ.get("OAUTH_HASH_WAIT_SECONDS", "5"))
OAUTH_MAX_BODY_BYTES = int(os.environ.get("OAUTH_MAX_BODY_BYTES", "16384"))
# /admin/login/: failed staff sign-ins per username and per client IP (tenants/admin_login.py).
ADMIN_LOGIN_USER_FAILURES_BURST = int(os.environ.get("ADMIN_LOGIN_USER_FAILURES_BURST", "5"))
ADMIN_LOGIN_USER_FAILURES_PER_MINUTE = float(os.environ.get("ADMIN_LOGIN_USER_FAILURES_PER_MINUTE", "1"))
ADMIN_LOGIN_IP_FAILURES_BURST = int(os.environ.get("ADMIN_LOGIN_IP_FAILURES_BURST", "20"))
ADMIN_LOGIN_IP_FAILURES_PER_MINUTE = float(os.environ.get("ADMIN_LOGIN_IP_FAILURES_PER_MINUTE", "4"))
IDEMPOTENCY_TTL_SECONDS = int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", str(24 * 3600)))
# How long a request that never finished (its process died) holds its key before a retry may run.
IDEMPOTENCY_LOCK_SECONDS = int(os.environ.get("IDEMPOTENCY_LOCK_SECONDS", "300"))

# --- Customers' sign-in (docs/accounts.md) -----------------------------------------------------
# After SIGN_IN_MAX_FAILURES failures for one email of one store within the window, that email is
# locked for SIGN_IN_LOCKOUT_SECONDS, doubling with each further failure up to the maximum. The
# shopper's address (TWC-Customer-IP) is limited the same way, with its own threshold.
SIGN_IN_MAX_FAILURES = int(os.environ.get("SIGN_IN_MAX_FAILURES", "5"))
SIGN_IN_IP_MAX_FAILURES = int(os.environ.get("SIGN_IN_IP_MAX_FAILURES", "20"))
SIGN_IN_FAILURE_WINDOW_SECONDS = float(os.environ.get("SIGN_IN_FAILURE_WINDOW_SECONDS", "900"))
SIGN_IN_LOCKOUT_SECONDS = float(os.environ.get("SIGN_IN_LOCKOUT_SECONDS", "60"))
SIGN_IN_MAX_LOCKOUT_SECONDS = float(os.environ.get("SIGN_IN_MAX_LOCKOUT_SECONDS", "3600"))

CORS_URLS_REGEX = r"^/api/me(/.*)?$"
CORS_ALLOWED_ORIGINS: list[str] = []  # none for every store: each store lists its own

OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": int(os.environ.get("ACCESS_TOKEN_EXPIRE_SECONDS", "3600")),
    "SCOPES": {
        "customers:read": "Read the store's customers",
        "customers:write": "Create, update and delete the store's customers",
        "customers:sign_in": "Sign customers in (password, Multipass) and send them password resets",
    },
    "SCOPES_BACKEND_CLASS": "tenants.scopes.StoreApplicationScopes",
    # Client credentials read one way (the limits count under the same id), hashing bounded.
    "OAUTH2_VALIDATOR_CLASS": "tenants.oauth_validator.StoreOAuth2Validator",
    # RFC 9700: keep only a checksum of each access token at rest, refuse tokens in query strings.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    # Only the client-credentials grant is used; the rest of RFC 9700 costs nothing to adopt and
    # keeps `check --deploy` clean (DOT's own deploy checks).
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
}

# Seconds a checked access token is cached per process (tenants/token_cache.py). A token revoked
# elsewhere stops working in every process within this bound; 0 checks the database every request.
TOKEN_CACHE_SECONDS = float(os.environ.get("TOKEN_CACHE_SECONDS", "30"))

SPECTACULAR_SETTINGS = {
    "TITLE": "TWC Customers API",
    "DESCRIPTION": (
        "Store-scoped customer API of TWC. Every error has the shape of the `Error` component. Every response "
        "carries the application's rate-limit budget; every POST accepts an `Idempotency-Key`. See README.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Enum components named for what they hold (the upload's `status` is not any status).
    "ENUM_NAME_OVERRIDES": {
        "UploadStatusEnum": ["created", "updated", "skipped", "failed"],
        "EventTypeEnum": "events.types.EVENT_TYPES",
        "MergeKeepChoiceEnum": ["into", "from"],
    },
    # The choices are their own names (currency and country codes among them): no "`CAD` - CAD" lists.
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "twc.api.schema.add_api_conventions",
    ],
    "SERVE_AUTHENTICATION": [],
}

# JSON lines on stderr, one per request (twc.logs.RequestLogMiddleware) and per event; the
# formatter scrubs emails, phone numbers, tokens and secrets from every line.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "twc.logs.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # The request log covers 4xx; Django's own line per 4xx would repeat it.
        "django.request": {"level": "ERROR"},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
