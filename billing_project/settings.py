"""bxb settings. Every value comes from the environment; defaults are safe for local use."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def database_from_url(url: str) -> dict:
    """Turn `postgres://user:pass@host:port/name` or `sqlite:///path` into a DATABASES entry."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        if path.startswith("//") or path.startswith("/"):  # sqlite:////absolute/path
            path = path[1:]
        name = path if path else ":memory:"
        if name != ":memory:" and not os.path.isabs(name):
            name = str(BASE_DIR / name)
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": name}
    if parsed.scheme in {"postgres", "postgresql", "pgsql"}:
        options: dict = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        # Server-side binding: psycopg sends parameters apart from the SQL text and prepares a
        # statement once it has run DATABASE_PREPARE_THRESHOLD times on a connection, so
        # PostgreSQL parses and plans it once per connection instead of once per execution
        # (docs/operations.md, "Server-side binding and prepared statements"; behind PgBouncer
        # in transaction mode it needs PgBouncer >= 1.22 with max_prepared_statements >= 200).
        if env_bool("DATABASE_SERVER_SIDE_BINDING", True):
            options["server_side_binding"] = True
            threshold = os.environ.get("DATABASE_PREPARE_THRESHOLD", "5").strip().lower()
            options["prepare_threshold"] = None if threshold in {"", "none", "off"} else int(threshold)
        # A stuck query cannot hold a web or Celery worker longer than this (0: no limit);
        # migrations lift it for their own connection (billing_project/core/apps.py).
        timeout_ms = env_int("DATABASE_STATEMENT_TIMEOUT_MS", 300_000)
        if timeout_ms > 0:
            options["options"] = f"{options.get('options', '')} -c statement_timeout={timeout_ms}".strip()
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")) or "postgres",
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": env_int("DB_CONN_MAX_AGE", 60),
            # Behind PgBouncer in transaction mode, a server-side cursor used outside a transaction
            # may be fetched on another server connection: 1 turns them off (docs/operations.md).
            "DISABLE_SERVER_SIDE_CURSORS": env_bool("DATABASE_DISABLE_SERVER_SIDE_CURSORS", False),
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(f"DATABASE_URL scheme {parsed.scheme!r} is not supported")


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG or env_bool("BXB_ALLOW_INSECURE_KEY", False):
        SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105
    # else: left empty. Serving, Celery and system checks refuse to start without it
    # (billing_project/core/secret_key.py); offline commands such as makemigrations still run.

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CORS_ORIGINS = env_list("CORS_ORIGINS", "")
# Public base URL of this deployment: the `iss` of JWT-signed webhooks, links in e-mails.
BXB_API_URL = os.environ.get("BXB_API_URL", "http://localhost:8000")

# bxb's billing apps, lowest layer first (docs/architecture.md): installed in this order, their API
# routes mounted in it (billing_project/urls.py), the staff roles' permissions drawn from them
# (customers/roles.py).
BILLING_APPS = (
    "webhooks",
    "customers",
    "catalog",
    "metering",
    "subscriptions",
    "invoicing",
    "usage_monitoring",
    "entitlements",
    "payments",
    "reporting",
    "audit",
)

INSTALLED_APPS = [
    "console",  # first: its templates (admin/base_site.html) come before Django's admin
    "console.apps.ConsoleAdminConfig",  # django.contrib.admin with the console's site (docs/console.md)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "billing_project.core",
    *BILLING_APPS,
    "ucp",
]

MIDDLEWARE = [
    "billing_project.core.middleware.RequestIdMiddleware",
    "billing_project.core.middleware.MetricsMiddleware",
    "billing_project.core.middleware.CorsMiddleware",
    "billing_project.core.middleware.ApiLimitsMiddleware",
    "audit.api_logs.ApiLogMiddleware",  # every authenticated API request, written in batches
    "django.middleware.security.SecurityMiddleware",
    "billing_project.core.middleware.SessionMiddleware",  # Django's three, passed through
    "django.middleware.common.CommonMiddleware",
    "billing_project.core.middleware.CsrfViewMiddleware",  # by /api and /v1 requests
    "billing_project.core.middleware.AuthenticationMiddleware",
    "billing_project.core.staff_auth.OTPMiddleware",  # django-otp's, skipped for /api and /v1
    "billing_project.core.staff_auth.AdminTwoFactorMiddleware",
    "audit.context.AuditActorMiddleware",
    "console.zone.ConsoleTimezoneMiddleware",  # admin pages in the organization's timezone
    "billing_project.core.middleware.MessageMiddleware",  # Django's, skipped for /api and /v1
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # answers a locked-out admin login (429)
]

