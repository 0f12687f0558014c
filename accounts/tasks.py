from celery import shared_task

from . import exports


@shared_task(name="accounts.audit_export")
def audit_export(job_id: int) -> None:
    exports.audit_export_run(job_id=job_id)
