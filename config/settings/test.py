"""Test settings. SQLite and eager tasks by default; PostgreSQL and a real worker when
DATABASE_URL and REDIS_URL are set (CI)."""

import os
from urllib.parse import urlsplit, urlunsplit

from .base import *  # noqa: F403
from .base import CACHES, REDIS_URL, VAR_DIR, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; Argon2 tested explicitly
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CHORUS_FIELD_KEYS = ["k1N1j2gI4j3ZbGv3s5xW5mC1s0mN2rQ7yJ6hL8pT9aE="]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "100000/minute"}}  # noqa: F405
# Without a broker, tasks run in-process; with REDIS_URL the job tests start a real worker.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = env("CHORUS_CELERY_QUEUE", default="chorus-test")
MEDIA_ROOT = VAR_DIR / "test-media"
# The fault and Cancel tests watch an import file by file.
CHORUS_IMPORT_CHUNK = env.int("CHORUS_IMPORT_CHUNK", default=1)

# Parallel test processes (pytest-xdist names them gw0, gw1, …) each have a database of their own
# (pytest-django suffixes its name) and here a Celery queue, a Redis database and a media directory of
# their own: one process's cache flush, queued task or purge check never reaches another's.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if XDIST_WORKER:
    # A worker a test starts inherits the variable; a queue named for this process already is kept as given.
    if f"-{XDIST_WORKER}" not in CELERY_TASK_DEFAULT_QUEUE:
        CELERY_TASK_DEFAULT_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}-{XDIST_WORKER}"
    MEDIA_ROOT = VAR_DIR / f"test-media-{XDIST_WORKER}"
    if REDIS_URL:
        _url = urlsplit(REDIS_URL)
        _n = int(XDIST_WORKER.removeprefix("gw"))
        if _n > 15:
            raise ValueError("Redis has 16 databases: run the tests in at most 16 processes (TEST_PROCESSES)")
        _db = (int(_url.path.strip("/") or 0) - _n) % 16
        REDIS_URL = urlunsplit(_url._replace(path=f"/{_db}"))
        CELERY_BROKER_URL = REDIS_URL
        CACHES = {"default": {**CACHES["default"], "LOCATION": REDIS_URL}}