# Admin sign-in protection (billing_project/core/staff_auth.py, docs/operations.md "Admin sign-in"),
# on by default in production settings, off with DEBUG (the local demo):
# * lockout (django-axes): ADMIN_LOCKOUT_FAILURES failed logins of one username from one address
#   lock that pair out for ADMIN_LOCKOUT_MINUTES (429); behind N reverse proxies set
#   ADMIN_LOCKOUT_PROXY_COUNT=N so the client address is read from X-Forwarded-For;
# * two-factor (django-otp, TOTP): ADMIN_OTP asks staff with an authenticator for a code after
#   the password; ADMIN_OTP_REQUIRED makes every staff account enroll one at its next sign-in.
AUTHENTICATION_BACKENDS = [
    "billing_project.core.staff_auth.AdminLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("ADMIN_LOCKOUT", not DEBUG)
AXES_FAILURE_LIMIT = env_int("ADMIN_LOCKOUT_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ADMIN_LOCKOUT_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ONLY_ADMIN_SITE = True
AXES_VERBOSE = False
AXES_IPWARE_PROXY_COUNT = env_int("ADMIN_LOCKOUT_PROXY_COUNT", 0) or None
ADMIN_OTP = env_bool("ADMIN_OTP", not DEBUG)
ADMIN_OTP_REQUIRED = env_bool("ADMIN_OTP_REQUIRED", not DEBUG)
OTP_TOTP_ISSUER = os.environ.get("ADMIN_OTP_ISSUER", "bxb")

# The Lago client never follows redirects and never adds a trailing slash.
APPEND_SLASH = False

ROOT_URLCONF = "billing_project.urls"
WSGI_APPLICATION = "billing_project.wsgi.application"

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

DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///db.sqlite3")
DATABASES = {"default": database_from_url(DATABASE_URL)}
# A PostgreSQL read replica for reporting and exports (billing_project/core/replica.py): opened
# read-only; nothing but `replica_reads()` blocks read from it.
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = database_from_url(DATABASE_REPLICA_URL)
    DATABASES["replica"]["OPTIONS"]["options"] = (
        DATABASES["replica"]["OPTIONS"].get("options", "") + " -c default_transaction_read_only=on"
    ).strip()
DATABASE_ROUTERS = ["billing_project.core.replica.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
FORMAT_MODULE_PATH = ["billing_project.formats"]  # one date format in the console: 2026-10-31 14:00 UTC
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "media/"

# Request bodies: event batches of 1,000 events fit comfortably. Larger API bodies get a JSON 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)

# API limits: requests per minute per API key (0 disables; Redis-backed when REDIS_URL is set),
# the Redis key prefix of the counters, and the largest `per_page` a list answers (larger is capped).
RATE_LIMIT_REQUESTS_PER_MINUTE = env_int("RATE_LIMIT_REQUESTS_PER_MINUTE", 6000)
# Seconds a worker answers API key authentication from memory (customers/auth.py). A key revoked
# in another worker is refused within this delay (at once in the worker that revoked it). 0: off.
API_KEY_CACHE_SECONDS = float(os.environ.get("API_KEY_CACHE_SECONDS") or 5)
RATE_LIMIT_KEY_PREFIX = os.environ.get("RATE_LIMIT_KEY_PREFIX", "bxb:rl:")
API_MAX_PER_PAGE = env_int("API_MAX_PER_PAGE", 1000)

# Prometheus metrics at /metrics; scrapers send `Authorization: Bearer <METRICS_TOKEN>`. Without a
# token the endpoint is closed (403 `metrics_token_not_configured`) unless METRICS_PUBLIC is on: it
# is on by default only with DEBUG (the local demo), never in production settings.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_PUBLIC = env_bool("METRICS_PUBLIC", DEBUG)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["customers.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [
        "billing_project.core.api.permissions.HasApiKey",
        "billing_project.core.api.throttling.ApiKeyRateLimit",
        "billing_project.core.api.permissions.ApiKeyScope",
    ],
    "DEFAULT_RENDERER_CLASSES": ["billing_project.core.api.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "billing_project.core.api.negotiation.ApiContentNegotiation",
    "DEFAULT_PARSER_CLASSES": ["billing_project.core.api.parsers.ExactJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "billing_project.core.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "billing_project.core.api.exceptions.lago_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "%04Y-%m-%dT%H:%M:%SZ",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "bxb API",
    "DESCRIPTION": "Usage-based and subscription billing. Compatible with Lago's public API v1.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["billing_project.core.api.schema.only_canonical_paths"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "billing_project.core.api.schema.document_errors",
    ],
}

# Celery: without REDIS_URL tasks run eagerly in-process.
REDIS_URL = os.environ.get("REDIS_URL", "")
from billing_project.routing import task_queues  # noqa: E402 - the queues are declared there

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Unset, Celery's Django fix-up closes every database connection after every task (each task then
# connects to PostgreSQL again); set, only every 2 x this many tasks, and billing_project/celery.py
# closes a broken one or one older than CONN_MAX_AGE before and after each task, as Django does
# around a request. Measured: bench/RESULTS.md, "Invoice PDFs".
CELERY_DB_REUSE_MAX = 1000
CELERY_TIMEZONE = "UTC"
# A queue per kind of work, routed in one place (billing_project/routing.py).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = task_queues()
CELERY_TASK_ROUTES = ("billing_project.routing.route_task",)
# django-celery-beat's DatabaseScheduler, keeping what ops re-timed in the admin across restarts.
CELERY_BEAT_SCHEDULER = "billing_project.beat:DatabaseScheduler"
# Workers keep Django's LOGGING (JSON lines with request ids) instead of Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The broker failing (docs/operations.md, "The broker stalls or restarts"). Redis socket timeouts
# bound what a stalled Redis costs a publish: one try and one retry on a fresh connection, about
# 2 × BROKER_SOCKET_TIMEOUT, then the task is left to the sweepers (billing_project/core/broker.py).
BROKER_SOCKET_TIMEOUT = float(os.environ.get("BROKER_SOCKET_TIMEOUT") or 0.5)
# No task runs longer than this (seconds): SoftTimeLimitExceeded a minute before, then the worker
# child is killed. A countdown (webhook retries) is never longer than CELERY_COUNTDOWN_MAX_SECONDS
# (later retries are left to the sweepers).
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 15 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = max(CELERY_TASK_TIME_LIMIT - 60, 1)
CELERY_COUNTDOWN_MAX_SECONDS = 10 * 60
# A task taken by a worker that dies is given to another worker after this long (Redis has no
# consumer acknowledgements of its own). It must exceed the longest a worker can hold a message:
# its countdown plus its run time; shorter, a task still running would be delivered twice; longer,
# a killed worker's tasks wait longer (the default of kombu is an hour). Checked at start-up.
BROKER_VISIBILITY_TIMEOUT = env_int(
    "BROKER_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + CELERY_COUNTDOWN_MAX_SECONDS + 5 * 60
)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": BROKER_SOCKET_TIMEOUT,
    "socket_connect_timeout": BROKER_SOCKET_TIMEOUT,
    "visibility_timeout": BROKER_VISIBILITY_TIMEOUT,
}
CELERY_BROKER_CONNECTION_TIMEOUT = BROKER_SOCKET_TIMEOUT
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0}
# Workers hold no broadcast (pub/sub) subscription: no remote control (`celery inspect`/`control`),
# and they run with --without-gossip --without-mingle. With one, a Redis restart could kill the
# worker (kombu closing a channel of the dead connection; scripts/fault_broker.py restart).
CELERY_WORKER_ENABLE_REMOTE_CONTROL = env_bool("CELERY_WORKER_REMOTE_CONTROL", False)

