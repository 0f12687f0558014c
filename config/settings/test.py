"""Test settings. SQLite and eager tasks by default; PostgreSQL and a real worker when
DATABASE_URL and REDIS_URL are set (CI)."""

from .base import *  # noqa: F403
from .base import REDIS_URL, env

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
MEDIA_ROOT = VAR_DIR / "test-media"  # noqa: F405
# The fault and Cancel tests watch an import file by file.
CHORUS_IMPORT_CHUNK = env.int("CHORUS_IMPORT_CHUNK", default=1)
