from typing import Any

from django.core.management.base import BaseCommand

from participants.services.keys import field_keys_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt identifiable participant fields and signed consent forms with the first key of "
        "CHORUS_FIELD_KEYS. Put the new key first, run this, then remove the old key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        for what, n in field_keys_rotate().items():
            self.stdout.write(f"{what}: {n} re-encrypted")