CLICKHOUSE_URL = os.environ.get("CLICKHOUSE_URL", "")
# Reads (aggregation in API requests and billing) wait at most this long for ClickHouse to connect
# and to answer, then read PostgreSQL (exact), as the readiness check does; after a failure the
# process reads PostgreSQL for CLICKHOUSE_BREAKER_SECONDS without trying (docs/metering.md).
CLICKHOUSE_TIMEOUT_SECONDS = float(os.environ.get("CLICKHOUSE_TIMEOUT_SECONDS") or 2)
CLICKHOUSE_BREAKER_SECONDS = float(os.environ.get("CLICKHOUSE_BREAKER_SECONDS") or 5)
# Copies to ClickHouse (the outbox flush and the backfill, in Celery workers and commands).
CLICKHOUSE_WRITE_TIMEOUT_SECONDS = float(os.environ.get("CLICKHOUSE_WRITE_TIMEOUT_SECONDS") or 30)
# A backfill's counts are compared (and reads may use ClickHouse) only this long after it started:
# longer than a rolling deploy takes to give CLICKHOUSE_URL to every process.
CLICKHOUSE_BACKFILL_SETTLE_SECONDS = float(os.environ.get("CLICKHOUSE_BACKFILL_SETTLE_SECONDS") or 900)

