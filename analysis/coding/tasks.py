"""Celery tasks: each takes a job id and calls its service."""

from celery import shared_task

from analysis.coding.services.assignments import agreement_report_run
from analysis.coding.services.exports import coded_export_run


@shared_task(name="coding.agreement_report")
def agreement_report_task(job_id: int) -> None:
    agreement_report_run(job_id=job_id)


@shared_task(name="coding.coded_export")
def coded_export_task(job_id: int) -> None:
    coded_export_run(job_id=job_id)
