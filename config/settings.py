"""Settings, all read from the environment (12-factor)."""
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default):
    value = os.environ.get(name)
    return [v.strip() for v in value.split(",") if v.strip()] if value else default


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-for-debug"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_rq",
    "django_filters",
    "csp",
    "import_export",
    "merchant",
    "sync",
    "sync.erp",
    "sync.marketplaces.top.sandbox",
    "sync.marketplaces.douyin.sandbox",
    "sync.erp.sandbox",
]

MIDDLEWARE = [
    # First: every answer carries the request id, and probes are answered before host checks and redirects.
    "config.request_id.RequestIdMiddleware",
    "config.health.HealthProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "merchant.middleware.MembershipMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.i18n",
                "merchant.context_processors.membership",
                "merchant.context_processors.notifications",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the web server read while a worker writes (the demo runs both on one file).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 20}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
RQ_QUEUES = {
    name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600}
    for name in ("default", "sync", "imports")
}
RQ_SHOW_ADMIN_LINK = True
# Every queue stamps the jobs it creates with the request id (config/request_id.py), so a job's log lines name
# the request that asked for it.
RQ = {"QUEUE_CLASS": "config.rq_queue.RequestIdQueue"}
# /readyz reports the scheduler down when its last tick is older than this (a running one claims a tick at
# least every 15 s, the shortest interval of config/cron.py).
SCHEDULER_TICK_STALE_SECONDS = int(os.environ.get("SCHEDULER_TICK_STALE_SECONDS", "180"))
# Hard time limits (seconds) per job kind: RQ stops a job past its limit (the work horse gets the
# exception, so leases and runs are closed; a horse that ignores it is killed 60 s later). A sync job moves
# its checkpoint as it goes, so a stopped pull resumes from there on its next run; an import must hold
# 1,000,000 rows, which SPEC gives 120 s to apply, with room to spare on a slow machine.
SYNC_JOB_TIMEOUT = int(os.environ.get("SYNC_JOB_TIMEOUT", "600"))
IMPORT_JOB_TIMEOUT = int(os.environ.get("IMPORT_JOB_TIMEOUT", "1800"))
# At most this many jobs of one merchant run at once across all workers; another one waits
# MERCHANT_DEFER_SECONDS in RQ's schedule, so the worker takes other merchants' jobs meanwhile. A slot is
# renewed while its job runs and frees itself MERCHANT_SLOT_SECONDS after its worker died.
MERCHANT_MAX_CONCURRENT_JOBS = int(os.environ.get("MERCHANT_MAX_CONCURRENT_JOBS", "2"))
MERCHANT_DEFER_SECONDS = int(os.environ.get("MERCHANT_DEFER_SECONDS", "5"))
MERCHANT_SLOT_SECONDS = int(os.environ.get("MERCHANT_SLOT_SECONDS", "60"))
# An import's check renews its lease every chunk; past IMPORT_LEASE_SECONDS without renewal its worker is
# taken as dead and the check restarts from the stored file, at most IMPORT_MAX_RESTARTS times.
IMPORT_LEASE_SECONDS = int(os.environ.get("IMPORT_LEASE_SECONDS", "300"))
IMPORT_MAX_RESTARTS = int(os.environ.get("IMPORT_MAX_RESTARTS", "3"))
# The scheduler (`manage.py scheduler`, any number of them) looks for due ticks every SCHEDULER_POLL_SECONDS, so
# a tick is queued at most that late and a dead scheduler's ticks are taken over as soon. SCHEDULER_INTERVAL_SECONDS,
# when set, replaces every interval of config/cron.py (tests and trials only).
SCHEDULER_POLL_SECONDS = float(os.environ.get("SCHEDULER_POLL_SECONDS", "1"))
SCHEDULER_INTERVAL_SECONDS = float(os.environ.get("SCHEDULER_INTERVAL_SECONDS") or 0) or None

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
# Failed logins allowed per username and per client address in LOGIN_THROTTLE_WINDOW seconds
# (merchant/services/login_throttle.py). Past the limit a username is refused for the window; an address only
# waits after each failure (1 s, doubling, at most LOGIN_THROTTLE_MAX_DELAY), so a NAT is slowed, not locked.
LOGIN_THROTTLE_LIMIT = int(os.environ.get("LOGIN_THROTTLE_LIMIT", "10"))
LOGIN_THROTTLE_WINDOW = int(os.environ.get("LOGIN_THROTTLE_WINDOW", "900"))
LOGIN_THROTTLE_MAX_DELAY = int(os.environ.get("LOGIN_THROTTLE_MAX_DELAY", "60"))
# Reverse proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For names the client; empty: never read it.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# collectstatic writes here; the reverse proxy serves /static/ from it (deploy/nginx/merchant-hub.conf).
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
# Serve static files straight from the app folders, so no collectstatic step is needed to run.
WHITENOISE_USE_FINDERS = True