# Where the events of organizations created from now on are stored: "postgres" (the Django
# database) or "clickhouse" (ClickHouse is the store of record; needs CLICKHOUSE_URL). An existing
# organization keeps its store until `manage.py events_store_migrate` switches it (docs/metering.md,
# "ClickHouse as the store of record").
EVENTS_STORE = (os.environ.get("EVENTS_STORE") or "postgres").strip().lower()
if EVENTS_STORE not in ("postgres", "clickhouse"):
    raise ImproperlyConfigured(f"EVENTS_STORE must be postgres or clickhouse, not {EVENTS_STORE!r}")
if EVENTS_STORE == "clickhouse" and not CLICKHOUSE_URL:
    raise ImproperlyConfigured("EVENTS_STORE=clickhouse needs CLICKHOUSE_URL")

# Customers per billing task (invoicing.bill_customers; docs/invoicing.md, "The sweep").
BILLING_BATCH_SIZE = max(env_int("BILLING_BATCH_SIZE", 500), 1)

# Payments. Provider secrets are Fernet-encrypted with PAYMENTS_ENCRYPTION_KEY (a Fernet key;
# derived from SECRET_KEY when empty). Failed charges are retried after these days (1, 3, 5, 7),
# then the invoice is overdue. STRIPE_API_BASE points the Stripe SDK elsewhere (tests: a fake).
PAYMENTS_ENCRYPTION_KEY = os.environ.get("PAYMENTS_ENCRYPTION_KEY", "")
PAYMENTS_RETRY_SCHEDULE_DAYS = [int(d) for d in env_list("PAYMENTS_RETRY_SCHEDULE_DAYS", "1,3,5,7")]
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "")
STRIPE_TIMEOUT_SECONDS = float(os.environ.get("STRIPE_TIMEOUT_SECONDS", "30"))
STRIPE_MAX_NETWORK_RETRIES = int(os.environ.get("STRIPE_MAX_NETWORK_RETRIES", "2"))
# Adyen and GoCardless (payments/providers/): *_API_BASE points the SDK elsewhere (tests: a fake).
ADYEN_API_BASE = os.environ.get("ADYEN_API_BASE", "")
ADYEN_TIMEOUT_SECONDS = float(os.environ.get("ADYEN_TIMEOUT_SECONDS", "30"))
GOCARDLESS_API_BASE = os.environ.get("GOCARDLESS_API_BASE", "")
GOCARDLESS_TIMEOUT_SECONDS = float(os.environ.get("GOCARDLESS_TIMEOUT_SECONDS", "30"))
# The customer portal's signed links expire after this long (docs/portal.md).
PORTAL_LINK_MAX_AGE_SECONDS = int(os.environ.get("PORTAL_LINK_MAX_AGE_SECONDS", str(12 * 3600)))

# Email (dunning, payment requests): the console in development, SMTP when EMAIL_HOST is set.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "billing@localhost")

# Metering: events per minute per organization (0 disables the limit) and the batch size cap.
RATE_LIMIT_EVENTS_PER_MINUTE = env_int("RATE_LIMIT_EVENTS_PER_MINUTE", 6_000_000)
EVENTS_BATCH_MAX_LENGTH = env_int("EVENTS_BATCH_MAX_LENGTH", 1000)
# GET /api/v1/events counts matching events up to this many (meta.total_count_exact false beyond).
EVENTS_LIST_COUNT_LIMIT = env_int("EVENTS_LIST_COUNT_LIMIT", 10_000)
# false: event ingestion does not wait for PostgreSQL's WAL flush (faster single events; a database
# crash may lose the last moments of acknowledged events). Default: durable.
EVENTS_SYNCHRONOUS_COMMIT = env_bool("EVENTS_SYNCHRONOUS_COMMIT", True)
# Seconds a worker reuses the metric and subscription found for a single event's code and
# external_subscription_id (metering/lookups.py; changes made in another worker are seen within
# this delay, at once in the worker that made them; unknown codes/ids are never cached). 0: off.
EVENTS_LOOKUP_CACHE_SECONDS = float(os.environ.get("EVENTS_LOOKUP_CACHE_SECONDS") or 5)
# The same for the subscription behind an external_subscription_id (only the event's informational
# lago_subscription_id can be stale: usage is aggregated by external_subscription_id). 0: off.
EVENTS_SUBSCRIPTION_CACHE_SECONDS = float(os.environ.get("EVENTS_SUBSCRIPTION_CACHE_SECONDS") or 30)
# A subscription's resolved entitlements, per worker, while its organization's entitlements version
# is unchanged (every entitlements change is seen at once); this bounds only a billable metric's
# definition changed in the catalog (docs/entitlements.md, "Speed"). 0: off.
ENTITLEMENTS_CACHE_SECONDS = float(os.environ.get("ENTITLEMENTS_CACHE_SECONDS") or 60)

