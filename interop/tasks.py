from celery import shared_task

from interop.services import exports, imports


@shared_task(name="interop.project_import")
def project_import_task(job_id: int) -> None:
    imports.project_import_run(job_id=job_id)


@shared_task(name="interop.project_export")
def project_export_task(job_id: int) -> None:
    exports.project_export_run(job_id=job_id)
