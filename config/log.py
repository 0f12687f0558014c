"""Logging filters."""

from __future__ import annotations

import logging


class NoTracebackForClientErrors(logging.Filter):
    """A 4xx is the client's mistake or a refusal working as designed (403, 404): one line saying what
    was asked, not a stack trace that buries real failures and fills the disk (Django attaches the
    exception to every 403 record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
