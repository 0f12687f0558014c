"""`make demo`: migrate, load the demo study, then run the web app and an embedded Celery worker.

Ctrl-C stops both. The worker uses the same settings as the web process, so with DATABASE_URL
and REDIS_URL set this also runs the production shape locally.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.exceptions import InconsistentMigrationHistory


def _older_database_message(exc: Exception) -> str:
    """What to do when the database was made by an older Chorus whose apps and migrations have since
    been renamed (the house plan, issue 9): its recorded history cannot be continued."""
    if connection.vendor == "sqlite":
        where = f"the demo database {settings.DATABASES['default']['NAME']}"
        fix = "Delete var/ (rm -rf var/) and run `make demo` again: the demo study is created afresh."
    else:
        where = f"the database {settings.DATABASES['default']['NAME']!r}"
        fix = "Drop and create that database (or point DATABASE_URL at an empty one), then run `make demo` again."
    return (f"This var/ was made by an older Chorus: {where} records migrations that no longer fit this "
            f"version, so it cannot be upgraded in place. {fix}\n(Django said: {exc})")


class Command(BaseCommand):
    help = "Set up the demo study and run the web app with a Celery worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--no-worker", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        host, _, port = opts["addr"].rpartition(":")
        with socket.socket() as probe:  # before starting a worker that would outlive a failed server
            if probe.connect_ex((host or "127.0.0.1", int(port))) == 0:
                raise CommandError(f"{opts['addr']} is already in use: stop the other server or pass --addr.")
        try:
            call_command("migrate", verbosity=0)
        except InconsistentMigrationHistory as exc:
            raise CommandError(_older_database_message(exc)) from None
        call_command("demo_data", verbosity=0)
        worker = None
        if not opts["no_worker"]:
            if not settings.REDIS_URL:
                for key in ("data_folder_in", "processed_folder"):
                    os.makedirs(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key]), exist_ok=True)
            worker = subprocess.Popen(  # noqa: S603 (our interpreter and settings, no user input)
                # --beat: the same process runs the periodic sweep that recovers jobs whose worker
                # or message was lost (jobs.services.jobs_sweep), as the beat service does in production.
                [sys.executable, "-m", "celery", "-A", "config", "--quiet", "worker", "--pool", "solo", "-l", "WARNING",
                 "--beat", "--schedule", str(settings.CELERY_BEAT_SCHEDULE_FILENAME)],
                env={**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "")},
            )
            self.stdout.write(f"Celery worker and its job sweep started (pid {worker.pid}).")
        from .demo_data import DEMO_PASSWORD, DEMO_USERS

        self.stdout.write(self.style.SUCCESS(f"\nChorus is running at http://{opts['addr']}/  (Ctrl-C stops it)"))
        self.stdout.write(f"Sign in with one of these (password: {DEMO_PASSWORD}):")
        for email, _name, role, site_names, _groups in DEMO_USERS:
            scope = f"  (scoped to {', '.join(site_names)})" if site_names else ""
            self.stdout.write(f"  {role:<6} {email}{scope}")
        self.stdout.write("")
        def stop(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt  # a `kill` stops the worker too, as Ctrl-C does

        signal.signal(signal.SIGTERM, stop)
        try:
            call_command("runserver", opts["addr"], use_reloader=False)
        except KeyboardInterrupt:
            pass
        finally:
            if worker is not None and worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker.kill()
            self.stdout.write("Stopped.")