# Uploaded import files are kept here until the import is done with (never served to browsers directly).
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))
# Upload bounds (SPEC security bar): file size, unpacked size of a workbook, compression ratio of any one
# part (zip bombs), and data rows per import.
IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_BYTES", str(200 * 1024 * 1024)))
# Open API request bodies: 500 items of the largest kind (products) fit in well under 1 MiB.
API_MAX_BODY_BYTES = int(os.environ.get("API_MAX_BODY_BYTES", str(1024 * 1024)))
API_MAX_ITEMS = 500
# Requests per API key in each window of API_RATE_WINDOW seconds (0: no limit); docs/api.md states the default.
API_RATE_LIMIT = int(os.environ.get("API_RATE_LIMIT", "600"))
API_RATE_WINDOW = int(os.environ.get("API_RATE_WINDOW", "60"))
IMPORT_MAX_UNCOMPRESSED_BYTES = int(os.environ.get("IMPORT_MAX_UNCOMPRESSED_BYTES", str(2 * 1024**3)))
IMPORT_MAX_COMPRESSION_RATIO = int(os.environ.get("IMPORT_MAX_COMPRESSION_RATIO", "200"))
IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS", "1000000"))
# Cells in any one row (header or data, however the file numbers them) and characters of text in any one row:
# together they bound what reading one row can hold in memory, whatever the file's size.
IMPORT_MAX_COLUMNS = int(os.environ.get("IMPORT_MAX_COLUMNS", "200"))
IMPORT_MAX_ROW_CHARS = int(os.environ.get("IMPORT_MAX_ROW_CHARS", str(1024 * 1024)))
# A legacy .xls is read whole into memory (xlrd): 32 MB holds its most, 65,536 rows, of ordinary columns.
IMPORT_MAX_XLS_BYTES = int(os.environ.get("IMPORT_MAX_XLS_BYTES", str(32 * 1024 * 1024)))
# An upload over IMPORT_MAX_BYTES is refused before its body is read: ahead of CsrfViewMiddleware, which reads
# the whole form to find its token.
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.csrf.CsrfViewMiddleware"),
                  "merchant.middleware.UploadLimitMiddleware")
# Files above this size go to a temporary file rather than memory while they upload.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Shared by every web process, so login throttling counts all attempts.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "mh"}
}

# Sessions are read from the cache (Redis) and written through to the database, so a flushed Redis
# logs nobody out while a page view needs no session query.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_HTTPONLY = True
# Behind HTTPS (see README "Running behind HTTPS"): Django's own setting names, read from the environment.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", env_bool("SECURE_COOKIES", not DEBUG))
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", SESSION_COOKIE_SECURE)
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Probes of load balancers call /healthz-style URLs over plain HTTP; the redirect must not bounce them.
SECURE_REDIRECT_EXEMPT = env_list("SECURE_REDIRECT_EXEMPT", [])


def proxy_ssl_header(value: str):
    """Parse `HEADER,value` (e.g. `HTTP_X_FORWARDED_PROTO,https`) into Django's pair, or None when blank.
    Set it only when a proxy you run always sets that header (and drops the client's), or any client can
    claim HTTPS."""
    if not value.strip():
        return None
    header, _sep, secure_value = value.partition(",")
    if not header.strip() or not secure_value.strip():
        raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER must look like HTTP_X_FORWARDED_PROTO,https")
    return header.strip(), secure_value.strip()


SECURE_PROXY_SSL_HEADER = proxy_ssl_header(os.environ.get("SECURE_PROXY_SSL_HEADER", ""))

# Content Security Policy (django-csp): scripts and styles only from our own static files, so an injected
# <script> or inline handler never runs; pages keep no inline script or style for this to hold.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

PAGE_SIZE = 50
# The most orders one bulk action, print or export of a selection may take (the orders workbench).
ORDER_SELECTION_MAX = int(os.environ.get("ORDER_SELECTION_MAX", "5000"))

