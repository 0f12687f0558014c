"""Celery tasks: each takes a job id and calls its service."""

from celery import shared_task

from analysis.matrices.framework.services import framework_export_run
from analysis.matrices.services import matrix_compute_run


@shared_task(name="matrices.compute")
def matrix_compute_task(job_id: int) -> None:
    matrix_compute_run(job_id=job_id)


@shared_task(name="matrices.framework_export")
def framework_export_task(job_id: int) -> None:
    framework_export_run(job_id=job_id)