# Outbound webhooks. Targets on loopback, private or link-local addresses are refused unless
# allowed (tests, private deployments). Retries stop when a delivery is older than the maximum age.
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", False)
WEBHOOKS_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOKS_TIMEOUT_SECONDS") or 10)
# UCP (docs/ucp.md): fetching a platform's profile named in UCP-Agent.
UCP_PROFILE_TIMEOUT_SECONDS = float(os.environ.get("UCP_PROFILE_TIMEOUT_SECONDS") or 3)
UCP_ALLOW_PRIVATE_PROFILE_URLS = env_bool("UCP_ALLOW_PRIVATE_PROFILE_URLS", False)
WEBHOOKS_RETRY_MAX_AGE_SECONDS = env_int("WEBHOOKS_RETRY_MAX_AGE_SECONDS", 24 * 3600)
# Pay-in-advance events older than this are not looked at by the reconciliation sweep
# (docs/invoicing.md §7; `manage.py reconcile_pay_in_advance_fees --lookback-days` goes further).
PAY_IN_ADVANCE_RECONCILE_LOOKBACK_DAYS = env_int("PAY_IN_ADVANCE_RECONCILE_LOOKBACK_DAYS", 35)

# Back-dated subscriptions (docs/subscriptions.md): with `bill_past_periods`, at most this many past
# periods may be billed (422 `too_many_past_periods` beyond); and whatever the dates, one billing
# run creates at most BILLING_MAX_PERIODS_PER_RUN period invoices per subscription (the next runs
# bill the rest).
SUBSCRIPTION_MAX_PAST_PERIODS = env_int("SUBSCRIPTION_MAX_PAST_PERIODS", 12)
BILLING_MAX_PERIODS_PER_RUN = env_int("BILLING_MAX_PERIODS_PER_RUN", 12)

# Days before a subscription's `ending_at` when `subscription.termination_alert` is sent (Lago's
# LAGO_SUBSCRIPTION_TERMINATION_ALERT_SENT_AT_DAYS; default 15 and 45).
SUBSCRIPTION_TERMINATION_ALERT_DAYS = sorted(
    {int(day) for day in env_list("SUBSCRIPTION_TERMINATION_ALERT_DAYS", "15,45") if int(day) > 0}, reverse=True
)

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
# json: one JSON object per line (default when DEBUG is off); plain: a human format.
LOG_FORMAT = (os.environ.get("LOG_FORMAT") or ("plain" if DEBUG else "json")).strip().lower()
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured("LOG_FORMAT must be json or plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "billing_project.core.logging.ContextFilter"},
        "redact_urls": {"()": "billing_project.core.logging.RedactUrlsFilter"},
    },
    "formatters": {
        "json": {"()": "billing_project.core.logging.JsonFormatter"},
        "plain": {"()": "billing_project.core.logging.PlainFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context", "redact_urls"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
# Audit log retention (manage.py audit_cleanup, daily beat entry): 3 years by default.
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 1095)
# API logs (GET /api_logs; docs/audit.md "API logs"): kept API_LOGS_RETENTION_DAYS (manage.py
# api_logs_cleanup, daily beat entry); written off the request path in batches ("batched"), during
# the request ("inline") or not at all ("off"); bodies above API_LOGS_BODY_MAX_BYTES are not kept.
API_LOGS_RETENTION_DAYS = env_int("API_LOGS_RETENTION_DAYS", 30)
API_LOGS_WRITE = os.environ.get("API_LOGS_WRITE", "batched")
API_LOGS_FLUSH_SECONDS = env_int("API_LOGS_FLUSH_SECONDS", 1)
API_LOGS_BATCH_SIZE = env_int("API_LOGS_BATCH_SIZE", 200)
API_LOGS_MAX_PENDING = env_int("API_LOGS_MAX_PENDING", 20000)
API_LOGS_BODY_MAX_BYTES = env_int("API_LOGS_BODY_MAX_BYTES", 65536)
if API_LOGS_WRITE not in ("batched", "inline", "off"):
    raise ImproperlyConfigured("API_LOGS_WRITE must be batched, inline or off")

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
