"""Bridgedesk settings: one module, every knob from the environment.

Defaults are safe for production (DEBUG off, secure cookies, HSTS); `make run` and the
test suite turn on what a laptop needs. See the configuration table in README.md.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config import embedded
from config.env import env_bool, env_choice, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = embedded.VAR_DIR

DEBUG = env_bool("DEBUG", False)

_DEV_SECRET_KEY = "insecure-development-key-only-for-DEBUG-mode"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET_KEY) if DEBUG else env_str("SECRET_KEY")
if not DEBUG and (SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters when DEBUG is off")

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else ["localhost"]
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The public base URL, used in links that leave the browser (e-mails, feeds, webhooks).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "anymail",
    "config.apps.BridgedeskConfig",
    "projects",
    "helpdesk",
    "liaison",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
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
                "config.context_processors.navigation",
            ],
        },
    },
]

# --- Database: PostgreSQL only. No DATABASE_URL means the embedded server under var/.
DATABASE_URL = env_str("DATABASE_URL", "") or embedded.postgres_url()
try:
    _database = dj_database_url.parse(DATABASE_URL)
except Exception as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if _database["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://...)")
# Persistent connections, checked before reuse, so a PostgreSQL restart costs one
# reconnect instead of errors in every process.
_database["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
_database["CONN_HEALTH_CHECKS"] = True
_database["TEST"] = {"NAME": env_str("DATABASE_TEST_NAME", "test_bridgedesk")}
# Parameters bound on the server, so that a query a connection repeats (the triage list,
# the API list, the token lookup) is prepared and planned once instead of on every
# request: planning those costs PostgreSQL more than running them. Turn off behind a
# pooler that cannot carry prepared statements (PgBouncer before 1.21 in transaction mode).
if env_bool("DATABASE_PREPARED_STATEMENTS", True):
    _database.setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Broker and cache: Redis when configured, else files under var/ shared by all processes.
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "bridgedesk"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env_str("CACHE_DIR", str(VAR_DIR / "cache")),
        }
    }

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "") or REDIS_URL or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = embedded.filesystem_transport_options()
else:
    # A key prefix lets several installations (or parallel test runs) share one Redis.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "global_keyprefix": env_str("BROKER_KEY_PREFIX", ""),
        # A broker that is down is noticed in a second, not after the OS's connect timeout,
        # and a send tries it once: config.queueing.enqueue logs the miss and the beat
        # sweeps catch up, so no request waits on a dead broker. (.delay() keeps its own
        # retry policy.)
        "socket_connect_timeout": 2,
        "max_retries": 0,
    }
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "helpdesk.tasks.send_*": {"queue": "email"},
    "projects.tasks.send_*": {"queue": "email"},
    "liaison.tasks.send_*": {"queue": "email"},
    "liaison.notify.send_*": {"queue": "email"},
    "liaison.tasks.*": {"queue": "status"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# How often beat asks the worker to prove it is alive (shown on /healthz).
HEARTBEAT_SECONDS = env_int("HEARTBEAT_SECONDS", 60, minimum=1)
# How often beat re-drives plan changes whose publish task was lost or failed.
BRIDGE_SWEEP_SECONDS = env_int("BRIDGE_SWEEP_SECONDS", 60, minimum=1)
# How often beat looks for tickets about to breach or breached their SLA.
SLA_SWEEP_SECONDS = env_int("SLA_SWEEP_SECONDS", 60, minimum=5)

# --- Auth
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Internationalisation
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
try:
    import zoneinfo

    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TIME_ZONE is not a known time zone: {TIME_ZONE!r}") from None
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            # Hashed, compressed names for far-future caching; needs `collectstatic`.
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env_bool("STATIC_MANIFEST", not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_MB", 20, minimum=1) * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = ATTACHMENT_MAX_BYTES + 1024 * 1024
# Full-text search configuration of ticket text (a PostgreSQL text search config name).
SEARCH_CONFIG = env_str("SEARCH_CONFIG", "english")

# --- E-mail
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be true")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Bridgedesk <helpdesk@localhost>")
SERVER_EMAIL = env_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
ANYMAIL = {"WEBHOOK_SECRET": env_str("ANYMAIL_WEBHOOK_SECRET", "")}
if env_str("MAILGUN_WEBHOOK_SIGNING_KEY", ""):
    # Mailgun signs its webhooks; Anymail's Mailgun views check it besides the secret.
    ANYMAIL["MAILGUN_WEBHOOK_SIGNING_KEY"] = env_str("MAILGUN_WEBHOOK_SIGNING_KEY")

# --- Inbound e-mail (helpdesk/inbound.py): the webhook under /inbound/, `manage.py
# ingest_mail`, and IMAP polled by beat every IMAP_POLL_SECONDS when IMAP_HOST is set.
# Mail to no queue's inbound address opens tickets in this queue (a slug); with none
# set, such mail is kept as failed for an admin to route and retry.
INBOUND_DEFAULT_QUEUE = env_str("INBOUND_DEFAULT_QUEUE", "")
IMAP_HOST = env_str("IMAP_HOST", "")
IMAP_SSL = env_bool("IMAP_SSL", True)
IMAP_PORT = env_int("IMAP_PORT", 993 if IMAP_SSL else 143, minimum=1)
IMAP_USER = env_str("IMAP_USER", "")
IMAP_PASSWORD = env_str("IMAP_PASSWORD", "")
IMAP_FOLDER = env_str("IMAP_FOLDER", "INBOX")
IMAP_POLL_SECONDS = env_int("IMAP_POLL_SECONDS", 60, minimum=10)
if IMAP_HOST and not (IMAP_USER and IMAP_PASSWORD):
    raise ImproperlyConfigured("IMAP_USER and IMAP_PASSWORD must be set when IMAP_HOST is")

# --- Public ticket form (/submit/<queue>/): at most this many tickets per client address
# (per /64 for IPv6) in each window of this many seconds; counted in the cache.
PUBLIC_SUBMIT_RATE_LIMIT = env_int("PUBLIC_SUBMIT_RATE_LIMIT", 5, minimum=1)
PUBLIC_SUBMIT_RATE_WINDOW = env_int("PUBLIC_SUBMIT_RATE_WINDOW", 600, minimum=1)
# Status page subscriptions one address may ask for per window (never reveals who follows).
SUBSCRIBE_RATE_LIMIT = env_int("SUBSCRIBE_RATE_LIMIT", 5, minimum=1)
SUBSCRIBE_RATE_WINDOW = env_int("SUBSCRIBE_RATE_WINDOW", 600, minimum=1)

# --- Security: strict unless DEBUG. Behind a TLS-terminating proxy set
# SECURE_PROXY_SSL_HEADER=true so Django trusts X-Forwarded-Proto.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- API
REST_FRAMEWORK = {
    # Token first, so an unauthenticated call is answered 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.api.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["config.filters.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "EXCEPTION_HANDLER": "config.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Bridgedesk API",
    "DESCRIPTION": "Help desk and project boards in one: tickets, projects, milestones, "
    "bulletins. Authenticate with `Authorization: Token <key>` from POST /api/v1/auth/token/.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files: no request leaves the machine.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "status", "kind" or "type": name each choice list once.
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "helpdesk.models.Ticket.Status",
        "TypeEnum": "helpdesk.models.Ticket.Type",
        "KindEnum": "helpdesk.models.TicketEvent.Kind",
        "ProjectStatusEnum": "projects.models.Project.Status",
        "MilestoneKindEnum": "projects.models.Milestone.Kind",
        "DependencyTypeEnum": "projects.models.Dependency.Type",
    },
}

# --- Logging: one line per record to stderr, which every process manager collects.
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {"pgserver": {"level": "WARNING"}},
}
