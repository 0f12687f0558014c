"""Celery tasks: each takes a job id and calls a service."""

from celery import shared_task

from .services import exports, purge


@shared_task(name="participants.participant_purge")
def participant_purge(job_id: int) -> None:
    purge.participant_purge_run(job_id=job_id)


@shared_task(name="participants.participants_export")
def participants_export(job_id: int) -> None:
    exports.participants_export_run(job_id=job_id)
