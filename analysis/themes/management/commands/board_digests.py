"""Send the theme board's e-mail digests (run it from cron, e.g. daily; see docs/themes.md)."""

from typing import Any

from django.core.management.base import BaseCommand

from analysis.themes.services.board import board_digests_send


class Command(BaseCommand):
    help = "E-mail each member who asked for it what is new on the theme board since their last digest."

    def handle(self, *args: Any, **opts: Any) -> None:
        sent = board_digests_send()
        self.stdout.write(f"{sent} digest{'s' if sent != 1 else ''} sent.")