# The simulated TOP marketplace (SPEC D1) is served at /sandbox/top/router/rest and the simulated ERP bridge at
# /sandbox/erp/ for the demo and the tests.
SANDBOX_ENABLED = env_bool("SANDBOX_ENABLED", DEBUG)
# First pause before retrying a failed marketplace call; doubles per failure (jittered, at most 30 s).
SYNC_RETRY_BASE_SECONDS = float(os.environ.get("SYNC_RETRY_BASE_SECONDS", "0.5"))
# Outbound calls (sync/http.py) refuse loopback, private, link-local and metadata addresses unless the host is
# listed here: host names, host:port pairs, addresses or CIDR networks, comma-separated.
OUTBOUND_ALLOWED_HOSTS = env_list("OUTBOUND_ALLOWED_HOSTS", [])
# The address the sandbox is served at (config/stack.py runs the web server on HOST:PORT); allowed as a
# destination while SANDBOX_ENABLED is on, so the demo connections reach it.
SANDBOX_ADDRESS = os.environ.get("SANDBOX_ADDRESS") or "{}:{}".format(
    "127.0.0.1" if os.environ.get("HOST", "127.0.0.1") in ("0.0.0.0", "::") else os.environ.get("HOST", "127.0.0.1"),
    os.environ.get("PORT", "8000"))
# Every outbound call ends within this many seconds, connect to last byte (the read timeout only bounds one read).
OUTBOUND_TOTAL_TIMEOUT = float(os.environ.get("OUTBOUND_TOTAL_TIMEOUT", "60"))
# Largest answer read from a marketplace gateway / an ERP bridge (a 100-trade page with every field is ~1 MB).
TOP_MAX_RESPONSE_BYTES = int(os.environ.get("TOP_MAX_RESPONSE_BYTES", str(16 * 1024 * 1024)))
DOUYIN_MAX_RESPONSE_BYTES = int(os.environ.get("DOUYIN_MAX_RESPONSE_BYTES", str(16 * 1024 * 1024)))
# Largest body of a message Douyin POSTs to /hooks/douyin/ (its pushes carry a few small messages).
DOUYIN_HOOK_MAX_BYTES = int(os.environ.get("DOUYIN_HOOK_MAX_BYTES", str(1024 * 1024)))
ERP_MAX_RESPONSE_BYTES = int(os.environ.get("ERP_MAX_RESPONSE_BYTES", str(16 * 1024 * 1024)))
# A connection test still queued after this many seconds is shown as not picked up by a worker.
CONNECTION_TEST_STALE_SECONDS = int(os.environ.get("CONNECTION_TEST_STALE_SECONDS", "30"))
# Notifications (SPEC M15): the same event about the same thing (a connection, a product, an import) is notified
# at most once in this many seconds; robot messages link to SITE_URL + the page to act on (no link when unset).
NOTIFY_COOLDOWN_SECONDS = int(os.environ.get("NOTIFY_COOLDOWN_SECONDS", "3600"))
# Drift repair (SPEC S12): each marketplace connection's quantities are read back and repaired this often
# (seconds; 0 turns the periodic check off, `sync_run ID stock_check` still runs one).
STOCK_CHECK_INTERVAL = int(os.environ.get("STOCK_CHECK_INTERVAL", "3600"))
# Unusual answers (SPEC S13): successful answers of a method learned before its shape is fixed and compared.
ANOMALY_LEARN_ANSWERS = int(os.environ.get("ANOMALY_LEARN_ANSWERS", "20"))
SITE_URL = os.environ.get("SITE_URL", "").rstrip("/")
# Bearer token that /metrics (Prometheus) requires; /metrics answers 404 while it is empty.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# Key for secrets stored in the database (connection app secrets, session tokens); defaults to one derived
# from SECRET_KEY, so set it explicitly if SECRET_KEY may ever be rotated.
FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY", "")

# LOG_FORMAT=json: one JSON object per line (config/log_json.py); otherwise plain lines. Both carry the request id.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").strip().lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be plain or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
                   "json": {"()": "config.log_json.JsonFormatter"}},
    "filters": {"expected_refusals": {"()": "config.log_filters.ExpectedRefusalsWithoutTraceback"},
                "request_id": {"()": "config.request_id.RequestIdFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # urllib3 logs every request line at DEBUG, query string and path included: a robot's webhook carries its
    # token there (sync/http.py logs its own failures without them).
    # django.request: a 403/404 the app gives on purpose is one line, not a traceback (config/log_filters.py).
    "loggers": {"django.db.backends": {"level": "WARNING"}, "urllib3": {"level": "INFO"},
                "django.request": {"filters": ["expected_refusals"]}},
}
if LOG_FORMAT == "json":
    # runserver's request lines have a handler of their own in Django's defaults: JSON too.
    LOGGING["loggers"]["django.server"] = {"handlers": ["console"], "level": "INFO", "propagate": False}
