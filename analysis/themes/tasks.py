"""Celery tasks: each takes a job id (or nothing, for beat) and calls its service."""

from celery import shared_task

from analysis.themes.services.board import board_digests_send
from analysis.themes.services.reports import themes_report_run


@shared_task(name="themes.report")
def themes_report_task(job_id: int) -> None:
    themes_report_run(job_id=job_id)


@shared_task(name="themes.board_digests")
def board_digests_task() -> int:
    """Sent daily by Celery beat (``CELERY_BEAT_SCHEDULE["board-digests"]``); also ``manage.py board_digests``."""
    return board_digests_send()
