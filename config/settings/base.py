"""Settings shared by every environment.

Everything that differs between a laptop and production is read from the environment with
django-environ. With DATABASE_URL and REDIS_URL unset Chorus runs on the embedded default:
SQLite and a Celery worker on kombu's filesystem transport, so a first run needs no servers.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-only-key-do-not-use-in-production")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "axes",
    "accounts",
    "jobs",
    "participants",
    "analysis.transcripts",
    "analysis.coding",
    "analysis.themes",
    "analysis.matrices",
    "interop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Above WhiteNoise so static files carry the policy too (an SVG opened on its own is a document).
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside everything that can refuse an API request, so every API error has the one JSON shape.
    "config.api_errors.ErrorBodyMiddleware",
    # Below WhiteNoise: static files keep their long cache lifetimes; everything else is no-store.
    "accounts.security.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After MessageMiddleware: it tells the user why they were signed out.
    "accounts.middleware.SessionLifetimeMiddleware",
    # Signed-in non-members of a study get 404 before any page under it reads its input.
    "accounts.middleware.StudyMembershipMiddleware",
    # Then a NUL character in a page's query string: a clear 400 before the view reads it.
    "config.input_guard.QueryStringGuardMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Turns "jobs are unavailable" and "the database is not answering" into a clear 503 page.
    "jobs.middleware.ServiceUnavailableMiddleware",
    # Last, as django-axes asks, so it sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "accounts.context_processors.study_nav",
                "analysis.themes.context_processors.board_notice",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'chorus.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Persistent connections: opening a PostgreSQL connection per request cost ~10 ms of every API call.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the embedded worker and the web process share the file.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
USING_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")
# A database that stops answering must give a person a clear page (a 503, jobs/middleware.py) within
# seconds, not hang: a connect timeout, a statement timeout for web requests (workers get a longer
# one, config/celery.py) and TCP keepalives so a vanished server is noticed.
CHORUS_DB_CONNECT_TIMEOUT = env.int("CHORUS_DB_CONNECT_TIMEOUT", default=5)
CHORUS_DB_STATEMENT_TIMEOUT_MS = env.int("CHORUS_DB_STATEMENT_TIMEOUT_MS", default=15_000)
CHORUS_WORKER_DB_STATEMENT_TIMEOUT_MS = env.int("CHORUS_WORKER_DB_STATEMENT_TIMEOUT_MS", default=600_000)
if USING_POSTGRES:
    _pg = DATABASES["default"].setdefault("OPTIONS", {})
    _pg.setdefault("connect_timeout", CHORUS_DB_CONNECT_TIMEOUT)
    _pg.setdefault("keepalives", 1)
    _pg.setdefault("keepalives_idle", 30)
    _pg.setdefault("keepalives_interval", 5)
    _pg.setdefault("keepalives_count", 3)
    if CHORUS_DB_STATEMENT_TIMEOUT_MS:
        _pg["options"] = f"{_pg.get('options', '')} -c statement_timeout={CHORUS_DB_STATEMENT_TIMEOUT_MS}".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

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
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "study-list"
LOGOUT_REDIRECT_URL = "login"

# Sessions: idle expiry and an absolute cap, both enforced by SessionLifetimeMiddleware.
SESSION_IDLE_TIMEOUT = timedelta(minutes=env.int("CHORUS_SESSION_IDLE_MINUTES", default=30))
SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=env.int("CHORUS_SESSION_ABSOLUTE_HOURS", default=12))
SESSION_COOKIE_AGE = int(SESSION_ABSOLUTE_TIMEOUT.total_seconds())
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# django-axes: 5 failures for one account lock that account for 30 minutes.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=30)
AXES_LOCKOUT_PARAMETERS = ["username"]
# The sign-in form's field (and the credentials key) is "username"; axes would otherwise look for
# USERNAME_FIELD ("email"), find nothing, and never lock an account.
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
AXES_VERBOSE = False
# Lockout is per account, as the issue asks. Adding ip_address would lock out a whole NHS trust
# behind one NAT address after five typos, so axes.W006 is silenced deliberately.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
MEDIA_ROOT = env.path("CHORUS_MEDIA_ROOT", default=str(VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Browser-side protections (docs/operations.md, "Security headers"). The policy is enforced, not
# report-only: every page is built to need nothing inline. Violations are reported to csp-report.
CSP_REPORT_PATH = "/csp-report/"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "object-src": [NONE],
        # report-to (Reporting API: Chromium, HTTPS pages only) names the Reporting-Endpoints entry;
        # browsers without it (Firefox) use report-uri. Both point at the same endpoint.
        "report-uri": [CSP_REPORT_PATH],
        "report-to": "csp",
    },
}
CHORUS_REPORTING_ENDPOINTS = {"csp": CSP_REPORT_PATH}
# Features Chorus never uses, switched off for its pages and anything they might embed.
CHORUS_PERMISSIONS_POLICY = (
    "accelerometer", "autoplay", "camera", "display-capture", "encrypted-media", "fullscreen",
    "geolocation", "gyroscope", "magnetometer", "microphone", "midi", "payment", "picture-in-picture",
    "publickey-credentials-get", "screen-wake-lock", "serial", "usb", "xr-spatial-tracking",
)
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Violation reports: a browser sends a handful per broken page; more than this from one address in a
# minute is noise or abuse, and is answered 429 without being logged.
CHORUS_CSP_REPORT_RATE = env("CHORUS_CSP_REPORT_RATE", default="60/minute")
CHORUS_CSP_REPORT_MAX_BYTES = 16 * 1024

# Uploads: refuse large request bodies early; per-format limits live with the importers.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
CHORUS_TRUSTED_PROXIES = env.int("CHORUS_TRUSTED_PROXIES", default=0)
CHORUS_MAX_UPLOAD_BYTES = env.int("CHORUS_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024)
# Files in one request (Django's own limit, stated so docs/operations.md "Limits" and the message agree);
# a bigger folder goes up as one .zip.
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("CHORUS_MAX_FILES_PER_REQUEST", default=100)
# One interview: an hour is 30-60k characters and a few hundred turns. Past these, imports are refused.
# The coding page renders every turn: 5,000 turns took 4.8 s, 20,000 took 33 s (docs/operations.md, "Limits").
CHORUS_MAX_TRANSCRIPT_CHARS = env.int("CHORUS_MAX_TRANSCRIPT_CHARS", default=2_000_000)
CHORUS_MAX_TRANSCRIPT_TURNS = env.int("CHORUS_MAX_TRANSCRIPT_TURNS", default=5_000)

# Links in e-mails (the board digest): the address people use to reach Chorus.
CHORUS_BASE_URL = env("CHORUS_BASE_URL", default="http://localhost:8000")
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="chorus@localhost")

REST_FRAMEWORK = {
    # Token first: DRF takes the first class's challenge, so a request without credentials gets
    # 401 + `WWW-Authenticate: Token` (with session first it would be a bare 403).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.api_auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Signed in, and a member of the URL's study (404 otherwise) before anything else is looked at.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "accounts.permissions.StudyMember"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_PARSER_CLASSES": ["config.api.JSONParser"],
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    # Per user; a view adds a stricter limit for its writes (config/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": ["config.throttling.UserRateLimits"],
    "DEFAULT_THROTTLE_RATES": {"user": env("CHORUS_API_RATE", default="1200/minute")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Chorus API",
    "DESCRIPTION": (
        "Collaborative qualitative analysis. Every endpoint is scoped by study membership: "
        "objects outside your scope answer 404. Authenticate with a session or "
        "`Authorization: Token <key>` (create a key on your account page)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from the sidecar package: no CDN, so the docs work offline and under a strict CSP.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Summaries and examples where a view gives none, and the Error component (config/api_schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api_schema.complete_schema",
    ],
    # Several models have a "kind" or "role" field with different choices: name each enum.
    "ENUM_NAME_OVERRIDES": {
        "MembershipRoleEnum": "accounts.models.Role",
        "SpeakerRoleEnum": "analysis.transcripts.models.SpeakerRole",
        "AttributeKindEnum": "participants.models.AttributeKind",
        "ConsentEventKindEnum": "participants.models.EventKind",
        "ImportKindEnum": "participants.models.ImportKind",
        "TranscriptEditKindEnum": "analysis.transcripts.models.EditKind",
        "CodingEventKindEnum": "analysis.coding.models.EventKind",
        "ThemeStatusEnum": "analysis.themes.models.ThemeStatus",
        "CommentKindEnum": "analysis.themes.models.CommentKind",
    },
}

# Celery. The embedded default uses kombu's filesystem transport: a real worker process,
# no broker server. REDIS_URL switches to Redis for broker, cache and (later) channel layer.
REDIS_URL = env("REDIS_URL", default="")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A message is acknowledged only once its task has run, and a pool child killed mid-task (the
# kernel's out-of-memory killer) puts its message back instead of dropping it. Recovery from a dead
# worker does not wait for the broker, though: jobs carry a lease (jobs/services.py).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A pool process that grew past this (KiB) is replaced after its task: one oversized job cannot keep a
# worker at gigabytes for the next ones (an export of a 10,000-attribute study once reached 2.5 GB).
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env.int("CHORUS_WORKER_MAX_MEMORY_KIB", default=1_048_576)
CELERY_TASK_IGNORE_RESULT = True  # job state lives in the Job table, which the UI reads
CELERY_TASK_DEFAULT_QUEUE = env("CHORUS_CELERY_QUEUE", default="chorus")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The longest a job may run (prefork pool): the soft limit fails it with a message, the hard limit
# kills its child. The broker's visibility timeout is longer, so Redis never hands a running job's
# message to a second worker; a lost message is the sweep's to resend, well before that.
CHORUS_JOB_TIME_LIMIT = env.int("CHORUS_JOB_TIME_LIMIT", default=3 * 3600)
CELERY_TASK_SOFT_TIME_LIMIT = CHORUS_JOB_TIME_LIMIT
CELERY_TASK_TIME_LIMIT = CHORUS_JOB_TIME_LIMIT + 60
# A publish that cannot reach the broker gives up within about a second (the job stays queued and
# the sweep sends it again) instead of holding a web request.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BROKER_CONNECTION_TIMEOUT = 2

# Job recovery (jobs/services.py, docs/operations.md "Jobs and workers").
CHORUS_JOB_LEASE_SECONDS = env.int("CHORUS_JOB_LEASE_SECONDS", default=90)
CHORUS_JOB_MAX_ATTEMPTS = env.int("CHORUS_JOB_MAX_ATTEMPTS", default=3)
CHORUS_JOB_SWEEP_SECONDS = env.int("CHORUS_JOB_SWEEP_SECONDS", default=60)
CHORUS_JOB_STALE_QUEUED_SECONDS = env.int("CHORUS_JOB_STALE_QUEUED_SECONDS", default=300)
CHORUS_JOB_BACKOFF_SECONDS = env.int("CHORUS_JOB_BACKOFF_SECONDS", default=30)
CHORUS_JOB_BACKOFF_MAX_SECONDS = env.int("CHORUS_JOB_BACKOFF_MAX_SECONDS", default=3600)
CHORUS_BROKER_CHECK_SECONDS = env.float("CHORUS_BROKER_CHECK_SECONDS", default=1.0)
# The e-mail digests of what is new (analysis/themes/services/board.py): once a day at this hour (Celery's
# timezone, CELERY_TIMEZONE = TIME_ZONE); a weekly digest goes out on the first run of its week. A digest
# is recorded per member and period, so a repeated or doubled run never sends one twice.
CHORUS_DIGEST_HOUR = env.int("CHORUS_DIGEST_HOUR", default=7)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "jobs-sweep": {"task": "jobs.sweep", "schedule": float(CHORUS_JOB_SWEEP_SECONDS),
                   "options": {"expires": float(CHORUS_JOB_SWEEP_SECONDS)}},
    "board-digests": {"task": "themes.board_digests", "schedule": crontab(hour=CHORUS_DIGEST_HOUR, minute=0),
                      "options": {"expires": 6 * 3600.0}},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Redis clients give up quickly: a Redis that is down or unreachable must cost a request
# milliseconds, not a hang (the cache then fails open, see config/cache.py).
REDIS_SOCKET_TIMEOUT = env.float("CHORUS_REDIS_TIMEOUT_SECONDS", default=1.0)
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CHORUS_JOB_TIME_LIMIT + 600,
        "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
        "socket_timeout": max(REDIS_SOCKET_TIMEOUT, 5.0),
    }
    CACHES = {
        "default": {
            "BACKEND": "config.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": REDIS_SOCKET_TIMEOUT, "socket_timeout": REDIS_SOCKET_TIMEOUT},
        }
    }
    # Every signed-in request reads its session: from Redis, written through to the database, so a
    # cache flush or restart signs nobody out.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CELERY_BROKER_URL = "filesystem://"
    _queue_dir = VAR_DIR / "queue"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_queue_dir / "processed"),
        "store_processed": False,
        # Without it kombu writes its pidbox exchange files into the working directory.
        "control_folder": str(_queue_dir / "control"),
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"no_4xx_traceback": {"()": "config.log.NoTracebackForClientErrors"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        "chorus.csp": {"level": "WARNING"},
        "django.request": {"filters": ["no_4xx_traceback"]},
    },
}

# Adding codings, per user: a person codes a few spans a minute; a runaway script is stopped.
CHORUS_CODING_RATE = env("CHORUS_CODING_RATE", default="240/minute")

# Field encryption for identifiable participant data (Fernet keys, comma separated, newest first;
# `manage.py rotate_field_keys` re-encrypts with the first so an old key can be dropped).
CHORUS_FIELD_KEYS = env.list("CHORUS_FIELD_KEYS", default=[])

# Idempotent demo-data steps run by `manage.py demo_data` after the study and logins exist.
CHORUS_DEMO_STEPS: list[str] = [
    "participants.demo.load", "analysis.transcripts.demo.load_transcripts",
    "analysis.transcripts.demo.load_transcript_sets", "analysis.coding.demo.load", "analysis.coding.demo.load_codings",
    "analysis.coding.demo.load_double_coding", "analysis.themes.demo.load",
]

# Purgers run when a participant withdraws with deletion of data (see participants/purgers.py): dotted
# paths of callables `purger(*, participant) -> dict[str, int]`; later apps append theirs.
# Codings and memos go first so their counts are reported before transcripts cascade them away.
CHORUS_PURGERS: list[str] = [
    "analysis.coding.services.codings.codings_purge", "analysis.themes.services.quotes.quotes_purge",
    "analysis.transcripts.services.transcripts.transcripts_purge",
    "jobs.purge.job_results_purge",
    "analysis.matrices.framework.services.framework_cells_purge",
]

# Models holding a span [start, end) of a transcript ("app_label.Model"): a redaction re-anchors them
# all in its transaction (see analysis/transcripts/services/anchors.py). Later apps append theirs.
CHORUS_ANCHORED_MODELS: list[str] = ["transcripts.TranscriptTurn", "coding.Coding", "themes.Quote"]
# Spans that need more than moving (unique records, span snapshots) register a function instead.
CHORUS_REANCHOR_HOOKS: list[str] = ["analysis.coding.services.disagreements.disagreements_reanchor"]

# Files a bulk transcript import commits together (each file is still all or nothing): fewer commits are
# faster on PostgreSQL; Cancel and progress move a chunk at a time.
CHORUS_IMPORT_CHUNK = env.int("CHORUS_IMPORT_CHUNK", default=25)
