from celery import shared_task


@shared_task(name="matrices.compute")
def matrix_compute_task(job_id: int) -> None:
    from analysis.matrices.services import matrix_compute_run

    matrix_compute_run(job_id=job_id)
