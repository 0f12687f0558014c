"""``manage.py restore SOURCE --database-url URL --media-root DIR``: a backup set back into a database and a
media folder, checked against its manifest and the configured field keys first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = "Restore a backup set (docs/operations.md, 'Backup and restore'). Overwrites the target database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="the backup set's folder (chorus-backup-…)")
        parser.add_argument("--database-url", required=True,
                            help="the database to restore into, as the tables' owner (not the application's role)")
        parser.add_argument("--media-root", default="", help="the media folder to restore into (default: MEDIA_ROOT)")

    def handle(self, *args: Any, source: str, database_url: str, media_root: str, **options: Any) -> None:
        try:
            done = backup_restore(source=Path(source), database_url=database_url,
                                  media_root=Path(media_root or settings.MEDIA_ROOT))
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        checked = ("an identifiable field was read with the configured keys" if done.checked_field
                   else "there was no identifiable field to check the keys with")
        self.stdout.write(f"Restored {done.database} and {done.media_root}; {checked}. On PostgreSQL, run "
                          "`manage.py grant_app_role` again for the application's role.")
