import os
import re
from typing import Any

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("chorus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _worker_statement_timeout(**_: Any) -> None:
    """Jobs run longer statements than web requests (a purge, a report over a whole study): give the
    worker's connections their own statement timeout before any is opened."""
    from django.conf import settings
    from django.db import connections

    db = settings.DATABASES["default"]
    if not db["ENGINE"].startswith("django.db.backends.postgresql"):
        return
    opts = db.setdefault("OPTIONS", {})
    rest = re.sub(r"-c statement_timeout=\d+", "", opts.get("options", "")).strip()
    timeout = settings.CHORUS_WORKER_DB_STATEMENT_TIMEOUT_MS
    opts["options"] = f"{rest} -c statement_timeout={timeout}".strip() if timeout else rest
    connections["default"].settings_dict["OPTIONS"] = opts
    connections["default"].close()
