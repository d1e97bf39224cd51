"""Settings shared by every environment, read from the environment with safe defaults.

Each setting says what it is where it is defined (Open Zaak's habit). Production values come
only from the environment; the defaults here are the safe ones (DEBUG off, secure cookies).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parents[2]  # src/tongban
VAR_DIR = Path(os.environ.get("TONGBAN_VAR_DIR", Path.cwd() / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


# SECRET_KEY: required in production; dev and test settings provide their own.
SECRET_KEY = os.environ.get("SECRET_KEY", "")
DEBUG = env_bool("DEBUG", False)
# ALLOWED_HOSTS: comma-separated host names the site answers to.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "django_fsm",
    "ninja",
    "tongban.config",
    "tongban.core",
    "tongban.interchange",
    "tongban.ledger",
    "tongban.identity",
    "tongban.catalog",
    "tongban.exchange",
    "tongban.cases",
    "tongban.licenses",
    "tongban.web",
    "tongban.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "tongban.edge.ratelimit.RateLimitMiddleware",
    "tongban.edge.shedding.LoadSheddingMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "tongban.web.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tongban.web.middleware.RejectNulMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tongban.web.middleware.SecurityHeadersMiddleware",
    "tongban.web.middleware.DomainErrorMiddleware",
    "tongban.web.middleware.AbsoluteSessionTimeoutMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tongban.config.urls"
WSGI_APPLICATION = "tongban.config.wsgi.application"

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
                "django.template.context_processors.i18n",
                "tongban.web.context_processors.portal",
            ],
        },
    },
]


def database_from_env(default_url: str) -> dict[str, Any]:
    """DATABASE_URL (postgres://… or sqlite:///…) → Django DATABASES entry."""
    config: dict[str, Any] = dict(
        dj_database_url.parse(os.environ.get("DATABASE_URL", default_url), conn_max_age=60)
    )
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # IMMEDIATE makes each write transaction take the lock at BEGIN, so the audit chain and
        # idempotency checks never interleave; WAL lets readers go on during a write.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        config["CONN_MAX_AGE"] = 0
    elif config["ENGINE"] == "django.db.backends.postgresql":
        # Fail fast instead of hanging when the database is unreachable, slow or stuck:
        # connect_timeout bounds connecting (seconds); statement_timeout and lock_timeout make
        # the server cancel a slow statement or a long lock wait (OperationalError → the API's
        # 503); idle_in_transaction_session_timeout frees locks held by a frozen client.
        # TCP keepalives and tcp_user_timeout detect a peer that vanished from the network.
        # The *_MS variables are milliseconds, 0 disables; run long migrations with
        # TONGBAN_DB_STATEMENT_TIMEOUT_MS=0. A stalled connection that the server cannot see
        # (hung pooler, stalled network) is bounded by TONGBAN["REQUEST_DEADLINE_MS"].
        # No CONN_HEALTH_CHECKS: its extra round trip at each request start would double the
        # time a request waits on a hung database (measured by harness/dependency_faults.py);
        # a connection broken by a restart fails one request and is then replaced.
        options = config.setdefault("OPTIONS", {})
        options.setdefault("connect_timeout", 5)
        options.setdefault("keepalives", 1)
        options.setdefault("keepalives_idle", 30)
        options.setdefault("keepalives_interval", 10)
        options.setdefault("keepalives_count", 3)
        options.setdefault("tcp_user_timeout", 10_000)
        timeouts = {
            "statement_timeout": os.environ.get("TONGBAN_DB_STATEMENT_TIMEOUT_MS", "5000"),
            "lock_timeout": os.environ.get("TONGBAN_DB_LOCK_TIMEOUT_MS", "3000"),
            "idle_in_transaction_session_timeout": os.environ.get(
                "TONGBAN_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", "60000"
            ),
        }
        flags = " ".join(f"-c {name}={int(value)}" for name, value in timeouts.items())
        # Options given in DATABASE_URL (?options=…) come last, so they win.
        options["options"] = f"{flags} {options.get('options', '')}".strip()
    return config


DATABASES = {"default": database_from_env(f"sqlite:///{VAR_DIR / 'tongban.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "web:login"

# Lockout (django-axes): TONGBAN_LOCKOUT_FAILURES failed logins per username lock it for
# TONGBAN_LOCKOUT_MINUTES minutes.
AXES_FAILURE_LIMIT = int(os.environ.get("TONGBAN_LOCKOUT_FAILURES", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("TONGBAN_LOCKOUT_MINUTES", "15")))
# Per account, not per IP: a government service hall puts many citizens behind one NAT address,
# and an IP lockout would lock them all out (ADR 0004). Per-IP throttling belongs to rate limits.
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "tongban.web.views.lockout_response"
AXES_VERBOSE = False

# The shared cache: rate-limit counts (edge/ratelimit.py). Redis in production
# (TONGBAN_CACHE_URL=redis://host:6379/1, the broker's server will do); the embedded default
# counts per process.
CACHE_URL = os.environ.get("TONGBAN_CACHE_URL", "")
CACHES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tongban"}
}
RATELIMIT_USE_CACHE = "default"
RATELIMIT_IP_META_KEY = "tongban.edge.ratelimit.client_ip"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES: dict[str, dict[str, Any]] = {
    # Materials are private: never under STATIC/MEDIA URLs; served only by a view that checks
    # access to the case.
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "materials"), "base_url": None},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Absolute session lifetime; idle timeout is enforced by SESSION_SAVE_EVERY_REQUEST + age.
SESSION_COOKIE_AGE = int(os.environ.get("TONGBAN_SESSION_SECONDS", str(30 * 60)))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
# The health check is plain HTTP from the load balancer.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Celery: eager in the embedded default; a broker URL (redis:// or amqp://) in production.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
CELERY_TASK_ALWAYS_EAGER = env_bool(
    "CELERY_TASK_ALWAYS_EAGER", not os.environ.get("CELERY_BROKER_URL")
)
CELERY_TASK_EAGER_PROPAGATES = True
# The queue the web processes and beat send to and the worker reads (worker: `-Q` the same
# name): a deployment sharing its broker with others, or the reliability harness on a shared
# RabbitMQ vhost, gives itself a queue of its own.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
# Acknowledgement stays Celery's default (early, prefetch 4) on purpose: the two tasks that
# carry work, events_deliver and outbox_deliver, run rows that are durable in PostgreSQL, and
# beat's events_deliver_due / outbox_deliver_due re-run whatever a killed worker dropped
# (harness/topology.py kills one mid-task). task_acks_late + task_reject_on_worker_lost would
# bring a crashed task back in seconds instead of within FIRST_RETRY_S + 15 s (a hand-off
# message: 30 s), but would redeliver a task that kills its process (out of memory) in a
# loop, and on Redis a dead worker's unacknowledged tasks return only after the visibility
# timeout (an hour) anyway.
CELERY_TIMEZONE = TIME_ZONE
# Periodic work: `celery beat` in production, an in-process beat in `tongban demo`.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    # Anchor the audit chain's head in the transparency log (ADR 0008).
    "ledger-audit-head-anchor": {"task": "tongban.ledger.audit_head_anchor", "schedule": 600.0},
    # Licences past their validity become 已过期, each expiry a log event (ADR 0010).
    "licenses-expire-due": {
        "task": "tongban.licenses.expire_due",
        "schedule": crontab(hour=0, minute=15),
    },
    # 中梗阻: steps and hand-offs waiting past their thresholds raise alerts (ADR 0013).
    "cases-stuck-detect": {"task": "tongban.cases.stuck_detect", "schedule": 600.0},
    # Deadline warnings: cases turning yellow or red raise alerts (ADR 0013).
    "cases-deadline-warn": {"task": "tongban.cases.deadline_warn", "schedule": 3600.0},
    # Material files left by rolled-back submissions hold personal documents: delete them.
    "cases-materials-sweep": {
        "task": "tongban.cases.materials_sweep",
        "schedule": crontab(hour=3, minute=30),
    },
    # Resend hand-off messages whose peer has not acknowledged them yet (ADR 0011).
    "interchange-outbox-deliver-due": {
        "task": "tongban.interchange.outbox_deliver_due",
        "schedule": 30.0,
    },
    # Retry domain-event deliveries that failed or were lost to a crash (ADR 0019).
    "events-deliver-due": {"task": "tongban.core.tasks.events_deliver_due", "schedule": 15.0},
    # Delete delivered events past their retention (ADR 0019).
    "events-prune": {"task": "tongban.core.tasks.events_prune", "schedule": crontab(hour=4)},
}

