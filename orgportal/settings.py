"""Settings: one module, configured by environment variables.

The embedded default (no variables set) runs on SQLite with a Celery broker that needs no server.
Production sets DATABASE_URL (PostgreSQL), REDIS_URL (broker and cache), SECRET_KEY and
ALLOWED_HOSTS, and leaves DEBUG off.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from orgportal.crypto import default_secret_key_file

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ORGPORTAL_VAR_DIR", BASE_DIR / "var"))


def envbool(name: str, default: str) -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), not {value!r}")


def envint(name: str, default: str) -> int:
    value = os.environ.get(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", "false")
# Under pytest the suite runs with test-friendly defaults (no TLS redirect, a fixed key).
TESTING = envbool("ORGPORTAL_TESTING", "true" if "pytest" in sys.modules else "false")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
# The embedded default (make run) writes a random key once under the user's config folder
# (orgportal.crypto.default_secret_key_file), readable by its owner only: never in the data
# folder, since the key that encrypts stored AWS secrets is derived from it.
_SECRET_KEY_FILE = Path(os.environ.get("SECRET_KEY_FILE") or default_secret_key_file(VAR_DIR))
if VAR_DIR.resolve() in _SECRET_KEY_FILE.resolve().parents:
    raise ImproperlyConfigured(
        f"SECRET_KEY_FILE {_SECRET_KEY_FILE} is inside the data folder {VAR_DIR}: keep it elsewhere."
    )
if not SECRET_KEY and _SECRET_KEY_FILE.is_file():
    SECRET_KEY = _SECRET_KEY_FILE.read_text().strip()
if not SECRET_KEY:
    if DEBUG or TESTING:
        SECRET_KEY = "insecure-development-key-never-use-in-production-0123456789"  # noqa: S105 (development and tests only)
    else:
        raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=true for local development).")

# Secrets of AWS connections are encrypted with these Fernet keys (first one encrypts; all
# decrypt, so a key can be rotated). Derived from SECRET_KEY when unset.
FERNET_KEYS = envlist("ORGPORTAL_FERNET_KEYS", "")

# Tenants. The default credential chain and named profiles are the web and worker processes'
# own AWS credentials, reaching whatever the server's role reaches: offered only when the
# deployment enables them (make run's demo does), and then only to superusers.
ALLOW_AMBIENT_CREDENTIALS = envbool("ORGPORTAL_ALLOW_AMBIENT_CREDENTIALS", "false")

# The audit trail's keys (audit/keys.py), kept out of the database so that a database writer can
# neither compute a row's hash nor sign a checkpoint: comma-separated secrets from
# ORGPORTAL_AUDIT_KEY or the file ORGPORTAL_AUDIT_KEY_FILE (first one keys new rows and signs; all
# verify, so a key can be rotated). Derived from SECRET_KEY when unset. Signed checkpoints of the
# chain go to AUDIT_CHECKPOINT_DIR (a folder outside the database's, ideally on another host or
# an append-only mount), every AUDIT_CHECKPOINT_SECONDS, and to AUDIT_CHECKPOINT_WEBHOOK if set.
AUDIT_KEYS = envlist("ORGPORTAL_AUDIT_KEY", "")
if not AUDIT_KEYS and os.environ.get("ORGPORTAL_AUDIT_KEY_FILE"):
    AUDIT_KEYS = [k.strip() for k in Path(os.environ["ORGPORTAL_AUDIT_KEY_FILE"]).read_text().split(",") if k.strip()]
AUDIT_CHECKPOINT_DIR = Path(
    os.environ.get(
        "AUDIT_CHECKPOINT_DIR",
        VAR_DIR / f"test-checkpoints-{os.getpid()}" if TESTING else BASE_DIR / "audit-checkpoints",
    )
)
AUDIT_CHECKPOINT_SECONDS = envint("AUDIT_CHECKPOINT_SECONDS", "60")
AUDIT_CHECKPOINT_WEBHOOK = os.environ.get("AUDIT_CHECKPOINT_WEBHOOK", "")

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "orgportal",
    "audit",
    "transfers",
    "handshakes",
    "policies",
    "notifications",
    "approvals",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After auth (the 400 page shows the nav), before anything reads a parameter.
    "orgportal.middleware.InputSanityMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "orgportal.middleware.SecurityHeadersMiddleware",
    # A missing role is a 403 page that names the role, the connection and who grants it.
    "orgportal.forbidden.ExplainForbiddenMiddleware",
]

ROOT_URLCONF = "front.urls"
WSGI_APPLICATION = "orgportal.wsgi.application"

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
                "orgportal.context_processors.portal",
            ],
        },
    },
]

VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'orgportal.sqlite3'}"),
        conn_max_age=envint("DB_CONN_MAX_AGE", "0"),
        conn_health_checks=True,  # a kept connection is checked before a request reuses it
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while a worker writes; IMMEDIATE makes writers queue
    # instead of failing with "database is locked" halfway through a transaction.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory: the live server, browser tests and a real Celery worker share it. One
    # per test process, so two suites running side by side never share a database.
    DATABASES["default"].setdefault("TEST", {})["NAME"] = str(VAR_DIR / f"test-{os.getpid()}.sqlite3")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# Tests serve static files from the finders; no collected copy is needed (or looked for) there.
STATIC_ROOT = None if TESTING else BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "inbox"
LOGOUT_REDIRECT_URL = "login"

# Security. Behind TLS (the default outside DEBUG) cookies are secure and HSTS is on.
SECURE_TLS = envbool("SECURE_TLS", "false" if DEBUG or TESTING else "true")
SESSION_COOKIE_SECURE = SECURE_TLS
CSRF_COOKIE_SECURE = SECURE_TLS
SECURE_SSL_REDIRECT = SECURE_TLS and envbool("SECURE_SSL_REDIRECT", "true")
SECURE_HSTS_SECONDS = 31536000 if SECURE_TLS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_TLS
SECURE_HSTS_PRELOAD = SECURE_TLS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if envbool("BEHIND_PROXY", "false") else None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", str(8 * 3600))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Celery. Without REDIS_URL the broker is kombu's filesystem transport (no server to run) with
# atomic writes (orgportal/broker.py): kombu's own lets a worker read a message still being written.
CELERY_BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # A message not acknowledged within the visibility timeout (its worker died with it) goes
    # back to the queue; swept every 10 s. It must outlast a sync and a retry's countdown (60 s
    # at most): a sync still running is only skipped by its claim, at the cost of a message.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", "120"),
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
    }
else:
    for _sub in ("out", "processed", "control"):
        (CELERY_BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost//"  # a host named: kombu warns without one
    CELERY_BROKER_TRANSPORT = "orgportal.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "out"),
        "data_folder_out": str(CELERY_BROKER_DIR / "out"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
        # kombu polls the folder; its 1 s default also paces a busy worker to ~1 task a second.
        "polling_interval": 0.2,
    }
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", "false")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
# A task whose worker process dies (SIGKILL, out of memory) is requeued for another worker,
# not acknowledged as failed.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "celery")
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# AWS. Organizations is global and served from us-east-1.
AWS_REGION = "us-east-1"
AWS_CONNECT_TIMEOUT = envint("AWS_CONNECT_TIMEOUT", "5")
AWS_READ_TIMEOUT = envint("AWS_READ_TIMEOUT", "30")
AWS_MAX_ATTEMPTS = envint("AWS_MAX_ATTEMPTS", "5")
AWS_RETRY_MODE = os.environ.get("AWS_RETRY_MODE", "standard")
if AWS_RETRY_MODE not in {"standard", "adaptive", "legacy"}:
    raise ImproperlyConfigured("AWS_RETRY_MODE must be standard, adaptive or legacy")
# AWS's per-account rate limits as one budget shared by every worker (orgportal/ratelimit.py):
# in Redis with REDIS_URL, else in AWS_RATE_LIMIT_FILE. AWS_RATE_LIMIT: "aws" limits connections
# to AWS itself, "all" emulators too, "off" none; the buckets hold AWS_RATE_LIMIT_SHARE of AWS's rate.
AWS_RATE_LIMIT = os.environ.get("AWS_RATE_LIMIT", "aws")
if AWS_RATE_LIMIT not in {"aws", "all", "off"}:
    raise ImproperlyConfigured("AWS_RATE_LIMIT must be aws, all or off")
AWS_RATE_LIMIT_FILE = Path(os.environ.get("AWS_RATE_LIMIT_FILE") or VAR_DIR / "ratelimit.sqlite3")
try:
    AWS_RATE_LIMIT_SHARE = float(os.environ.get("AWS_RATE_LIMIT_SHARE", "0.95"))
except ValueError:
    raise ImproperlyConfigured("AWS_RATE_LIMIT_SHARE must be a number such as 0.95") from None
if not 0 < AWS_RATE_LIMIT_SHARE <= 1:
    raise ImproperlyConfigured("AWS_RATE_LIMIT_SHARE must be above 0 and at most 1")

# How often beat syncs each connection, and when a page calls its data stale.
SYNC_INTERVAL_SECONDS = envint("SYNC_INTERVAL_SECONDS", "300")
STALE_AFTER_SECONDS = envint("STALE_AFTER_SECONDS", "900")

# Login throttle (orgportal/auth.py). After LOGIN_FREE_ATTEMPTS failures of one username from
# one address, that pair waits LOGIN_DELAY_SECONDS * 2^k before its next try (k = failures past
# the free ones), at most LOGIN_MAX_DELAY_SECONDS; the same user from another address is not
# held. One address across every username waits only past LOGIN_IP_ATTEMPTS failures (a ceiling
# high enough that a NAT is not held by one user mistyping). A burst ends after
# LOGIN_BURST_SECONDS without failures. The trail gets at most LOGIN_AUDIT_ROWS_PER_IP rows of
# first failures per address and burst; the rest are counted into one summary row.
LOGIN_FREE_ATTEMPTS = envint("LOGIN_FREE_ATTEMPTS", "5")
LOGIN_DELAY_SECONDS = envint("LOGIN_DELAY_SECONDS", "2")
LOGIN_MAX_DELAY_SECONDS = envint("LOGIN_MAX_DELAY_SECONDS", "900")
LOGIN_IP_ATTEMPTS = envint("LOGIN_IP_ATTEMPTS", "100")
LOGIN_BURST_SECONDS = envint("LOGIN_BURST_SECONDS", "900")
LOGIN_AUDIT_ROWS_PER_IP = envint("LOGIN_AUDIT_ROWS_PER_IP", "3")
# How many proxies of ours append to X-Forwarded-For: the client is the address the outermost one
# saw, that many hops from the right (anything further left is the client's to write). 0 ignores
# the header. Defaults to 1 with BEHIND_PROXY.
TRUSTED_PROXIES = envint("TRUSTED_PROXIES", "1" if envbool("BEHIND_PROXY", "false") else "0")

# Notifications (notifications/). Email goes through SMTP when EMAIL_HOST is set; the embedded
# default writes each message to a file under var/mail/ for a newcomer to read.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = envint("EMAIL_PORT", "25")
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "false")
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", "30")
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.filebased.EmailBackend"
)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "orgportal <orgportal@localhost>")
NOTIFY_BASE_URL = os.environ.get("NOTIFY_BASE_URL", "http://127.0.0.1:8000")  # links in messages point here
NOTIFY_ALLOWED_WEBHOOK_HOSTS = envlist("NOTIFY_ALLOWED_WEBHOOK_HOSTS", "")  # exempt from the SSRF guard
NOTIFY_MAX_ATTEMPTS = envint("NOTIFY_MAX_ATTEMPTS", "8")
NOTIFY_RETRY_BASE_SECONDS = envint("NOTIFY_RETRY_BASE_SECONDS", "30")
NOTIFY_RETRY_MAX_SECONDS = envint("NOTIFY_RETRY_MAX_SECONDS", "3600")
NOTIFY_CLAIM_TIMEOUT_SECONDS = envint("NOTIFY_CLAIM_TIMEOUT_SECONDS", "300")
NOTIFY_WEBHOOK_TIMEOUT_SECONDS = envint("NOTIFY_WEBHOOK_TIMEOUT_SECONDS", "10")
NOTIFY_TICK_SECONDS = envint("NOTIFY_TICK_SECONDS", "60")
NOTIFY_DIGEST_HOUR = envint("NOTIFY_DIGEST_HOUR", "7")

# Syncs that finish. A running sync beats every SYNC_HEARTBEAT_SECONDS; silent for
# SYNC_CLAIM_TIMEOUT_SECONDS it counts as dead (a killed worker): its claim is free again and beat's
# reaper, every SYNC_REAPER_SECONDS, closes its run and queues the sync again. A call whose
# botocore attempts (AWS_MAX_ATTEMPTS) all failed transiently is tried SYNC_RETRY_ROUNDS more times.
SYNC_HEARTBEAT_SECONDS = envint("SYNC_HEARTBEAT_SECONDS", "10")
SYNC_CLAIM_TIMEOUT_SECONDS = envint("SYNC_CLAIM_TIMEOUT_SECONDS", "60")
SYNC_REAPER_SECONDS = envint("SYNC_REAPER_SECONDS", "15")
SYNC_RETRY_ROUNDS = envint("SYNC_RETRY_ROUNDS", "3")
if SYNC_CLAIM_TIMEOUT_SECONDS < 2 * SYNC_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured("SYNC_CLAIM_TIMEOUT_SECONDS must be at least twice SYNC_HEARTBEAT_SECONDS")


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # botocore logs request bodies and headers at DEBUG: keep it quiet so no secret leaks.
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}
