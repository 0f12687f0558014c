from celery import shared_task


@shared_task(name="matrices.compute")
def matrix_compute_task(job_id: int) -> None:
    from analysis.matrices.services import matrix_compute_run

    matrix_compute_run(job_id=job_id)


@shared_task(name="matrices.framework_export")
def framework_export_task(job_id: int) -> None:
    from analysis.matrices.framework.services import framework_export_run

    framework_export_run(job_id=job_id)
