"""``manage.py backup DEST``: the database, the media folder and a manifest, in one new folder under DEST."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.backup import BackupError, backup_create


class Command(BaseCommand):
    help = "Back up the database and the media folder (docs/operations.md, 'Backup and restore')."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dest", help="folder to write the backup set into")

    def handle(self, *args: Any, dest: str, **options: Any) -> None:
        try:
            out = backup_create(dest=Path(dest))
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Backup written to {out}. Keep the field keys (CHORUS_FIELD_KEYS) safe and apart from it: "
                          "without them the identifiable fields cannot be read.")