TONGBAN: dict[str, Any] = {
    # Materials: largest accepted upload in bytes and the content types sniffed from the bytes.
    "MATERIAL_MAX_BYTES": int(os.environ.get("TONGBAN_MATERIAL_MAX_BYTES", str(10 * 1024 * 1024))),
    "MATERIAL_TYPES": ["application/pdf", "image/jpeg", "image/png"],
    # Deadline colour: yellow once this share of the limit is used.
    "DEADLINE_YELLOW_RATIO": float(os.environ.get("TONGBAN_DEADLINE_YELLOW_RATIO", "0.8")),
    # SMS one-time codes: lifetime and attempts.
    "SMS_CODE_SECONDS": int(os.environ.get("TONGBAN_SMS_CODE_SECONDS", "300")),
    "SMS_CODE_ATTEMPTS": 5,
    # SMS channel: dotted path of a callable(phone, text); the default writes to the outbox.
    "SMS_CHANNEL": os.environ.get("TONGBAN_SMS_CHANNEL", "tongban.identity.sms.outbox_channel"),
    # API bearer tokens' lifetime.
    "API_TOKEN_SECONDS": int(os.environ.get("TONGBAN_API_TOKEN_SECONDS", str(8 * 3600))),
    # Region tenants this deployment serves (跨省通办: each signs its own hand-off messages).
    "REGION_CODES": [
        code.strip()
        for code in os.environ.get("TONGBAN_REGION_CODES", "440000,330000").split(",")
        if code.strip()
    ],
    # Supervision (ADR 0013): the office hours of a working day ("HH:MM"); stuck thresholds in
    # working days count one office day each.
    "SUPERVISION": {
        "OFFICE_OPENS": os.environ.get("TONGBAN_OFFICE_OPENS", "09:00"),
        "OFFICE_CLOSES": os.environ.get("TONGBAN_OFFICE_CLOSES", "17:00"),
    },
    # Domain events (core/events.py, ADR 0019): a delivery not done FIRST_RETRY_S after its
    # event committed is retried by the periodic task; each failure waits RETRY_BASE_S doubled
    # per failure, at most MAX_BACKOFF_S; after MAX_ATTEMPTS failures (about 75 min with these
    # defaults) it is parked for an administrator (admin › 事件投递, replay). Delivered events
    # are deleted after RETENTION_DAYS.
    "EVENTS": {
        "FIRST_RETRY_S": int(os.environ.get("TONGBAN_EVENTS_FIRST_RETRY_S", "30")),
        "RETRY_BASE_S": int(os.environ.get("TONGBAN_EVENTS_RETRY_BASE_S", "10")),
        "MAX_BACKOFF_S": int(os.environ.get("TONGBAN_EVENTS_MAX_BACKOFF_S", "1800")),
        "MAX_ATTEMPTS": int(os.environ.get("TONGBAN_EVENTS_MAX_ATTEMPTS", "10")),
        "RETENTION_DAYS": int(os.environ.get("TONGBAN_EVENTS_RETENTION_DAYS", "30")),
    },
    # Delivery of hand-off messages to peers: HTTP timeout and the longest retry interval.
    "INTERCHANGE_TIMEOUT_S": float(os.environ.get("TONGBAN_INTERCHANGE_TIMEOUT_S", "5")),
    "INTERCHANGE_MAX_BACKOFF_S": int(os.environ.get("TONGBAN_INTERCHANGE_MAX_BACKOFF_S", "3600")),
    # After a peer's key changes (it rotated), its previous key is still accepted this long.
    "INTERCHANGE_KEY_GRACE_DAYS": float(os.environ.get("TONGBAN_INTERCHANGE_KEY_GRACE_DAYS", "7")),
    # Signing keys (log checkpoints, licence issuers, hand-off messages): one file per key,
    # created on first use, mode 0600. Back this directory up with the database.
    "KEY_DIR": Path(os.environ.get("TONGBAN_KEY_DIR", VAR_DIR / "keys")),
    # Load shedding (edge/shedding.py), per server process: at most MAX_IN_FLIGHT requests
    # run at once and at most QUEUE_LENGTH more wait for a slot (newest served first), up
    # to QUEUE_WAIT_MS — or only QUEUE_WAIT_OVERLOADED_MS for a while after the queue
    # overflowed or a request waited QUEUE_WAIT_MS in vain (overload); anything beyond
    # gets 503 with Retry-After at once. Python runs one thread at a time per process, so a second
    # request in flight mostly makes both slower: scale with gunicorn workers (processes),
    # like sync workers, and raise MAX_IN_FLIGHT only when requests mostly wait on I/O
    # (external registries). Give gunicorn at least MAX_IN_FLIGHT + QUEUE_LENGTH + 2
    # --threads (`shedding.gunicorn_threads()`, used by `tongban demo` and the harness), so
    # the excess reaches this middleware and is shed instead of queueing unseen inside
    # gunicorn. MAX_IN_FLIGHT=0 disables shedding. QUEUE_LENGTH 16 rather than 4: with one
    # worker per core, a stack of 4 overflowed under Poisson bursts at half capacity and shed
    # 3–7 % there; the newest-first stack keeps admitted latency low however long it is
    # (harness/saturation.py, docs/RELIABILITY.md).
    "MAX_IN_FLIGHT": int(os.environ.get("TONGBAN_MAX_IN_FLIGHT", "1")),
    "QUEUE_LENGTH": int(os.environ.get("TONGBAN_QUEUE_LENGTH", "16")),
    "QUEUE_WAIT_MS": int(os.environ.get("TONGBAN_QUEUE_WAIT_MS", "200")),
    "QUEUE_WAIT_OVERLOADED_MS": int(os.environ.get("TONGBAN_QUEUE_WAIT_OVERLOADED_MS", "20")),
    # A request still waiting on the database this long after it arrived has its database
    # socket shut down, so it fails at once (503) instead of holding a thread while a hung
    # database or network decides. 0 disables the deadline.
    "REQUEST_DEADLINE_MS": int(os.environ.get("TONGBAN_REQUEST_DEADLINE_MS", "5000")),
    # Rate limits per client address on public entry points (edge/ratelimit.py, ADR 0017):
    # rate is "<count>/<s|m|h>", paths are exact, methods default to POST (a GET counts only
    # with a query string). Generous: many citizens share a service hall's
    # address; the per-account lockout guards each password.
    "RATE_LIMITS": {
        "login": {
            "rate": os.environ.get("TONGBAN_RATE_LOGIN", "60/m"),
            "paths": ["/login/", "/register/", "/workbench/login/", "/api/v1/auth/token"],
        },
        "verify": {
            "rate": os.environ.get("TONGBAN_RATE_VERIFY", "60/m"),
            "paths": ["/licenses/verify/", "/api/v1/licenses/verifications"],
            "methods": ["GET", "POST"],  # GET /licenses/verify/?token=… from a scanned QR code
        },
    },
    # Backups are sealed (SM4-GCM, the data key sealed with SM2) to this recovery public key;
    # its private half, made by `tongban backup-key`, is kept off the server (ADR 0007).
    "BACKUP_PUBLIC_KEY": os.environ.get("TONGBAN_BACKUP_PUBLIC_KEY", ""),
    # Client networks never rate limited (CIDR, comma-separated): a service hall's or an office's
    # egress address, where many people share one address.
    "RATE_LIMIT_EXEMPT": [
        net.strip()
        for net in os.environ.get("TONGBAN_RATE_LIMIT_EXEMPT", "").split(",")
        if net.strip()
    ],
    # Reverse proxies in front of the server that append to X-Forwarded-For (0: none, the
    # client is REMOTE_ADDR). Set it to exactly the number of proxies you run.
    "TRUSTED_PROXIES": int(os.environ.get("TONGBAN_TRUSTED_PROXIES", "0")),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}, "django.server": {"level": "WARNING"}},
}


def require_secret_key(value: str) -> str:
    if len(value) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be set to at least 50 random characters.")
    return value


# Largest request body held in memory. A JSON submission carries its materials in base64
# (4/3 of their size): room for four materials at the per-file limit, plus the form.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(TONGBAN["MATERIAL_MAX_BYTES"] * 4 * 4 / 3) + 1024 * 1024
